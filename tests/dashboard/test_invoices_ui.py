"""Invoices through the dashboard: drafts with typed amounts, issuing, the list, the detail."""

from datetime import date

from sqlmodel import select

from shared.db import read_session
from shared.models import Invoice, InvoiceLine, InvoiceStatus
from tests.dashboard.conftest import app_as, no_exceptions, open_page, texts
from tests.utils.factories import make_channel, make_customer, make_invoice

EDITOR = "new_invoice"


def _new_invoice_form(at):
    at.button(key="invoice_new").click().run()
    return at


def _type_line(at, row: int, *, desc: str, qty: str, price: str, vat: str = "S:21"):
    at.text_input(key=f"{EDITOR}_desc_{row}").input(desc)
    at.text_input(key=f"{EDITOR}_qty_{row}").input(qty)
    at.text_input(key=f"{EDITOR}_price_{row}").input(price)
    at.selectbox(key=f"{EDITOR}_vat_{row}").set_value(vat)
    return at.run()


def test_draft_with_live_totals_then_issue_assigns_the_first_number(db):
    make_channel()
    make_customer(name="Anna Bērziņa SIA")
    at = _new_invoice_form(open_page(app_as("finance"), "invoices"))
    assert at.selectbox(key=f"{EDITOR}_customer").value is not None
    at = _type_line(at, 0, desc="Consulting", qty="1,5", price="1 234,50")
    assert "Total **2\u202f240.62 EUR**" in texts(at)  # 1851.75 + 388.87 VAT
    at.button(key=f"{EDITOR}_add_line").click().run()
    at = _type_line(at, 1, desc="Books", qty="2", price="10", vat="Z:0")
    assert "VAT 0% (Z) **0.00 EUR**" in texts(at)
    at.button(key=f"{EDITOR}_save").click().run()
    no_exceptions(at)

    with read_session() as session:
        invoice = session.exec(select(Invoice)).one()
        lines = session.exec(select(InvoiceLine).order_by(InvoiceLine.position)).all()
    assert invoice.status == InvoiceStatus.DRAFT
    assert invoice.total_minor == 224_062 + 2_000
    assert [line.quantity for line in lines] == ["1.5", "2"]
    assert "Draft invoice" in texts(at)  # saving opens the new draft's detail page
    # AppTest keeps re-running the page last passed to switch_page; follow the app there.
    assert at.query_params["invoice"] == str(invoice.id)
    at = open_page(at, "invoice_detail")

    at.button(key="detail_issue").click().run()
    no_exceptions(at)
    number = f"INV-{date.today().year}-0001"
    assert f"Invoice {number}" in [t.value for t in at.title]
    assert f"Invoice {number} issued." in texts(at)
    assert at.code[0].value.startswith("http://127.0.0.1:9/lp?")  # the pay link to copy
    with read_session() as session:
        assert session.get(Invoice, invoice.id).number == number


def test_bad_amount_and_empty_lines_get_clear_messages(db):
    make_customer()
    at = _new_invoice_form(open_page(app_as("finance"), "invoices"))
    at.button(key=f"{EDITOR}_save").click().run()
    assert "Line 1: An invoice needs at least one line." in [e.value for e in at.error]

    at = _type_line(at, 0, desc="Consulting", qty="1", price="12,345.6.7")
    errors = [e.value for e in at.error]
    assert "Unit price '12,345.6.7' is not a number." in errors
    assert "Totals appear when every line is valid." in texts(at)
    at.button(key=f"{EDITOR}_save").click().run()
    assert "Line 1: Unit price '12,345.6.7' is not a number." in [e.value for e in at.error]
    with read_session() as session:
        assert session.exec(select(Invoice)).first() is None


