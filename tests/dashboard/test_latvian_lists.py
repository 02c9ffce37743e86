"""Customers, the invoice list and the draft editor in Latvian, in the states the shared
seed does not reach: the editor open with lines and a VAT exemption, an error, the list
filtered to nothing, the customer form with its e-invoice fields, a duplicate warning, a
VIES answer, the customer-credit tabs; and the headings an accountant's files carry."""

import dataclasses
from collections.abc import Iterator

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from dashboard import i18n, ui
from shared.db import read_session, write_session
from shared.document_format import format_amount
from shared.exports import csv_header
from shared.models import Customer, Invoice
from shared.users import set_user_language
from shared.views.invoices import INVOICE_COLUMNS, InvoiceFilter, invoice_csv_file
from shared.views.sales_ledger import SALES_LEDGER_COLUMNS, VAT_SUMMARY_COLUMNS
from tests.dashboard.conftest import APP, TIMEOUT, make_user, no_exceptions, open_page, texts
from tests.dashboard.test_latvian_ui import _shown, english_words
from tests.utils.factories import make_channel, make_customer, make_invoice
from tests.utils.vies_server import FakeVies, fake_vies

EDITOR = "new_invoice"
PAGER_KEYS = ("_prev", "_next", "_page_number", "_size")


@pytest.fixture
def vies(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVies]:
    with fake_vies(monkeypatch) as fake:
        yield fake


def _latvian(page: str) -> AppTest:
    """``page`` for a finance user who reads the dashboard in Latvian."""
    user_id = make_user("finance", "ilze")
    with write_session() as session:
        set_user_language(session, user_id=user_id, language="lv")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["auth"] = ui.new_session(user_id)
    at.run()  # the landing page, which another test checks
    i18n.MISSING.clear()
    return open_page(at, page)


def _untranslated() -> list[str]:
    return sorted(text for language, text in i18n.MISSING if language == "lv")


def _widget_texts(at: AppTest, prefix: str) -> str:
    """Labels, help and options of the widgets whose key starts with ``prefix``."""
    parts = []
    for kind in ("text_input", "text_area", "number_input", "selectbox", "radio", "button"):
        for widget in getattr(at, kind):
            key = widget.key or ""
            # The pager's words are every page's (common.po), tested with it.
            if key.startswith(prefix) and not key.endswith(PAGER_KEYS):
                parts.append(str(widget.label))
                parts.append(str(widget.help or ""))
                parts.extend(str(option) for option in getattr(widget, "options", ()) or ())
    return "\n".join(parts)


def _type_line(at: AppTest, row: int, *, desc: str, qty: str, price: str, vat: str) -> AppTest:
    at.text_input(key=f"{EDITOR}_desc_{row}").input(desc)
    at.text_input(key=f"{EDITOR}_qty_{row}").input(qty)
    at.text_input(key=f"{EDITOR}_price_{row}").input(price)
    at.selectbox(key=f"{EDITOR}_vat_{row}").set_value(vat)
    return at.run()


def test_the_new_invoice_editor_with_lines_speaks_latvian(db):
    make_channel()
    make_customer(name="SIA Jūrmalas Ēdnīca")
    at = _latvian("invoices")
    assert "Rēķinu vēl nav — izveidojiet pirmo ar **Izveidot rēķinu**." in texts(at)
    at.button(key="invoice_new").click().run()
    at.selectbox(key=f"{EDITOR}_channel").select_index(0).run()  # no online payment
    at.selectbox(key=f"{EDITOR}_currency").set_value("USD").run()
    at = _type_line(at, 0, desc="Konsultācijas", qty="1,5", price="100", vat="S:21")
    at.button(key=f"{EDITOR}_add_line").click().run()
    at = _type_line(at, 1, desc="Kursi", qty="1", price="40", vat="E:0")
    at.selectbox(key=f"{EDITOR}_excode_1").set_value("VATEX-EU-132")
    i18n.MISSING.clear()
    at.run()

    no_exceptions(at)
    assert _untranslated() == []
    assert english_words(_shown(at)) == set()
    assert at.selectbox(key=f"{EDITOR}_vat_0").options[:3] == [
        "21 % pamatlikme (S)",
        "12 % samazinātā likme (S)",
        "5 % samazinātā likme (S)",
    ]
    assert at.selectbox(key=f"{EDITOR}_vat_1").value == "E:0"
    assert at.selectbox(key=f"{EDITOR}_channel").options[0] == "Bez tiešsaistes apmaksas"
    assert at.text_input(key=f"{EDITOR}_eur_rate").label == "Valūtas kurss (1 EUR = … USD)"
    assert at.text_input(key=f"{EDITOR}_exreason_1").label == "Atbrīvojuma pamatojums"
    assert at.text_input(key=f"{EDITOR}_price_0").label == "Cena par vienību"
    assert "Kopā **" in texts(at) and "PVN 21% (S) **" in texts(at)
    assert at.checkbox(key=f"{EDITOR}_reminders").label == "Sūtīt atgādinājumus par apmaksu"


