"""The dashboard in a real browser, against the floor app, in one run (scenario 8).

Starts the dashboard exactly as ``linkpay-desk dashboard`` does (the launcher's command) and
``benchmarks/floor_app.py`` with the same server flags, drives both with Playwright in
Debian's Chromium, and prints a JSON summary: every time is from the user's action (a
navigation, a click, Enter in a search box) until Streamlit says its script run is over and
the page's content is on screen — what a person waits for.

- first load: a new browser context opens the address until the login form (dashboard), the
  first table (floor) or the floor's bare sign-in form is ready;
- sign-in: the credentials typed at a person's pace (``TYPING_DELAY_MS`` a key), then from the
  click on Log in until the signed-in page is idle and the browser holds its sign-in cookie;
- page switches: each sidebar page is visited ``ROUNDS`` times in turn; the first visit is
  "cold" (the server's data caches are empty for that page), the median of the others
  "warm". The floor's figure is the median switch between its two pages;
- list actions on Invoices: search by customer, filter by number, next page;
- on Reports (timed as it opens, with the money received, among the page switches): switching
  to the sales ledger.

``--language lv`` signs the benchmark user in with Latvian chosen (set in the database
before the browser starts) and finds every page and control by its label in the Latvian
catalogue, so the same clicks are timed in both languages. ``--framework-defaults`` starts
the dashboard with Streamlit's own ``runner.postScriptGC`` and ``server.fileWatcherType``
instead of the launcher's (the B side of the A/B of the per-click overhead); the floor app
keeps the launcher's flags so both sides are compared to the same floor.

Usage (environment as for the product):
``python -m benchmarks.browser_worker [--language lv] [--framework-defaults]``
"""

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from sqlmodel import select
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from benchmarks.common import PROJECT_ROOT, child, free_port
from benchmarks.generate import BENCH_USERS
from dashboard.i18n import LANGUAGE_NAMES, text_in
from shared.config import get_settings
from shared.db import read_session, write_session
from shared.login_sessions import COOKIE_NAME
from shared.models import User
from shared.operations.launcher import services
from shared.users import set_user_language

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
ROUNDS = 5
FIRST_LOADS = 5
# A fast typist's pace (about 100 words a minute): the login form fetches the signed-in pages'
# code while the user types, so typing at machine speed would time a sign-in nobody makes.
TYPING_DELAY_MS = 120
TIMEOUT_MS = 120_000
# Streamlit's own values of the two settings the launcher changes (the B side of the A/B).
FRAMEWORK_DEFAULTS = {"--runner.postScriptGC": "true", "--server.fileWatcherType": "auto"}
# Sidebar pages measured, in the router's order; pages a build does not have are skipped.
PAGES = (
    "Overview", "Bank accounts", "Bank statements", "Customers", "Invoices", "Outbox",
    "Payments", "Callbacks", "Exceptions", "Reports", "Company", "Numbering", "Users", "Audit log",
)  # fmt: skip


def _idle(page: Page) -> None:
    expect(page.get_by_test_id("stApp")).not_to_have_attribute(
        "data-test-script-state", "running", timeout=TIMEOUT_MS
    )


class ScriptRuns:
    """Counts the script runs a page's server has finished, from its WebSocket messages.

    Streamlit ends every run with a ``script_finished`` message; the page's
    ``data-test-script-state`` attribute is no substitute: a fast run of a page switch can
    start and end without the attribute ever changing.
    """

    def __init__(self, page: Page) -> None:
        self.finished = 0
        page.on("websocket", lambda socket: socket.on("framereceived", self._frame))

    def _frame(self, payload: bytes | str) -> None:
        if not isinstance(payload, bytes):
            return
        if ForwardMsg.FromString(payload).WhichOneof("type") == "script_finished":
            self.finished += 1


@dataclass
class Tab:
    page: Page
    runs: ScriptRuns

    def after_next_run(self, action: Callable[[], None]) -> None:
        """Does ``action`` and returns when the script run it causes has finished."""
        before = self.runs.finished
        action()
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while self.runs.finished <= before:
            if time.monotonic() > deadline:
                raise TimeoutError("no script run finished after the action")
            self.page.wait_for_timeout(2)  # lets Playwright deliver the WebSocket events
        _idle(self.page)