def test_list_filters_sorts_and_pages_in_the_database(db):
    channel = make_channel()
    anna, bob = make_customer(name="Anna SIA"), make_customer(name="Bob OÜ")
    for index in range(30):
        make_invoice(channel=channel, customer=anna if index % 3 else bob)
    make_invoice(channel=channel, customer=bob, issue=False)

    at = open_page(app_as("manager"), "invoices")
    no_exceptions(at)
    assert "Rows 1–31 of 31" in texts(at)
    at.selectbox(key="invoices_size").set_value(25).run()
    assert "Rows 1–25 of 31" in texts(at)
    assert len(at.dataframe[0].value) == 25
    at.button(key="invoices_next").click().run()
    assert "Rows 26–31 of 31" in texts(at)
    assert len(at.dataframe[0].value) == 6
    page_box = at.number_input(key="invoices_page_number")
    assert (page_box.value, page_box.label) == (2, "Page (of 2)")  # follows Next
    page_box.set_value(1).run()  # a page number jumps straight there
    assert "Rows 1–25 of 31" in texts(at)
    at.number_input(key="invoices_page_number").set_value(2).run()
    assert "Rows 26–31 of 31" in texts(at)

    at.text_input(key="inv_customer").input("bob").run()
    assert "Rows 1–11 of 11" in texts(at)  # a new filter starts on page one
    at.multiselect(key="inv_status").select("draft").run()
    frame = at.dataframe[0].value
    assert list(frame["Number"]) == ["(draft)"]
    assert list(frame["Status"]) == ["Draft"]

    at.multiselect(key="inv_status").unselect("draft")
    at.text_input(key="inv_customer").input("")
    at.text_input(key="inv_number").input(f"INV-{date.today().year}-000").run()
    assert "Rows 1–9 of 9" in texts(at)
    at.selectbox(key="inv_sort").set_value("number")
    at.toggle(key="inv_desc").set_value(False).run()
    assert at.dataframe[0].value["Number"].iloc[0] == f"INV-{date.today().year}-0001"


def test_overdue_is_derived_and_filterable(db):
    channel = make_channel()
    make_invoice(channel=channel, issue_date=date(2020, 1, 1), due_date=date(2020, 1, 15))
    make_invoice(channel=channel)
    at = open_page(app_as("finance"), "invoices")
    at.multiselect(key="inv_status").select("overdue").run()
    frame = at.dataframe[0].value
    assert list(frame["Status"]) == ["Overdue"]
    assert str(frame["Due date"].iloc[0])[:10] == "2020-01-15"


def test_detail_shows_lines_totals_funnel_and_cancel_needs_a_reason(db):
    channel = make_channel()
    invoice = make_invoice(channel=channel)
    at = app_as("finance")
    at.query_params["invoice"] = str(invoice.id)
    at = open_page(at, "invoice_detail")
    no_exceptions(at)
    page = texts(at)
    assert f"Invoice {invoice.number}" in page
    assert [m.label for m in at.metric][:3] == ["Total", "Paid", "Open balance"]
    assert at.metric[2].value == "121.00 EUR"
    assert [m.label for m in at.metric][3:] == [
        "Sent",
        "Link opened",
        "Payment attempts",
        "Settled",
        "Failed",
    ]
    assert "No payment attempts yet." in page
    at.checkbox(key="detail_cancel_confirm").check().run()
    at.button(key="detail_cancel").click().run()
    assert "Say why the invoice is cancelled." in [e.value for e in at.error]
    at.text_input(key="detail_cancel_reason").input("Duplicate")
    at.button(key="detail_cancel").click().run()
    assert "Cancelled: Duplicate" in texts(at)
    with read_session() as session:
        assert session.get(Invoice, invoice.id).status == InvoiceStatus.CANCELLED


def test_a_draft_can_be_deleted_after_confirmation(db):
    draft = make_invoice(channel=None, issue=False)
    at = app_as("finance")
    at.query_params["invoice"] = str(draft.id)
    at = open_page(at, "invoice_detail")
    at.button(key="detail_delete").click().run()
    at.button(key="detail_delete_yes").click().run()
    no_exceptions(at)
    with read_session() as session:
        assert session.get(Invoice, draft.id) is None
    assert "No invoices yet — create one with **Create invoice**." in texts(at)


def test_out_of_range_values_get_messages_and_the_typed_lines_stay(db):
    make_customer()
    at = _new_invoice_form(open_page(app_as("finance"), "invoices"))
    at = _type_line(at, 0, desc="Consulting", qty="1e20", price="1e27")
    at.button(key=f"{EDITOR}_add_line").click().run()
    at = _type_line(at, 1, desc="Books", qty="1,000", price="1e309")
    at.button(key=f"{EDITOR}_add_line").click().run()
    at = _type_line(at, 2, desc="Servers", qty="2", price="999 999 999 999,99", vat="Z:0")
    no_exceptions(at)
    errors = [e.value for e in at.error]
    assert "Quantity '1e20' is not a number." in errors
    assert "Unit price '1e27' is not a number." in errors
    assert "Unit price '1e309' is not a number." in errors
    assert any("'1,000' is ambiguous" in error for error in errors)
    assert "A line's total can be at most 999\u202f999\u202f999\u202f999.99 EUR." in errors

    at.button(key=f"{EDITOR}_save").click().run()

    no_exceptions(at)
    assert [at.text_input(key=f"{EDITOR}_price_{row}").value for row in range(3)] == [
        "1e27",
        "1e309",
        "999 999 999 999,99",
    ]
    assert at.text_input(key=f"{EDITOR}_qty_1").value == "1,000"
    assert any(e.startswith("Line 1: Quantity '1e20'") for e in (x.value for x in at.error))
    with read_session() as session:
        assert session.exec(select(Invoice)).first() is None


