"""Streamlit's own words in the reader's language: what its widgets draw themselves.

Streamlit writes some texts of its widgets in English whatever the page says: the file
uploader's button and size line, "Press Enter to apply" under a text input, the element
toolbar's tooltips over a table, the "Stop" button while a page runs, the skip link, the
empty year of a date field and the date picker's keyboard hint. No widget parameter
changes them, so for a reader of another language one small style sheet, added once per
page run, hides each English text and shows the translation in its place (CSS
``content``). It relies only on Streamlit's ``data-testid`` attributes (and, for the
toolbar's tooltips, on the English button labels they belong to); if a Streamlit upgrade
changes them, the English comes back and tests/e2e/test_streamlit_words.py says where.

Hidden with ``visibility: hidden`` and ``font-size: 0``, not removed: the element keeps
working (the Stop button still stops) while only its translated ``::after`` is drawn.

What a style sheet cannot change stays English: labels only a screen reader announces
(``aria-label``) and the calendar's month and weekday names, which follow the browser's
language.
"""

import json
from functools import cache
from typing import Any

import streamlit as st

from dashboard.i18n import ENGLISH, language, t, text_in

# The size each replaced text is drawn at: its element's own is set to 0 to hide the English.
_SMALL = "0.875rem"
_NORMAL = "1rem"

# The element toolbar's buttons over a table: their label (English, the aria-label the
# tooltip belongs to) and the tooltip's words.
_TOOLBAR_TOOLTIPS = (
    "Show/hide columns",
    "Download as CSV",
    "Search",
    "Fullscreen",
    "Close fullscreen",
)
_TOOLTIP = '[data-testid="stTooltipContent"] [data-testid="stMarkdownContainer"]'


def _css_text(text: str) -> str:
    # A JSON string is a valid CSS string: quotes and backslashes escaped alike.
    return json.dumps(text, ensure_ascii=False)


def _replaced(selector: str, text: str, *, size: str) -> str:
    return (
        f"{selector}{{visibility:hidden;font-size:0}}"
        f"{selector}::after{{visibility:visible;font-size:{size};content:{_css_text(text)}}}"
    )


def _tooltip(label: str, code: str) -> str:
    # The tooltip is drawn apart from its button, so it is found through the hovered one.
    button = (
        f'[data-testid="stElementToolbarButton"] button:is([aria-label="{label}"],'
        f'[aria-label^="{label}: "]):is(:hover,:focus-visible)'
    )
    return _replaced(f"body:has({button}) {_TOOLTIP} p", text_in(code, label), size=_SMALL)


@cache
def style_sheet(code: str) -> str:
    """The style sheet for the language ``code`` (made once per language)."""
    instructions = '[data-testid="InputInstructions"]'
    rules = [
        _replaced(
            '[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p',
            text_in(code, "Upload"),
            size=_NORMAL,
        ),
        # The instruction is the first line; a character counter may follow it.
        f"{instructions}>span:first-child{{display:none}}",
        f"{instructions}::before{{content:{_css_text(text_in(code, 'Press Enter to apply'))}}}",
        f'[data-testid="stForm"] {instructions}::before'
        f"{{content:{_css_text(text_in(code, 'Press Enter to submit form'))}}}",
        f'[data-testid="stTextArea"] {instructions}::before'
        f"{{content:{_css_text(text_in(code, 'Press Ctrl+Enter to apply'))}}}",
        f'[data-testid="stForm"] [data-testid="stTextArea"] {instructions}::before'
        f"{{content:{_css_text(text_in(code, 'Press Ctrl+Enter to submit form'))}}}",
        _replaced(
            '[data-testid="stSkipToContent"]', text_in(code, "Skip to main content"), size=_NORMAL
        ),
        _replaced('[data-testid="stStatusWidget"] button', text_in(code, "Stop"), size=_SMALL),
        _replaced(
            '[data-testid="stDateInputField"] [data-type="year"][data-placeholder="true"]',
            text_in(code, "yyyy"),
            size=_NORMAL,
        ),
        _replaced(
            '[data-testid="stDateInputCalendar"]>span:first-child',
            text_in(code, "Use arrow keys to navigate dates. Enter to select. Escape to close."),
            size=_SMALL,
        ),
        *(_tooltip(label, code) for label in _TOOLBAR_TOOLTIPS),
    ]
    return "".join(rules)


def add_style_sheet() -> None:
    """Once per page run, for a reader of any language but English."""
    code = language()
    if code != ENGLISH:
        st.html(f"<style>{style_sheet(code)}</style>")


def file_uploader(label: str, *, type: list[str], key: str, **options: Any) -> Any:
    """``st.file_uploader`` whose size and type line ("200MB per file • XML") is in the
    reader's language: the line differs per uploader, so its rule comes with it."""
    uploaded = st.file_uploader(label, type=type, key=key, **options)
    if language() != ENGLISH:
        size = options.get("max_upload_size") or st.get_option("server.maxUploadSize")
        line = " • ".join([t("{size} MB per file", size=size), ", ".join(type).upper()])
        line_selector = f'.st-key-{key} [data-testid="stFileUploaderDropzoneInstructions"] span'
        st.html(f"<style>{_replaced(line_selector, line, size=_SMALL)}</style>")
    return uploaded
