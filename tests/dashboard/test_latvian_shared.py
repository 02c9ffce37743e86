"""The domain's messages, the Overview and the Reports page in Latvian.

Every message shared/ refuses something with is a template whose Latvian is in the
catalogue, the English sentence stays what it was, and a page shows the message in the
reader's language, the form-field name it quotes too. The two report pages are rendered in
states the shared seed does not reach: empty, a week's periods, a period the wrong way round.
"""

import ast
import string
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from dashboard import i18n, ui
from shared import reports
from shared.db import write_session
from shared.errors import ValidationError
from shared.exports import Column, Table
from shared.money import MoneyError, check_amount_bound, parse_amount_minor, parse_quantity
from shared.text import clean_single_line
from shared.users import set_user_language
from shared.vat import VatCategory
from shared.vat import label as vat_label
from tests.dashboard.conftest import make_user, no_exceptions, texts
from tests.dashboard.test_latvian_ui import _shown, english_words

SHARED = Path(reports.__file__).resolve().parent
# Functions of shared/ whose keyword ``label`` is a form field's English name, quoted by
# their messages; error_text translates it.
LABELLED = {"clean_single_line", "clean_multiline", "_single_line", "_positive_amount"}
# Keywords whose text becomes a ValidationError's message further down.
MESSAGE_KEYWORDS = {"message", "missing"}
# What builds a message from a template, and which argument the template is: a MoneyError is
# a ValidationError, and an invoice line's error (LineError) keeps one for its line.
TEMPLATE_ARGUMENT = {"ValidationError": 0, "MoneyError": 0, "LineError": 2}
# Functions of shared.money whose keyword ``field`` is the English name of what was typed,
# quoted by their messages as ``label``.
MONEY_LABELLED = {"parse_decimal", "parse_amount_minor", "check_amount_bound"}