def test_a_malformed_line_is_refused_in_latvian(db):
    """A quantity or price that is not a number: the line's error in Latvian, with the value
    typed and the field's Latvian name."""
    make_channel()
    make_customer(name="SIA Jūrmalas Ēdnīca")
    at = _latvian("invoices")
    at.button(key="invoice_new").click().run()
    at = _type_line(at, 0, desc="Konsultācijas", qty="1,500", price="12x", vat="S:21")
    i18n.MISSING.clear()
    at.run()

    no_exceptions(at)
    assert _untranslated() == []
    errors = [element.value for element in at.error]
    assert (
        "Laukā “Daudzums” ievadītais “1,500” nav viennozīmīgs (tūkstošu atdalītājs vai "
        "decimālkomats?): rakstiet 1500 vai 1.500." in errors
    )
    assert "Laukā “Cena par vienību” ievadītais “12x” nav skaitlis." in errors
    assert english_words("\n".join(errors)) == set()


def test_the_editor_without_customers_warns_and_refuses_in_latvian(db):
    at = _latvian("invoices")
    at.button(key="invoice_new").click().run()
    assert [w.value for w in at.warning] == [
        "Neviens klients nav atrasts — izveidojiet klientu sadaļā Rēķini → Klienti."
    ]
    at.button(key=f"{EDITOR}_save").click().run()

    no_exceptions(at)
    assert "Izvēlieties klientu." in [e.value for e in at.error]
    assert _untranslated() == []
    assert english_words(_shown(at)) == set()


def test_filters_in_latvian_and_a_list_filtered_to_nothing(db):
    make_invoice(channel=make_channel(), customer=make_customer())
    at = _latvian("invoices")
    status = at.multiselect(key="inv_status")
    assert status.label == "Statuss"
    assert {"Melnraksts", "Izrakstīts", "Apmaksāts"} <= set(status.options)
    assert at.selectbox(key="inv_sort").options[0] == "Jaunākie vispirms"
    assert at.date_input(key="inv_from").label == "Izrakstīts, sākot ar"
    status.set_value(["paid"]).run()

    no_exceptions(at)
    assert [info.value for info in at.info] == ["Neviens rēķins neatbilst šiem filtriem."]
    assert _untranslated() == []
    assert english_words(_shown(at)) == set()


def test_the_customer_form_with_its_e_invoice_fields_and_a_duplicate_in_latvian(db):
    at = _latvian("customers")
    assert "Klientu vēl nav — izveidojiet pirmo." in [info.value for info in at.info]
    at.button(key="customer_new").click().run()
    form = _widget_texts(at, "cust_new_")
    assert english_words(form) == set()
    assert "0218 Latvijas Uzņēmumu reģistrs" in at.selectbox(key="cust_new_peppol_scheme").options
    assert at.radio(key="cust_new_sending_method").options == [
        "E-pasts ar PDF",
        "E-pasts ar PDF + e-rēķins (XML)",
        "E-rēķina (XML) lejupielāde",
    ]
    assert at.text_input(key="cust_new_peppol_id").label == "E-rēķina adrese (Peppol ID)"
    assert at.number_input(key="cust_new_terms").label == "Apmaksas termiņš (dienās)"

    at.text_input(key="cust_new_name").input("Kurzemes Koks SIA")
    at.text_input(key="cust_new_reg").input("40003009497")
    at.button(key="cust_new_save").click().run()
    assert "Klients Kurzemes Koks SIA saglabāts." in [s.value for s in at.success]
    at.button(key="customer_new").click().run()
    at.text_input(key="cust_new_name").input("SIA Kurzemes koks")
    at.text_input(key="cust_new_reg").input("40003009497")
    at.button(key="cust_new_save").click().run()

    no_exceptions(at)
    assert [w.value for w in at.warning] == [
        "Saglabāts, taču klientam Kurzemes Koks SIA ir tas pats reģistrācijas numurs "
        "40003009497: vai tas nav viens un tas pats klients divreiz?"
    ]
    assert _untranslated() == []