@contextmanager
def _tab(browser: Browser) -> Iterator[Tab]:
    """A page in a new browser context: no cookies, no cache, as a new visitor."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        yield Tab(page, ScriptRuns(page))
    finally:
        context.close()


def _ms(action: Callable[[], None]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def _dashboard_command(port: int) -> list[str]:
    os.environ["LINKPAY_DASHBOARD_PORT"] = str(port)
    os.environ["LINKPAY_DASHBOARD_HOST"] = "127.0.0.1"
    get_settings.cache_clear()
    (dashboard,) = [
        s for s in services(get_settings(), with_demo_smtp=False) if s.name == "dashboard"
    ]
    return dashboard.command


def _with_framework_defaults(command: list[str]) -> list[str]:
    """The launcher's command with Streamlit's defaults for the settings it turns off."""
    changed = list(command)
    for flag, value in FRAMEWORK_DEFAULTS.items():
        if flag not in changed:
            raise RuntimeError(f"the launcher no longer passes {flag}: {command}")
        changed[changed.index(flag) + 1] = value
    return changed


def _floor_command(dashboard_command: list[str], port: int) -> list[str]:
    """The dashboard's command with the floor app's script and port: the same flags."""
    dashboard_dir = str(PROJECT_ROOT / "dashboard")
    floor = str(PROJECT_ROOT / "benchmarks" / "floor_app.py")
    command = [
        floor if arg.startswith(dashboard_dir) and arg.endswith(".py") else arg
        for arg in dashboard_command
    ]
    if floor not in command:
        raise RuntimeError(f"no dashboard script in the launcher's command: {dashboard_command}")
    at = command.index("--server.port")
    command[at + 1] = str(port)
    return command


def _first_loads(
    browser: Browser, url: str, ready: Callable[[Page], None], *, count: int = FIRST_LOADS
) -> list[float]:
    times = []
    for _ in range(count):
        with _tab(browser) as tab:

            def load(page: Page = tab.page) -> None:
                page.goto(url)
                ready(page)

            times.append(_ms(load))
    return times


def _login_form_ready(page: Page) -> None:
    expect(page.get_by_label("Password", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    _idle(page)


def _floor_ready(page: Page) -> None:
    expect(page.get_by_test_id("stDataFrame")).to_be_visible(timeout=TIMEOUT_MS)
    _idle(page)


def _switch(tab: Tab, title: str) -> None:
    link = tab.page.get_by_test_id("stSidebar").get_by_role("link", name=title, exact=True)
    tab.after_next_run(link.click)
    expect(link).to_have_attribute("aria-current", "page", timeout=TIMEOUT_MS)


def _floor_switches(browser: Browser, url: str) -> list[float]:
    times = []
    with _tab(browser) as tab:
        tab.page.goto(url)
        _floor_ready(tab.page)
        for _ in range(ROUNDS * 2):
            for title in ("Floor two", "Floor one"):
                times.append(_ms(lambda title=title: _switch(tab, title)))
    return times


def _admin() -> tuple[str, str]:
    username, password, _role = next(u for u in BENCH_USERS if u[2] == "admin")
    return username, password


def _choose_language(language: str) -> str | None:
    """Sets the benchmark admin's dashboard language; returns the one it had."""
    username, _password = _admin()
    with read_session() as session:
        user = session.exec(select(User).where(User.username == username)).one()
    with write_session() as session:
        set_user_language(session, user_id=user.id, language=language)
    return user.language


def _restore_language(previous: str | None) -> None:
    username, _password = _admin()
    with read_session() as session:
        user_id = session.exec(select(User.id).where(User.username == username)).one()
    with write_session() as session:
        set_user_language(session, user_id=user_id, language=previous)


def _log_in(tab: Tab, url: str, language: str) -> float:
    """Signs the benchmark admin in; returns the ms from the click on Log in until the
    signed-in page is idle and the browser holds the sign-in cookie (a reload or a new tab
    is signed in from then on)."""
    # The login form speaks the company's language (English in the benchmark data): the user's
    # choice applies once they are signed in.
    username, password = _admin()
    page = tab.page
    page.goto(url)
    _login_form_ready(page)
    page.get_by_label("Username", exact=True).press_sequentially(username, delay=TYPING_DELAY_MS)
    page.get_by_label("Password", exact=True).press_sequentially(password, delay=TYPING_DELAY_MS)
    started = time.perf_counter()
    page.get_by_role("button", name="Log in").click()
    greeting = text_in(
        language,
        "Signed in as **{username}** ({role})",
        username=username,
        role=text_in(language, "admin"),
    ).replace("**", "")
    signed_in = page.get_by_test_id("stSidebar").get_by_text(greeting)
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not any(cookie["name"] == COOKIE_NAME for cookie in page.context.cookies()):
        if time.monotonic() > deadline:
            raise TimeoutError("the browser never got the sign-in cookie")
        page.wait_for_timeout(5)
    expect(signed_in).to_be_visible(timeout=TIMEOUT_MS)
    _idle(page)
    return (time.perf_counter() - started) * 1000


def _page_switches(tab: Tab, language: str) -> dict[str, list[float]]:
    """Times per page, keyed by the English page name so that languages line up."""
    sidebar = tab.page.get_by_test_id("stSidebar")
    shown = {name: text_in(language, name) for name in PAGES}
    # The sign-in greeting can be on screen before the navigation, and a busy browser shows
    # the navigation's first pages before its last: count the pages once the admin's last
    # one (Audit log) is there.
    last = sidebar.get_by_role("link", name=shown[PAGES[-1]], exact=True)
    expect(last).to_be_visible(timeout=TIMEOUT_MS)
    present = [n for n in PAGES if sidebar.get_by_role("link", name=shown[n], exact=True).count()]
    # Overview is where the login lands (that run filled its caches): leave it first so
    # that its first measured visit is a switch like the others'.
    _switch(tab, shown[present[-1]])
    times: dict[str, list[float]] = {name: [] for name in present}
    for _ in range(ROUNDS):
        for name in present:
            times[name].append(_ms(lambda title=shown[name]: _switch(tab, title)))
    return times