def _called(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _calls() -> list[tuple[str, ast.Call]]:
    return [
        (f"{path.relative_to(SHARED.parent)}:{node.lineno}", node)
        for path in sorted(SHARED.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
    ]


def _template(call: ast.Call) -> ast.AST | None:
    at = TEMPLATE_ARGUMENT.get(_called(call))
    return call.args[at] if at is not None and len(call.args) > at else None


def _texts(node: ast.AST | None) -> list[str]:
    return [node.value] if isinstance(node, ast.Constant) and isinstance(node.value, str) else []


def domain_messages() -> dict[str, str]:
    """Every message text of shared/ → where it is: ValidationError's first argument, and
    the texts handed on to become one."""
    found: dict[str, str] = {}
    for where, call in _calls():
        for text in _texts(_template(call)):
            found.setdefault(text, where)
        for keyword in call.keywords:
            if keyword.arg in MESSAGE_KEYWORDS:
                for text in _texts(keyword.value):
                    found.setdefault(text, where)
    return found


def field_labels() -> dict[str, str]:
    """Every English field name shared/ quotes in a message → where it is given."""
    found: dict[str, str] = {}
    for where, call in _calls():
        name = _called(call)
        if name in {"single_line", "multiline"} and call.args:
            for text in _texts(call.args[0]):
                found.setdefault(text, where)
        if name in LABELLED:
            for keyword in call.keywords:
                if keyword.arg == "label":
                    for text in _texts(keyword.value):
                        found.setdefault(text, where)
        if name in MONEY_LABELLED:
            for keyword in call.keywords:
                if keyword.arg == "field":
                    for text in _texts(keyword.value):
                        found.setdefault(text, where)
    return found


def test_no_message_is_built_before_it_is_translated():
    """An f-string, % or + message would reach the catalogue filled in, and never match."""
    built = [
        where for where, call in _calls() if isinstance(_template(call), ast.JoinedStr | ast.BinOp)
    ]
    assert built == []


def test_the_scan_finds_the_messages():
    messages = domain_messages()
    assert len(messages) > 180
    assert "Give the customer's name." in messages
    assert "{label} must be on one line." in messages
    assert "Enter the date the money arrived." in messages
    assert "{amount} is more than the {limit} credit available." in messages
    assert "{label} '{typed}' is not a number." in messages
    assert "Exempt lines on one invoice give the same exemption reason." in messages
    assert {"Name", "Full name", "Amount", "Beneficiary name"} <= set(field_labels())
    assert {"Unit price", "Fixed fee", "The invoice total"} <= set(field_labels())


def test_every_domain_message_has_its_latvian():
    latvian = i18n.catalogue("lv")
    assert [
        f"{where}: {text!r}" for text, where in domain_messages().items() if text not in latvian
    ] == []


def test_every_field_name_a_message_quotes_has_its_latvian():
    latvian = i18n.catalogue("lv")
    labels = {
        **field_labels(),
        "invoice": "shared/numbering.py",
        "credit note": "shared/numbering.py",
        **{vat_label(category): "shared/vat.py" for category in VatCategory},
    }
    assert [f"{where}: {text!r}" for text, where in labels.items() if text not in latvian] == []


def test_the_latvian_keeps_each_place_and_its_format():
    """``{code:04X}`` and ``{name!r}`` must come back whole, or the value reads differently."""
    latvian = i18n.catalogue("lv")
    formatter = string.Formatter()

    def places(text: str) -> set[tuple[str, str, str | None]]:
        return {(n, spec, conv) for _, n, spec, conv in formatter.parse(text) if n}

    problems = [
        text
        for text in domain_messages()
        if text in latvian and places(text) != places(latvian[text])
    ]
    assert problems == []


@pytest.mark.parametrize(
    ("error", "english"),
    [
        (
            ValidationError("Unknown time zone {name!r}.", field="timezone", name="Mars/Base"),
            "Unknown time zone 'Mars/Base'.",
        ),
        (
            ValidationError(
                "{label} contains an invisible control character (U+{code:04X}); retype it "
                "or paste it as plain text.",
                label="Name",
                code=7,
            ),
            "Name contains an invisible control character (U+0007); retype it or paste it "
            "as plain text.",
        ),
        (
            ValidationError(
                "VAT rate {rate:f} % is not a Latvian rate: choose {allowed} %, or a 0 % category "
                "(zero-rated, exempt, reverse charge, intra-EU supply, export).",
                rate=Decimal("7.50"),
                allowed="21, 12 or 5",
            ),
            "VAT rate 7.50 % is not a Latvian rate: choose 21, 12 or 5 %, or a 0 % category "
            "(zero-rated, exempt, reverse charge, intra-EU supply, export).",
        ),
    ],
)
def test_the_english_message_is_what_it_was(error, english):
    assert str(error) == english


def test_a_domain_error_reads_in_latvian_with_its_field_name(monkeypatch):
    with pytest.raises(ValidationError) as caught:
        clean_single_line("x" * 81, field="name", label="Name", max_length=80)
    assert str(caught.value) == "Name can be at most 80 characters; this one has 81."
    monkeypatch.setattr(i18n, "language", lambda: "lv")
    assert i18n.error_text(caught.value) == (
        "Laukā “Nosaukums” drīkst būt ne vairāk kā 80 rakstzīmes; šeit ir 81."
    )


@pytest.mark.parametrize(
    ("typed", "english", "latvian"),
    [
        (
            "12,500",
            "Unit price '12,500' is ambiguous (a thousand separator or a decimal comma?): "
            "write 12500 or 12.500.",
            "Laukā “Cena par vienību” ievadītais “12,500” nav viennozīmīgs (tūkstošu "
            "atdalītājs vai decimālkomats?): rakstiet 12500 vai 12.500.",
        ),
        (
            "12.345",
            "Unit price '12.345' has more than 2 decimals.",
            "Laukā “Cena par vienību” ievadītajam “12.345” ir vairāk nekā 2 zīmes aiz komata.",
        ),
        (
            "abc",
            "Unit price 'abc' is not a number.",
            "Laukā “Cena par vienību” ievadītais “abc” nav skaitlis.",
        ),
    ],
)
def test_a_malformed_amount_reads_in_latvian(monkeypatch, typed, english, latvian):
    """shared.money's refusals are templates too: same English, Latvian with its field name."""
    with pytest.raises(MoneyError) as caught:
        parse_amount_minor(typed, "EUR", field="Unit price")
    assert str(caught.value) == english
    monkeypatch.setattr(i18n, "language", lambda: "lv")
    assert i18n.error_text(caught.value) == latvian


@pytest.mark.parametrize(
    ("refuse", "english_number", "latvian_number"),
    [
        (lambda: parse_quantity("1000000000"), "999999999.999", "999\xa0999\xa0999,999"),
        (
            lambda: check_amount_bound(Decimal("10") ** 13, "EUR", field="Unit price"),
            "999\u202f999\u202f999\u202f999.99 EUR",
            "999\xa0999\xa0999\xa0999,99 EUR",
        ),
    ],
)
def test_a_bound_in_a_refusal_is_written_the_readers_way(
    monkeypatch, refuse, english_number, latvian_number
):
    """The largest quantity or amount a field takes reads "999 999 999,999" in Latvian, not
    with the English decimal point; the English sentence keeps its own."""
    with pytest.raises(MoneyError) as caught:
        refuse()
    assert str(caught.value).endswith(f"can be at most {english_number}.")
    monkeypatch.setattr(i18n, "language", lambda: "lv")
    assert latvian_number in i18n.error_text(caught.value)


def test_only_the_label_is_translated_not_what_was_typed(monkeypatch):
    """A customer called "Invoice" stays "Invoice": only ``label`` is an English word."""
    monkeypatch.setattr(i18n, "language", lambda: "lv")
    error = ValidationError(
        "{customer} has no open invoice in {currency}: choose the invoice the payment belongs to.",
        customer="Invoice",
        currency="EUR",
    )
    assert i18n.error_text(error).startswith("Klientam Invoice nav neapmaksāta rēķina")


def test_cells_of_one_column_are_shown_another_way():
    table = Table(
        (Column("bucket", "Days past due"), Column("currency", "Currency")),
        (("Not due yet", "EUR"), ("1–30 days", "EUR")),
        total=2,
    )
    shown = reports.with_cells_shown(table, label="Days past due", shown=str.upper)
    assert shown.rows == (("NOT DUE YET", "EUR"), ("1–30 DAYS", "EUR"))
    assert shown.total == 2


# --- Pages in Latvian -------------------------------------------------------------------------


@pytest.fixture
def latvian_pickers() -> Iterator[None]:
    """AppTest formats a picker's chosen value again in the test's own thread, with the
    page's format function: that thread reads Latvian too while a test sets a picker."""
    i18n.set_language("lv")
    yield
    i18n.set_language(i18n.ENGLISH)


def _in_latvian(page: str, role: str = "admin"):
    from streamlit.testing.v1 import AppTest

    from tests.dashboard.conftest import APP, TIMEOUT

    user_id = make_user(role, "ilze")
    with write_session() as session:
        set_user_language(session, user_id=user_id, language="lv")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["auth"] = ui.new_session(user_id)
    at.run()
    return at.switch_page(f"app_pages/{page}.py").run()


def _latvian_only(at) -> None:
    no_exceptions(at)
    assert sorted(text for language, text in i18n.MISSING if language == "lv") == []
    assert english_words(_shown(at)) == set()


def test_a_form_refused_by_the_domain_says_why_in_latvian(db, latvian_pickers):
    """The Users form: the message and the field name it quotes, both in Latvian."""
    at = _in_latvian("users")
    at.text_input(key="new_username").set_value("janis")
    at.text_input(key="new_full_name").set_value("J" * 201)
    at.text_input(key="new_password").set_value("a long enough password")
    at.button(key="new_user_submit").click().run()
    no_exceptions(at)
    errors = [element.value for element in at.error]
    assert "Laukā “Vārds, uzvārds” drīkst būt ne vairāk kā 200 rakstzīmes; šeit ir 201." in errors
    assert not english_words("\n".join(errors))


def test_the_overview_of_a_new_company_in_latvian(db):
    i18n.MISSING.clear()
    at = _in_latvian("overview")
    _latvian_only(at)
    shown = texts(at)
    assert "Rēķinu vēl nav — izveidojiet pirmo sadaļā Rēķini → Rēķini." in shown
    assert "Neapmaksātu summu nav." in shown
    assert "Pēdējās 12 nedēļās maksājumi nav saņemti." in shown


def test_the_reports_of_a_new_company_in_latvian(db):
    i18n.MISSING.clear()
    at = _in_latvian("reports")
    _latvian_only(at)
    picker = at.segmented_control(key="rep_report")
    assert picker.label == "Pārskats"
    assert picker.options == [
        "Saņemts pa periodiem un kanāliem",
        "Debitoru parādu novecošana",
        "Neapmaksātā summa pa klientiem",
        "Apmaksas laiks",
        "Izrakstītie rēķini un kredītrēķini",
        "PVN kopsavilkums",
    ]
    assert "Šajā periodā maksājumi nav saņemti." in texts(at)
    at = picker.set_value("sales-ledger").run()
    _latvian_only(at)
    assert "Šajā periodā nav izrakstīts neviens rēķins vai kredītrēķins." in texts(at)
    at = at.segmented_control(key="rep_report").set_value("vat-summary").run()
    _latvian_only(at)
    shown = texts(at)
    assert "Šajā periodā nav ne pārdošanas, ne kredītrēķinu." in shown
    assert "Pārdošana un kredītrēķini pa mēnešiem" in shown
    at = at.segmented_control(key="rep_report").set_value("aging").run()
    _latvian_only(at)
    assert "Šis pārskats ir šodienas stāvoklī: augstāk norādītie datumi uz to neattiecas." in (
        texts(at)
    )


def test_reports_per_week_and_per_quarter_in_latvian(db, monkeypatch):
    i18n.MISSING.clear()
    at = _in_latvian("reports")
    at = at.segmented_control(key="rep_report").set_value("vat-summary").run()
    period = at.segmented_control(key="rep_period")
    assert period.label == "Periods"
    assert period.options == ["Nedēļa", "Mēnesis", "Ceturksnis"]
    # The test names the choice through the page's format_func, outside the page's run:
    # it must read the language the page runs in.
    monkeypatch.setattr(i18n, "language", lambda: "lv")
    at = period.set_value("quarter").run()
    _latvian_only(at)
    assert "Pārdošana un kredītrēķini pa ceturkšņiem" in texts(at)
    at = at.segmented_control(key="rep_period").set_value("week").run()
    _latvian_only(at)
    # A week is no VAT period: the summary stays monthly.
    assert "Pārdošana un kredītrēķini pa mēnešiem" in texts(at)


def test_a_period_the_wrong_way_round_is_refused_in_latvian(db):
    from datetime import date

    i18n.MISSING.clear()
    at = _in_latvian("reports")
    at.date_input(key="rep_from").set_value(date(2026, 6, 1))
    at = at.date_input(key="rep_to").set_value(date(2026, 5, 1)).run()
    _latvian_only(at)
    assert [element.value for element in at.error] == [
        "Datums “No” nedrīkst būt vēlāks par datumu “Līdz”."
    ]


def test_report_tables_show_their_labels_in_latvian(db):
    """Column headings, aging buckets, document types and the VAT summary's totals row."""
    from tests.utils.factories import make_channel, make_customer, make_invoice

    channel = make_channel()
    make_invoice(channel=channel, customer=make_customer(name="SIA Ēdnīca"))
    i18n.MISSING.clear()
    at = _in_latvian("reports")
    frames = {}
    for report in ("aging", "sales-ledger", "vat-summary"):
        at = at.segmented_control(key="rep_report").set_value(report).run()
        no_exceptions(at)
        (frame,) = [frame.value for frame in at.dataframe]
        frames[frame.columns[0]] = frame
    assert sorted(text for language, text in i18n.MISSING if language == "lv") == []
    assert "Termiņš vēl nav pienācis" in list(frames["Kavējuma dienas"]["Kavējuma dienas"])
    assert set(frames["Numurs"]["Veids"]) == {"Rēķins"}
    vat = frames["Periods"]
    assert list(vat.columns)[:3] == ["Periods", "Valūta", "PVN likme"]
    assert ("Kopā", "visas likmes") in set(zip(vat["Periods"], vat["PVN likme"], strict=True))
