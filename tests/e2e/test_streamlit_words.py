"""No English in the Latvian dashboard, Streamlit's own words included.

The texts a page writes go through ``t()`` and are checked without a browser
(tests/dashboard/test_latvian_ui.py). What that cannot see are the words Streamlit's widgets
draw themselves: the uploader's button and size line, "Press Enter to apply", the element
toolbar's tooltips, the skip link, the empty date field and the calendar's hint. This test
signs in as a Latvian-speaking admin, visits every page of the navigation and an invoice,
opens a date picker, types into a text input (outside and inside a form), hovers each
button of a table's toolbar, and reads what a person sees: the visible text, what the page
draws with CSS ``content``, placeholders of empty fields, titles, tooltips and the labels a
screen reader announces. Any of Streamlit's English phrases below fails the test, naming
the page and the phrase. The same visit in English must meet every phrase, or the test
would prove nothing.

The phrases are Streamlit 1.67's own, as its frontend bundle writes them
(streamlit/static/static/js: FileUploader, InputInstructions, index, DateInput, DataFrame).
"""

import re
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlmodel import select

from dashboard.i18n import text_in
from shared.db import write_session
from shared.models import User
from shared.users import set_user_language
from tests.e2e import seed
from tests.e2e import ui_dashboard as ui
from tests.utils.e2e_stack import CHROMIUM, Login, Stack, chromium_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason=f"no Chromium at {CHROMIUM}"),
]

READER = Login("words-admin", "words-admin-pass-1", "admin")


@dataclass(frozen=True)
class Phrase:
    """One of Streamlit's English texts: how it is found, and the English key (in the PO
    files) of the Latvian shown in its place."""

    pattern: str
    latvian_of: str

    def found_in(self, text: str) -> bool:
        return re.search(rf"(?<![A-Za-z]){self.pattern}(?![A-Za-z])", text) is not None


BUILT_IN_ENGLISH = (
    # FileUploader: the dropzone's button and its "200MB per file • XML" line.
    Phrase("Upload", "Upload"),
    Phrase("per file", "{size} MB per file"),
    # InputInstructions under a field that has been typed in: "apply", in a form "submit
    # form"; a text area's key is "Ctrl+Enter", "⌘+Enter" on a Mac. (A text area outside a
    # form, "Press Ctrl+Enter to apply", has its rule too, not visited here.)
    Phrase("Press Enter to apply", "Press Enter to apply"),
    Phrase("Press Enter to submit form", "Press Enter to submit form"),
    Phrase(r"Press (?:Ctrl|⌘)\+Enter to submit form", "Press Ctrl+Enter to submit form"),
    # The skip link keyboard users meet first.
    Phrase("Skip to main content", "Skip to main content"),
    # DateInput: an empty date field's year, and the open calendar's keyboard hint. Not
    # listed: the calendar's month and weekday names ("December", "M T W"): Streamlit
    # writes them in the browser's language (navigator.language), which no parameter or
    # style sheet of the app changes; a browser set to Latvian shows them in Latvian.
    Phrase("yyyy", "yyyy"),
    Phrase(
        re.escape("Use arrow keys to navigate dates. Enter to select. Escape to close."),
        "Use arrow keys to navigate dates. Enter to select. Escape to close.",
    ),
    # DataFrame: the element toolbar's tooltips.
    Phrase("Show/hide columns", "Show/hide columns"),
    Phrase("Download as CSV", "Download as CSV"),
    Phrase("Search", "Search"),
    Phrase("Fullscreen", "Fullscreen"),
    Phrase("Close fullscreen", "Close fullscreen"),
    # Selectbox without a choice yet: the app gives its own placeholder.
    Phrase("Choose an option", "Choose an option"),
)
# Gone in every language since the dashboard runs with client.toolbarMode = "minimal":
# the Deploy button and the main menu of Streamlit's own options.
GONE_BY_CONFIGURATION = ("Deploy", "Rerun", "Clear cache", "Record screen", "Print")
# Labels a screen reader announces but nobody sees: an attribute, which no parameter sets
# and a style sheet cannot change. The toolbar buttons' tooltips, which people do see,
# are translated.
ANNOUNCED_ONLY = {
    "Show/hide columns",
    "Download as CSV",
    "Search",
    "Fullscreen",
    "Close fullscreen",
}