def _enter(tab: Tab, label: str, text: str) -> None:
    field = tab.page.get_by_test_id("stMain").get_by_label(label, exact=True)
    field.fill(text)
    tab.after_next_run(lambda: field.press("Enter"))


def _click(tab: Tab, button: str) -> None:
    found = tab.page.get_by_test_id("stMain").get_by_role("button", name=button, exact=True)
    tab.after_next_run(found.click)


def _list_actions(tab: Tab, language: str) -> dict[str, list[float]]:
    customer, number = text_in(language, "Customer"), text_in(language, "Number")
    next_page = text_in(language, "Next")
    _switch(tab, text_in(language, "Invoices"))
    times: dict[str, list[float]] = {"search customer": [], "filter number": [], "next page": []}
    for round_ in range(ROUNDS):
        times["search customer"].append(_ms(lambda: _enter(tab, customer, "a")))
        _enter(tab, customer, "")
        times["filter number"].append(_ms(lambda r=round_: _enter(tab, number, f"00{r + 1}")))
        _enter(tab, number, "")
        times["next page"].append(_ms(lambda: _click(tab, next_page)))
    return times


def _report_actions(tab: Tab, language: str) -> dict[str, list[float]]:
    """Reports opens with the money received; the accountant's sales ledger is one click."""
    _switch(tab, text_in(language, "Reports"))
    picker = tab.page.get_by_test_id("stMain").locator(".st-key-rep_report")

    def report(name: str) -> Locator:
        return picker.get_by_role("radio", name=text_in(language, name), exact=True)

    ledger, received = report("Sales ledger"), report("Received per period and channel")
    times: dict[str, list[float]] = {"Reports: sales ledger": []}
    for _ in range(ROUNDS):
        times["Reports: sales ledger"].append(_ms(lambda: tab.after_next_run(ledger.click)))
        tab.after_next_run(received.click)
    return times


def measure(*, language: str = "en", framework_defaults: bool = False) -> dict:
    dashboard_port, floor_port = free_port(), free_port()
    launcher_command = _dashboard_command(dashboard_port)
    floor_command = _floor_command(launcher_command, floor_port)
    dashboard_command = (
        _with_framework_defaults(launcher_command) if framework_defaults else launcher_command
    )
    env = dict(os.environ)
    dashboard_url = f"http://127.0.0.1:{dashboard_port}"
    floor_url = f"http://127.0.0.1:{floor_port}"
    previous_language = _choose_language(language)
    load_before = os.getloadavg()
    with (
        child("browser-dashboard", dashboard_command, env=env,
              health_url=f"{dashboard_url}/_stcore/health"),
        child("browser-floor", floor_command, env=env, health_url=f"{floor_url}/_stcore/health"),
        sync_playwright() as playwright,
    ):  # fmt: skip
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # The very first visit after a start is reported on its own: it imports the pages.
        (very_first,) = _first_loads(browser, dashboard_url, _login_form_ready, count=1)
        floor_first = _first_loads(browser, floor_url, _floor_ready)
        floor_sign_in = _first_loads(browser, f"{floor_url}/?floor=sign-in", _login_form_ready)
        dashboard_first = _first_loads(browser, dashboard_url, _login_form_ready)
        floor_switch = _floor_switches(browser, floor_url)
        with _tab(browser) as tab:
            sign_in = _log_in(tab, dashboard_url, language)
            switches = _page_switches(tab, language)
            actions = _list_actions(tab, language)
            report_actions = _report_actions(tab, language)
        browser.close()
    _restore_language(previous_language)
    return {
        "language": language,
        "framework_defaults": framework_defaults,
        "load_average": [load_before, os.getloadavg()],
        "very_first_load_ms": very_first,
        "first_load_ms": {
            "dashboard": dashboard_first,
            "floor": floor_first,
            "floor_sign_in": floor_sign_in,
        },
        "floor_switch_ms": floor_switch,
        "sign_in_ms": sign_in,
        "page_switch_ms": switches,
        "list_action_ms": actions,
        "report_action_ms": report_actions,
    }


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.browser_worker")
    parser.add_argument("--language", choices=sorted(LANGUAGE_NAMES), default="en")
    parser.add_argument(
        "--framework-defaults",
        action="store_true",
        help="start the dashboard with runner.postScriptGC=true and fileWatcherType=auto",
    )
    return parser.parse_args()


if __name__ == "__main__":
    args = _parse_args()
    summary = measure(language=args.language, framework_defaults=args.framework_defaults)
    sys.stdout.write(json.dumps(summary) + "\n")