def test_a_control_character_in_a_line_or_the_notes_is_refused_with_a_message(db):
    make_customer()
    at = _new_invoice_form(open_page(app_as("finance"), "invoices"))
    at = _type_line(at, 0, desc="Consulting\x00", qty="1", price="10")
    assert any(
        e.value.startswith("Description contains an invisible control character") for e in at.error
    )
    at = _type_line(at, 0, desc="Consulting", qty="1", price="10")
    at.text_area(key=f"{EDITOR}_notes").input("Thanks\x00").run()
    at.button(key=f"{EDITOR}_save").click().run()

    no_exceptions(at)
    assert any(e.value.startswith("Notes contains an invisible") for e in at.error)
    assert at.text_area(key=f"{EDITOR}_notes").value == "Thanks\x00"
    with read_session() as session:
        assert session.exec(select(Invoice)).first() is None


def test_a_nul_in_the_customer_search_finds_the_customer_on_each_backend(any_db):
    make_customer(name="Koks SIA")
    at = _new_invoice_form(open_page(app_as("finance"), "invoices"))
    at.text_input(key=f"{EDITOR}_customer_search").input("Ko\x00ks").run()

    no_exceptions(at)
    customer = at.selectbox(key=f"{EDITOR}_customer")
    assert customer.options == ["Koks SIA"]


def test_vat_is_chosen_by_category_and_an_exempt_line_asks_for_its_reason(db):
    make_customer()
    at = _new_invoice_form(open_page(app_as("finance"), "invoices"))
    assert at.selectbox(key=f"{EDITOR}_vat_0").options[:4] == [
        "21 % standard (S)",
        "12 % reduced (S)",
        "5 % reduced (S)",
        "0 % zero-rated (Z)",
    ]
    at = _type_line(at, 0, desc="Course", qty="1", price="40", vat="E:0")
    no_exceptions(at)
    assert any("needs the exemption reason" in e.value for e in at.error)
    at.text_input(key=f"{EDITOR}_exreason_0").input("PVN likuma 52. panta 1. daļa").run()
    at.button(key=f"{EDITOR}_add_line").click().run()
    at = _type_line(at, 1, desc="Scrap", qty="1", price="10", vat="AE:0")
    at.button(key=f"{EDITOR}_save").click().run()
    no_exceptions(at)
    assert any("Reverse charge (AE) needs the customer's VAT number" in e.value for e in at.error)
    at.selectbox(key=f"{EDITOR}_vat_1").set_value("S:12").run()
    at.button(key=f"{EDITOR}_save").click().run()
    no_exceptions(at)
    with read_session() as session:
        lines = session.exec(select(InvoiceLine).order_by(InvoiceLine.position)).all()
    assert [(line.vat_category, line.vat_rate, line.vat_exemption_reason) for line in lines] == [
        ("E", "0", "PVN likuma 52. panta 1. daļa"),
        ("S", "12", ""),
    ]


def test_a_usd_draft_asks_for_the_exchange_rate_and_keeps_it(db):
    make_customer()
    at = _new_invoice_form(open_page(app_as("finance"), "invoices"))
    assert not [t for t in at.text_input if t.key == f"{EDITOR}_eur_rate"]  # EUR: no rate
    at.selectbox(key=f"{EDITOR}_currency").set_value("USD").run()
    at = _type_line(at, 0, desc="Consulting", qty="1", price="174.90")
    at.text_input(key=f"{EDITOR}_eur_rate").input("1.0512345")
    at.button(key=f"{EDITOR}_save").click().run()
    assert "Exchange rate can have at most 6 decimals." in [e.value for e in at.error]
    at.text_input(key=f"{EDITOR}_eur_rate").input("1,0512")
    at.button(key=f"{EDITOR}_save").click().run()
    no_exceptions(at)
    with read_session() as session:
        invoice = session.exec(select(Invoice)).one()
    assert (invoice.currency, invoice.eur_exchange_rate) == ("USD", "1.0512")