# What a person sees of the page, by where it comes from: the visible text, the texts the
# page draws with CSS (::before / ::after), placeholders of empty fields, titles, tooltips,
# and aria-labels.
SEEN = """() => {
    const seen = [];
    const add = (kind, text) => { if (text && text.trim()) seen.push([kind, text.trim()]); };
    for (const line of document.body.innerText.split("\\n")) add("text", line);
    for (const element of document.body.querySelectorAll("*")) {
        if (!element.checkVisibility()) continue;
        for (const pseudo of ["::before", "::after"]) {
            const style = getComputedStyle(element, pseudo);
            if (style.visibility === "visible" && style.content.startsWith('"')) {
                add("drawn", JSON.parse(style.content));
            }
        }
        if (!element.checkVisibility({visibilityProperty: true})) continue;
        if (element.placeholder !== undefined && !element.value) {
            add("placeholder", element.getAttribute("placeholder"));
        }
        add("title", element.getAttribute("title"));
        add("aria-label", element.getAttribute("aria-label"));
    }
    return seen;
}"""

# The Latvian style sheet is an element of the page run like any other, drawn by code the
# browser may still be fetching when the heading shows after a page load.
STYLE_SHEET_APPLIED = """() => Array.from(document.querySelectorAll("style")).some(
    (style) => style.textContent.includes("stSkipToContent"),
)"""

NAV_LINKS = """() => Array.from(
    document.querySelectorAll("[data-testid=stSidebarNavLink]"), (link) => link.href,
)"""


