"""The dashboard's words in each user's language, Latvian or English.

Every text a page shows goes through ``t``: the English sentence is the key, and
``dashboard/locale/lv/*.po`` (gettext PO files, one per area, editable in any PO editor)
hold its Latvian. A text with values keeps them as ``{name}`` places, filled after the
translation, so the translator can move them. Dates and numbers are written the reader's way
with Babel: "30.11.2026" and "1 234,56" in Latvian, "2026-11-30" and "1,234.56" in English.

A text without a Latvian entry shows in English and is noted in ``MISSING``; the tests
render every page in Latvian and fail on any noted text (tests/dashboard/test_latvian_ui.py).
State labels come from shared/states.py, which carries both languages.
"""

import logging
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

import streamlit as st
from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, parse_pattern

from shared.document_format import format_amount
from shared.errors import ValidationError
from shared.money import to_minor
from shared.states import (
    CALLBACK_STATUSES,
    MATCH_STATES,
    PAYMENT_STATES,
    RECEIVED_PAYMENT_STATES,
    REVIEW_KINDS,
    REVIEW_STATUSES,
    SHOWN_INVOICE_STATUSES,
)

logger = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# The choice each user makes, in that language's own words.
LANGUAGE_NAMES = {"lv": "Latviešu", "en": "English"}
ENGLISH = "en"
LANGUAGE_KEY = "ui_language"

# Babel's locale, and the date patterns tables (moment.js) and texts (CLDR) use.
# An amount as shared.money.format_money writes it into a sentence ("1 234.50 EUR", grouped
# with narrow no-break spaces), to be shown as the reader writes amounts.
FORMATTED_AMOUNT = re.compile(
    r"(?P<number>-?[0-9]{1,3}(?:\u202f[0-9]{3})*(?:\.[0-9]+)?) (?P<currency>[A-Z]{3})"
)

_LOCALES = {"lv": "lv_LV", "en": "en_GB"}
_DATE_PATTERNS = {"lv": "dd.MM.yyyy", "en": "yyyy-MM-dd"}
_TABLE_DATE_FORMATS = {"lv": "DD.MM.YYYY", "en": "YYYY-MM-DD"}

# (language, English text) of every text looked up without a translation, for the tests.
MISSING: set[tuple[str, str]] = set()


@cache
def catalogue(language: str) -> Mapping[str, str]:
    """English text → its translation: every PO file of the language, and the state labels."""
    entries: dict[str, str] = {}
    for table in (
        SHOWN_INVOICE_STATUSES,
        PAYMENT_STATES,
        CALLBACK_STATUSES,
        REVIEW_KINDS,
        REVIEW_STATUSES,
        MATCH_STATES,
        RECEIVED_PAYMENT_STATES,
    ):
        for info in table.values():
            entries[info.en] = getattr(info, language)
    for path in sorted((LOCALE_DIR / language).glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=_LOCALES[language]):
                if message.id and message.string and not message.fuzzy:
                    entries[_key(message.context, message.id)] = message.string
    return entries


def language() -> str:
    """The language of this run: the signed-in user's, else the company's."""
    return st.session_state.get(LANGUAGE_KEY, ENGLISH)


def set_language(code: str) -> None:
    st.session_state[LANGUAGE_KEY] = code if code in LANGUAGE_NAMES else ENGLISH


def t(text: str, /, **values: object) -> str:
    """``text`` in the user's language, its ``{name}`` places filled with ``values``."""
    return text_in(language(), text, **values)


def t_context(context: str, text: str, /, **values: object) -> str:
    """``text`` as its entry with ``msgctxt context`` translates it: for the one place
    where the same English needs other words (the channel form's "Save" is "Izmainīt",
    the origin article's button, where every other "Save" is "Saglabāt")."""
    return text_in(language(), text, context, **values)


def _key(context: str | None, text: str) -> str:
    """An entry's key in the catalogue: gettext joins a context to its text with EOT."""
    return f"{context}\x04{text}" if context else text


def text_in(code: str, text: str, context: str | None = None, /, **values: object) -> str:
    """``text`` in the language ``code`` (the browser tests read the pages with it)."""
    shown = text
    if code != ENGLISH and text:
        key = _key(context, text)
        translated = catalogue(code).get(key)
        if translated is None:
            if (code, key) not in MISSING:
                MISSING.add((code, key))
                logger.warning("no %s translation for %r", code, key)
        else:
            shown = translated
    return shown.format(**values) if values else shown


def error_text(error: ValidationError) -> str:
    """A domain error's message in the user's language, with the error's own values.

    A value named ``label`` is an English label the domain was given with the text it checks
    (a form field's name such as "Name", a kind of document such as "invoice", a VAT
    category), so it is translated too; every other value (a number, an amount, a name
    someone typed) is shown as it is.
    """
    return message_text(error.template, error.values)


def message_text(template: str, values: Mapping[str, object]) -> str:
    """An English template with its values in the user's language, as ``error_text``.

    Numbers given as ``Decimal`` and amounts as ``shared.money.format_money`` writes them
    ("999 999.99 EUR") are written the reader's way too ("999 999,99 EUR" in Latvian);
    English keeps the sentence ``str(error)`` has.
    """
    shown = dict(values)
    if isinstance(shown.get("label"), str):
        shown["label"] = t(shown["label"])
    if language() != ENGLISH:
        for name, value in shown.items():
            if isinstance(value, Decimal):
                shown[name] = number_text(value)
            elif isinstance(value, str) and (amount := FORMATTED_AMOUNT.fullmatch(value)):
                number = Decimal(amount["number"].replace("\u202f", ""))
                shown[name] = money_text(number, amount["currency"])
    return t(template, **shown)


# --- Dates and numbers ---------------------------------------------------------------------


def _locale() -> str:
    return _LOCALES[language()]


def date_text(value: date | datetime | None) -> str:
    """A day the reader's way; "" for none (a draft's dates)."""
    if value is None:
        return ""
    day = value.date() if isinstance(value, datetime) else value
    return format_date(day, _DATE_PATTERNS[language()], locale=_locale())


def datetime_text(value: datetime | None) -> str:
    """A moment (already in the company's time zone) the reader's way, to the minute."""
    if value is None:
        return ""
    return format_datetime(value, f"{_DATE_PATTERNS[language()]} HH:mm", locale=_locale())


def number_text(value: int | Decimal | float) -> str:
    """A count or quantity with the reader's digit grouping and decimal mark."""
    return format_decimal(value, locale=_locale())


_AMOUNT_PATTERN = parse_pattern("#,##0.00")


def amount_formatter() -> Callable[[Decimal | float | None], str]:
    """Formats an amount without its currency, to two decimals, for a table's money column,
    the reader's way. Bound once per table: a table formats every cell, and looking up the
    language and parsing the pattern per cell cost more than the formatting itself."""
    babel_locale = Locale.parse(_locale())

    def amount_text(value: Decimal | float | None) -> str:
        return "" if value is None else _AMOUNT_PATTERN.apply(value, babel_locale)

    return amount_text


def money_text(amount: Decimal | None, currency: str) -> str:
    """An amount as the reader writes it: "1 234,56 EUR" in Latvian, "1 234.56 EUR" in English
    (the documents' own rule, shared.document_format)."""
    if amount is None:
        return ""
    return format_amount(to_minor(amount, currency), currency, language=language())


def table_date_format() -> str:
    """The date pattern of table columns (Streamlit's, moment.js)."""
    return _TABLE_DATE_FORMATS[language()]


def date_input_format() -> str:
    """The day order and separator of date pickers (Streamlit's own notation)."""
    return _TABLE_DATE_FORMATS[language()]
