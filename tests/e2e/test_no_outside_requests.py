"""Nothing leaves the machine when the dashboard loads: no page icon, font, script or usage
beacon from another host. An offline or strict-CSP install would show broken icons, and
every visit would be announced to a third party."""

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page, Request, Route, expect

from tests.e2e import ui_dashboard as ui
from tests.utils.e2e_stack import CHROMIUM, Login, Stack, chromium_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason=f"no Chromium at {CHROMIUM}"),
]

ADMIN = Login("offline-admin", "offline-admin-pass-1", "admin")
# Inline resources never reach a network.
LOCAL_SCHEMES = {"data", "blob", "about"}
# Every address the document points the browser at for something to load or show.
RESOURCE_URLS = """() => Array.from(
    document.querySelectorAll("link[href], script[src], img[src], iframe[src], source[src]"),
    (element) => element.href || element.src,
)"""

# The titles of the navigation's links, without the names of their icons.
NAV_TITLES = """() => Array.from(
    document.querySelectorAll("[data-testid=stSidebarNavLink]"),
    (link) => link.querySelector("span[label]").getAttribute("label"),
)"""


def _outside(url: str, origin: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return False
    return f"{parts.scheme}://{parts.netloc}" != origin


def _show_every_link(page: Page) -> None:
    """Streamlit folds a long navigation behind "View N more"."""
    more = ui.sidebar(page).get_by_test_id("stSidebarNavViewButton")
    if more.count() and more.inner_text().startswith("View ") and "less" not in more.inner_text():
        more.click()


def test_every_page_loads_only_from_the_apps_own_host(
    stack: Stack, context: BrowserContext, page: Page
) -> None:
    stack.linkpay_desk(
        "create-user", ADMIN.username, "--role", ADMIN.role, "--password-stdin",
        stdin=f"{ADMIN.password}\n",
    )  # fmt: skip
    split = urlsplit(stack.dashboard_url)
    origin = f"{split.scheme}://{split.netloc}"
    outside: list[str] = []

    # Refused as well as recorded, so the test itself leaks nothing either.
    def refuse_outside(route: Route, request: Request) -> None:
        if _outside(request.url, origin):
            outside.append(request.url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", refuse_outside)
    # Routes do not see WebSockets; Streamlit's own must go to the app's host too.
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))

    def check(where: str) -> None:
        ui.app_idle(page)
        pointed = [url for url in page.evaluate(RESOURCE_URLS) if _outside(url, origin)]
        other_sockets = [url for url in sockets if _outside(url.replace("ws", "http", 1), origin)]
        found = outside + pointed + other_sockets
        assert not found, f"{where}: loads from other hosts: {found}"

    page.goto(stack.dashboard_url)
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    check("login page")
    ui.login(page, stack, ADMIN)
    _show_every_link(page)
    titles = page.evaluate(NAV_TITLES)
    assert "Audit log" in titles, titles
    for title in titles:
        _show_every_link(page)
        ui.open_page(page, title)
        expect(ui.main(page).get_by_role("heading", level=1).first).to_be_visible()
        check(title)
