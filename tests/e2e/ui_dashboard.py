"""Driving the Streamlit dashboard like a person: log in, open pages, fill widgets.

Streamlit reruns the script after every interaction, so every helper finishes by waiting
for something the user would see, never for a fixed time. The helpers find pages, fields
and buttons by their English names, read in the language the user chose (``speak``), so
one journey runs in Latvian and in English alike.
"""

import re
import time

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from dashboard.i18n import ENGLISH, text_in
from dashboard.session_routes import SESSION_START_PATH
from tests.utils.e2e_stack import Login, Stack

RETRY_SECONDS = 20.0

# The language the dashboard speaks to the test's user (they pick it in the sidebar).
_language = [ENGLISH]


def speak(code: str) -> None:
    _language[0] = code


def say(text: str, **values: object) -> str:
    """``text`` as the dashboard shows it to the user now."""
    return text_in(_language[0], text, **values)


def say_in_context(context: str, text: str) -> str:
    """``text`` where it has words of its own (``t_context``)."""
    return text_in(_language[0], text, context)


def _either_language(text: str) -> re.Pattern[str]:
    """A login-page text: the login form speaks the company's language, not yet the user's."""
    return re.compile(f"^({re.escape(text)}|{re.escape(text_in('lv', text))})$")


def app_idle(page: Page) -> None:
    """Waits until Streamlit says no script run is in progress.

    Only a complement to waiting for visible content: right after a click the rerun may
    not have started yet.
    """
    expect(page.get_by_test_id("stApp")).not_to_have_attribute("data-test-script-state", "running")


def login(page: Page, stack: Stack, user: Login) -> None:
    """Opens the dashboard signed in as ``user``: through the login form, unless the
    browser is signed in already (another tab of the same context logged in)."""
    page.goto(stack.dashboard_url)
    signed_in = sidebar(page).get_by_text(signed_in_as(user))
    log_in = page.get_by_role("button", name=_either_language("Log in"))
    expect(signed_in.or_(log_in)).to_be_visible()
    if log_in.is_visible():
        submit_login(page, user)
    expect(signed_in).to_be_visible()
    app_idle(page)


def signed_in_as(user: Login) -> str:
    """The sidebar's line naming who is signed in, as the user reads it."""
    line = say("Signed in as **{username}** ({role})", username=user.username, role=say(user.role))
    return line.replace("**", "")


def submit_login(page: Page, user: Login) -> None:
    """Fills and sends the login form, and waits until the browser holds the sign-in
    cookie (the signed-in page fetches it right after the form), so a reload or a new tab
    made next is signed in too."""
    page.get_by_label(_either_language("Username")).fill(user.username)
    page.get_by_label(_either_language("Password")).fill(user.password)
    with page.expect_response(
        lambda response: (
            response.url.endswith(SESSION_START_PATH) and response.request.method == "POST"
        )
    ) as cookie_set:
        page.get_by_role("button", name=_either_language("Log in")).click()
    assert cookie_set.value.ok, f"the sign-in cookie was refused: {cookie_set.value.status}"
    cookie_set.value.finished()


def choose_language(page: Page, code: str) -> None:
    """Picks the dashboard's language in the sidebar; from then on the helpers read it."""
    names = {"lv": "Latviešu", "en": "English"}
    box = sidebar(page).get_by_role("combobox", name=say("Language"), exact=True)
    box.click()
    page.get_by_role("option", name=names[code], exact=True).click()
    speak(code)
    expect(sidebar(page).get_by_role("combobox", name=say("Language"), exact=True)).to_have_value(
        names[code]
    )
    app_idle(page)


def sidebar(page: Page) -> Locator:
    return page.get_by_test_id("stSidebar")


def nav_link(page: Page, title: str) -> Locator:
    return sidebar(page).get_by_role("link", name=say(title), exact=True)


def open_page(page: Page, title: str) -> None:
    """Opens a page from the sidebar navigation and waits for its script to finish."""
    link = nav_link(page, title)
    href = link.get_attribute("href") or ""
    link.click()
    expect(page).to_have_url(re.compile(re.escape(href) + r"(\?.*)?$"))
    expect(link).to_have_attribute("aria-current", "page")
    app_idle(page)


def main(page: Page) -> Locator:
    return page.get_by_test_id("stMain")


def open_report(page: Page, name: str) -> None:
    """On Reports, picks the report ``name`` (its heading) and waits until it is shown."""
    picker = main(page).locator(".st-key-rep_report")
    picker.get_by_role("radio", name=say(name), exact=True).click()
    expect(main(page).get_by_role("heading", name=say(name))).to_be_visible()
    app_idle(page)


def fill(page: Page, label: str, value: str, *, scope: Locator | None = None) -> None:
    """Types into a text input outside a form and commits it with Enter, as Streamlit's
    "Press Enter to apply" asks. (Tab does not commit a password input: focus moves to
    its show-password button inside the same widget, so the input never blurs.)"""
    field = (scope or main(page)).get_by_label(say(label), exact=True)
    field.fill(value)
    field.press("Enter")
    app_idle(page)


def choose(page: Page, label: str, option: str, *, scope: Locator | None = None) -> None:
    """Picks ``option`` in the selectbox labelled ``label``.

    A rerun still under way from the previous input re-draws the selectbox and closes its
    list, so opening it is retried until the option can be clicked.
    """
    option = say(option)
    box = (scope or main(page)).get_by_role("combobox", name=say(label), exact=True)
    wanted = page.get_by_role("option", name=option, exact=True)
    deadline = time.monotonic() + RETRY_SECONDS
    while True:
        app_idle(page)
        box.click()
        try:
            wanted.click(timeout=2_000)
            break
        except PlaywrightTimeoutError:
            if time.monotonic() > deadline:
                raise
            page.keyboard.press("Escape")
    expect(box).to_have_value(option)
    app_idle(page)


def button(page: Page, name: str, *, scope: Locator | None = None) -> Locator:
    return (scope or main(page)).get_by_role("button", name=say(name), exact=True)


def download_link(page: Page, name: str, *, scope: Locator | None = None) -> Locator:
    """An export's Download CSV / Download XLSX: a link the browser saves in the same tab."""
    return (scope or main(page)).get_by_role("link", name=say(name), exact=True)


def tab(page: Page, name: str, *, scope: Locator | None = None) -> Locator:
    return (scope or main(page)).get_by_role("tab", name=say(name), exact=True)


def status_badge(page: Page) -> Locator:
    """The status badge next to an invoice's title (``st.badge``, the page's first)."""
    return main(page).locator(".stMarkdownBadge").first


def open_invoice(page: Page, number: str, *, customer_name: str) -> None:
    """Finds the invoice in the Invoices list by its number and opens its detail page."""
    open_page(page, "Invoices")
    fill(page, "Number", number)
    main(page).get_by_text(say("Open an invoice"), exact=True).click()
    app_idle(page)
    choose(page, "Invoice", f"{number} — {customer_name}")
    button(page, "Open invoice").click()
    expect(
        main(page).get_by_role("heading", name=say("Invoice {number}", number=number))
    ).to_be_visible()
    app_idle(page)