def test_a_vies_answer_in_latvian(vies):
    make_customer(name="SIA Koks")
    with read_session() as session:
        customer_id = session.exec(select(Customer.id)).one()
    at = _latvian("customers")
    at.selectbox(key="customer_pick").set_value(customer_id).run()
    assert at.subheader[0].value == "Labot: SIA Koks"
    at.text_input(key=f"cust_{customer_id}_vat").input("LV40003009497")
    at.button(key=f"cust_{customer_id}_save").click().run()
    at.selectbox(key="customer_pick").set_value(customer_id).run()
    vies.body = {"valid": True, "name": "SIA KOKS", "address": "RĪGA"}
    at.button(key="customer_vies").click().run()

    no_exceptions(at)
    assert [s.value for s in at.success] == [
        "VIES apstiprina, ka LV40003009497 ir derīgs PVN reģ. nr.: SIA KOKS, RĪGA."
    ]
    assert english_words(_widget_texts(at, f"cust_{customer_id}_")) == set()
    assert _untranslated() == []


def test_the_customer_credit_tabs_in_latvian(db):
    customer = make_customer(name="SIA Pārmaksa")
    channel = make_channel()
    overpaid = make_invoice(channel=channel, customer=customer)
    still_open = make_invoice(channel=channel, customer=customer)
    with write_session() as session:
        # What an over-payment leaves on the invoice: less than nothing owed.
        session.get(Invoice, overpaid.id).open_minor = -2000
    at = _latvian("customers")

    no_exceptions(at)
    assert at.subheader[0].value == "Klienta pārmaksa"
    assert [tab.label for tab in at.tabs] == [
        "Ieskaitīt pārmaksu rēķinā",
        "Atzīmēt pārmaksu kā atmaksātu",
    ]
    assert at.selectbox(key="credit_holder").label == "Klients ar pārmaksu"
    target = next(box for box in at.selectbox if box.key.startswith("credit_target_"))
    assert target.options == [f"{still_open.number} · neapmaksātā summa {_open_of(still_open)}"]
    assert english_words(_widget_texts(at, "credit_") + _widget_texts(at, "refund_")) == set()
    assert _untranslated() == []


def _open_of(invoice: Invoice) -> str:
    with read_session() as session:
        open_minor = session.get(Invoice, invoice.id).open_minor
    return format_amount(open_minor, "EUR", language="lv")


def _latvian_columns(columns):
    return [dataclasses.replace(c, label=i18n.text_in("lv", c.label)) for c in columns]


def test_the_invoice_csv_is_headed_in_latvian(db):
    make_invoice(channel=make_channel(), customer=make_customer())
    with invoice_csv_file(
        InvoiceFilter(), today=ui.today(), columns=_latvian_columns(INVOICE_COLUMNS)
    ) as handle:
        heading = handle.read().decode("utf-8-sig").splitlines()[0]
    assert heading == csv_header(_latvian_columns(INVOICE_COLUMNS)).lstrip("\ufeff").rstrip()
    assert heading.startswith("Numurs,Klients,Statuss,Izrakstīšanas datums,Apmaksas termiņš")
    assert "Neapmaksātā summa" in heading


def test_the_sales_ledger_and_vat_summary_are_headed_in_an_accountants_words():
    catalogue = i18n.catalogue("lv")
    for column in (*SALES_LEDGER_COLUMNS, *VAT_SUMMARY_COLUMNS):
        assert column.label in catalogue, column.label
        assert english_words(catalogue[column.label]) == set(), column.label
    ledger = {c.key: i18n.text_in("lv", c.label) for c in SALES_LEDGER_COLUMNS}
    assert (ledger["net_21"], ledger["vat_21"]) == ("Summa bez PVN 21 %", "PVN summa 21 %")
    assert ledger["vat_number"] == "PVN reģ. nr."
    assert ledger["net_reverse_charge"] == "Summa bez PVN 0 %, apgrieztā maksāšana (AE)"
    assert ledger["net_export"] == "Summa bez PVN 0 %, eksports (G)"
    summary = {c.key: i18n.text_in("lv", c.label) for c in VAT_SUMMARY_COLUMNS}
    assert (summary["vat_rate"], summary["net"]) == ("PVN likme", "Summa bez PVN")
    assert summary["vat_after"] == "PVN summa pēc kredītrēķiniem"