class Visit:
    """What was seen where, page by page."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.seen: list[tuple[str, str, str]] = []  # (where, kind, text)

    def look(self, where: str) -> None:
        ui.app_idle(self.page)
        self.seen += [(where, kind, text) for kind, text in self.page.evaluate(SEEN)]

    def english(self) -> list[str]:
        found = []
        for where, kind, text in self.seen:
            for phrase in BUILT_IN_ENGLISH:
                if kind == "aria-label" and phrase.latvian_of in ANNOUNCED_ONLY:
                    continue
                if phrase.found_in(text):
                    found.append(f"{where}: {phrase.pattern!r} in {kind} {text!r}")
        return sorted(set(found))

    def met(self, phrase: Phrase) -> bool:
        return any(phrase.found_in(text) for _, kind, text in self.seen if kind != "aria-label")

    def shown(self) -> str:
        """Everything seen but the announced labels, in one string."""
        return " | ".join({text for _, kind, text in self.seen if kind != "aria-label"})

    def texts(self) -> set[str]:
        return {text for _, kind, text in self.seen if kind == "text"}


@pytest.fixture(params=["lv", "en"], ids=["latvian", "english"])
def reader_language(request: pytest.FixtureRequest, stack_settings: Stack) -> Iterator[str]:
    with write_session() as session:
        reader = session.exec(select(User).where(User.username == READER.username)).first()
    if reader is None:
        stack_settings.linkpay_desk(
            "create-user", READER.username, "--role", READER.role, "--password-stdin",
            stdin=f"{READER.password}\n",
        )  # fmt: skip
    with write_session() as session:
        reader = session.exec(select(User).where(User.username == READER.username)).one()
        set_user_language(session, user_id=reader.id, language=request.param)
    ui.speak(request.param)
    yield request.param
    ui.speak("en")


def _type_without_enter(visit: Visit, where: str, field_label: str) -> None:
    field = ui.main(visit.page).get_by_label(ui.say(field_label), exact=True).first
    widget = field.locator(
        "xpath=ancestor::*[@data-testid='stTextInput' or @data-testid='stTextArea'][1]"
    )
    field.click()
    field.press_sequentially("INV")
    expect(widget.get_by_test_id("InputInstructions")).to_be_attached()
    visit.look(where)
    field.fill("")
    field.press("Escape")


def _hover_toolbar(visit: Visit, where: str) -> None:
    """Each button of the first table's toolbar until its tooltip shows, in and out of
    full screen."""
    page = visit.page
    table = ui.main(page).get_by_test_id("stDataFrame").first
    buttons = page.get_by_test_id("stElementToolbarButton").locator("button")
    table.hover()
    expect(buttons.first).to_be_visible()
    for number in range(buttons.count()):
        table.hover()
        buttons.nth(number).hover()
        expect(page.get_by_test_id("stTooltipContent")).to_be_visible()
        visit.look(f"{where}, toolbar button {number + 1}")
    buttons.last.click()
    page.mouse.move(0, 0)
    buttons.last.hover()
    expect(page.get_by_test_id("stTooltipContent")).to_be_visible()
    visit.look(f"{where}, full screen")
    buttons.last.click()
    page.mouse.move(0, 0)


def test_no_english_from_streamlit_widgets_in_the_latvian_dashboard(
    reader_language: str, stack_settings: Stack, page: Page
) -> None:
    channel = seed.linkpay_channel(stack_settings, merchant_name="Vārdu Pārbaude SIA")
    invoice = seed.issued_invoice(
        channel_id=channel.channel_id,
        customer_name="Vārdu Klients SIA",
        customer_email="vardi@example.com",
    )
    visit = Visit(page)
    ui.login(page, stack_settings, READER)
    links = page.evaluate(NAV_LINKS)
    assert any(link.endswith("/audit_log") for link in links), links
    for link in links:
        name = link.rsplit("/", 1)[-1] or "overview"
        page.goto(link)
        expect(ui.main(page).get_by_role("heading", level=1).first).to_be_visible()
        if name == "customers":
            # The pick-list under the table is the page's last element: look once it is drawn.
            expect(ui.main(page).get_by_test_id("stSelectbox").first).to_be_visible()
        # A page draws its elements one after another: look at the whole of it.
        ui.app_idle(page)
        if reader_language != "en":
            with suppress(PlaywrightTimeoutError):  # none at all: the phrases below say so
                page.wait_for_function(STYLE_SHEET_APPLIED, timeout=10_000)
        visit.look(name)
        if name == "invoices":
            _type_without_enter(visit, "invoices, typing a number", "Number")
            page.get_by_test_id("stDateInputCalendarButton").first.click()
            expect(page.get_by_test_id("stDateInputCalendar")).to_be_visible()
            visit.look("invoices, date picker open")
            page.keyboard.press("Escape")
        elif name == "company":
            _type_without_enter(visit, "company, typing in the form", "Name")
            _type_without_enter(visit, "company, typing an address", "Legal address")
        elif name == "numbering":
            _hover_toolbar(visit, name)
        elif name == "bank_statements":
            expect(ui.main(page).get_by_test_id("stFileUploaderDropzone")).to_be_visible()

    page.goto(f"{stack_settings.dashboard_url}/?invoice={invoice.number}")
    expect(
        ui.main(page).get_by_role("heading", name=ui.say("Invoice {number}", number=invoice.number))
    ).to_be_visible()
    visit.look("invoice page")

    gone = [w for w in GONE_BY_CONFIGURATION if any(w == text for text in visit.texts())]
    assert not gone, f"Streamlit's toolbar or menu shows: {gone}"
    expect(page.get_by_test_id("stMainMenu")).to_have_count(0)
    if reader_language == "en":
        # The visit meets every phrase it looks for: else its silence in Latvian means nothing.
        unmet = [phrase.pattern for phrase in BUILT_IN_ENGLISH if not visit.met(phrase)]
        assert not unmet, f"the English visit never met: {unmet}"
        return
    english = visit.english()
    assert not english, "Streamlit's English in the Latvian dashboard:\n" + "\n".join(english)
    # Hidden English alone would leave a button without a word: its Latvian is shown instead.
    shown = visit.shown()
    keys = [phrase.latvian_of for phrase in BUILT_IN_ENGLISH]
    missing = [key for key in keys if text_in("lv", key).split("{")[0] not in shown]
    assert not missing, f"hidden but not shown in Latvian: {missing}"
