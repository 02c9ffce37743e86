"""Reports → Sales ledger and VAT summary: net and VAT per rate, credit notes negative,
paid and open from the ledger, totals per currency, injection-safe files."""

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from shared import exports
from shared.db import read_session, write_session
from shared.exports import Column, csv_chunks, with_totals
from shared.invoicing import LineInput, cancel_invoice, vat_breakdown
from shared.ledger.credit_notes import issue_credit_note
from shared.models import CreditNote, Customer, Invoice, InvoiceLine
from shared.views import sales_ledger as views
from shared.views.sales_ledger import (
    SALES_LEDGER_COLUMNS,
    sales_ledger,
    sales_ledger_export,
    sales_ledger_rows,
    vat_summary,
)
from tests.dashboard.test_exports import HOSTILE, _formula_cells
from tests.utils.factories import make_customer, make_invoice, post_payment

TZ = "Europe/Riga"
MAY_FROM, MAY_TO = date(2026, 5, 1), date(2026, 5, 31)
TODAY = date(2026, 5, 20)
NET_AND_VAT = views.AMOUNT_KEYS
ZERO_KEYS = ("net_0", "net_exempt", "net_reverse_charge", "net_intra_eu", "net_export")


def _lines(*lines: tuple[str, str, str]) -> list[LineInput]:
    return [LineInput("Work", quantity, price, rate) for quantity, price, rate in lines]


def _build_may():
    """May 2026: a mixed-rate invoice (with three lines whose VAT rounds per rate, not per
    line, and one line at a rate no longer allowed), a partly paid one credited in part, a
    USD one, a cancelled one, a draft; one invoice in April."""
    anna = make_customer(name="Anna SIA")
    with write_session() as session:
        stored = session.get(Customer, anna.id)
        stored.registration_number, stored.vat_number = "40003000001", "LV40003000001"
    bob = make_customer(name="Bob Inc")
    mixed = make_invoice(
        channel=None,
        customer=anna,
        issue_date=date(2026, 5, 2),
        lines=_lines(
            ("1", "100.00", "21"),
            ("1", "50.00", "12"),
            ("1", "20.00", "5"),
            ("1", "10.00", "0"),
            ("1", "10.00", "0"),  # made a 9 % line below
            ("1", "0.07", "21"),
            ("1", "0.07", "21"),
            ("1", "0.07", "21"),
        ),
    )
    _issued_at_an_old_rate(mixed.id, position=5, rate="9", vat_minor=90)
    partly = make_invoice(
        channel=None,
        customer=anna,
        issue_date=date(2026, 5, 3),
        due_date=date(2026, 6, 30),
        lines=_lines(("2", "100.00", "21")),
    )
    usd = make_invoice(
        channel=None,
        customer=bob,
        currency="USD",
        issue_date=date(2026, 5, 4),
        lines=_lines(("1", "300.00", "21")),
    )
    cancelled = make_invoice(channel=None, customer=bob, issue_date=date(2026, 5, 5))
    make_invoice(channel=None, customer=bob, issue_date=date(2026, 5, 6), issue=False)
    make_invoice(channel=None, customer=bob, issue_date=date(2026, 4, 30))
    with write_session() as session:
        post_payment(session, invoice_id=partly.id, amount_minor=10000)
    with write_session() as session:
        note = issue_credit_note(
            session,
            actor="test",
            invoice_id=partly.id,
            reason="One day less",
            lines=_lines(("1", "50.00", "21")),
            today=date(2026, 5, 10),
        )
    with write_session() as session:
        cancel_invoice(session, actor="test", invoice_id=cancelled.id, reason="Wrong customer")
    return {"mixed": mixed, "partly": partly, "usd": usd, "cancelled": cancelled, "note": note}


def _issued_at_an_old_rate(invoice_id: int, *, position: int, rate: str, vat_minor: int):
    """A line issued before the rate list was enforced: today's editor refuses 9 %."""
    with write_session() as session:
        line = session.exec(
            select(InvoiceLine).where(
                InvoiceLine.invoice_id == invoice_id, InvoiceLine.position == position
            )
        ).one()
        invoice = session.get(Invoice, invoice_id)
        line.vat_rate, line.vat_category = rate, "S"
        line.vat_minor, line.gross_minor = vat_minor, line.net_minor + vat_minor
        invoice.vat_minor += vat_minor
        invoice.total_minor += vat_minor
        invoice.open_minor += vat_minor


@pytest.fixture
def may(any_db, monkeypatch):
    monkeypatch.setattr(views, "local_today", lambda tz: TODAY)
    return _build_may()


def _rows_by_number() -> dict:
    table = sales_ledger(date_from=MAY_FROM, date_to=MAY_TO, tz=TZ, offset=0, limit=100)
    return {row.number: row for row in table.rows}


def test_mixed_rates_land_in_their_columns_and_add_up_to_the_total(may):
    rows = _rows_by_number()
    mixed = rows[may["mixed"].number]
    assert (mixed.net_21, mixed.vat_21) == (Decimal("100.21"), Decimal("21.04"))
    assert (mixed.net_12, mixed.vat_12) == (Decimal("50.00"), Decimal("6.00"))
    assert (mixed.net_5, mixed.vat_5) == (Decimal("20.00"), Decimal("1.00"))
    assert mixed.net_0 == Decimal("10.00")
    assert (mixed.net_other, mixed.vat_other) == (Decimal("10.00"), Decimal("0.90"))
    assert (mixed.registration_number, mixed.vat_number) == ("40003000001", "LV40003000001")
    assert (mixed.type, mixed.customer, mixed.issue_date) == (
        "Invoice",
        "Anna SIA",
        date(2026, 5, 2),
    )
    assert mixed.status == "Overdue"  # due 16 May, and today is the 20th in Riga
    for row in rows.values():
        assert sum(getattr(row, key) for key in NET_AND_VAT) == row.total, row.number


def test_credit_note_is_negative_and_partly_paid_invoice_reads_the_ledger(may):
    rows = _rows_by_number()
    partly = rows[may["partly"].number]
    assert (partly.total, partly.paid) == (Decimal("242.00"), Decimal("100.00"))
    # open = total - paid - credited, as the ledger keeps it: 242.00 - 100.00 - 60.50
    assert partly.open == Decimal("81.50")
    assert partly.status == "Partially paid"
    note = rows[may["note"].number]
    assert (note.type, note.invoice, note.issue_date) == (
        "Credit note",
        may["partly"].number,
        date(2026, 5, 10),
    )
    assert (note.net_21, note.vat_21, note.total) == (
        Decimal("-50.00"),
        Decimal("-10.50"),
        Decimal("-60.50"),
    )
    assert (note.paid, note.open) == (None, None)


def test_cancelled_shows_with_zero_amounts_and_drafts_and_other_months_never(may):
    rows = _rows_by_number()
    cancelled = rows[may["cancelled"].number]
    assert cancelled.status == "Cancelled"
    assert cancelled.total == cancelled.open == cancelled.paid == cancelled.net_21 == 0
    assert set(rows) == {may[key].number for key in ("mixed", "partly", "usd", "cancelled", "note")}


def test_ledger_pages_and_streams_the_same_rows_in_issue_order(may):
    full = sales_ledger(date_from=MAY_FROM, date_to=MAY_TO, tz=TZ, offset=0, limit=100)
    assert full.total == 5
    assert [row.issue_date for row in full.rows] == sorted(row.issue_date for row in full.rows)
    assert tuple(sales_ledger_rows(date_from=MAY_FROM, date_to=MAY_TO, tz=TZ)) == full.rows
    second = sales_ledger(date_from=MAY_FROM, date_to=MAY_TO, tz=TZ, offset=2, limit=2)
    assert second.rows == full.rows[2:4]
    assert second.ids == full.ids[2:4]
    # A credit note's row opens the invoice it credits.
    assert full.ids[-1] == may["partly"].id


def test_export_totals_each_currency_on_its_own(may):
    rows = list(sales_ledger_export(date_from=MAY_FROM, date_to=MAY_TO, tz=TZ))
    totals = {row[8]: row for row in rows if row[0] == "Total"}
    assert set(totals) == {"EUR", "USD"}
    total_at = [column.key for column in SALES_LEDGER_COLUMNS].index("total")
    # EUR: 219.15 + 242.00 - 60.50 (the cancelled invoice counts nothing); USD alone.
    assert totals["EUR"][total_at] == Decimal("400.65")
    assert totals["USD"][total_at] == Decimal("363.00")


def test_vat_summary_nets_credit_notes_and_equals_the_invoices_vat_breakdown(may):
    table = vat_summary(date_from=MAY_FROM, date_to=MAY_TO, tz=TZ, granularity="month")
    rows = {
        (row.period, row.currency, row.vat_rate): row
        for row in table.rows
        if row.period != exports.TOTAL_LABEL
    }
    eur_21 = rows[("2026-05", "EUR", "21 %")]
    assert (eur_21.net, eur_21.vat) == (Decimal("300.21"), Decimal("63.04"))
    assert (eur_21.credit_net, eur_21.credit_vat) == (Decimal("-50.00"), Decimal("-10.50"))
    assert (eur_21.net_after, eur_21.vat_after) == (Decimal("250.21"), Decimal("52.54"))
    assert eur_21.documents == 3  # two invoices and the credit note
    assert rows[("2026-05", "USD", "21 %")].vat == Decimal("63.00")
    assert rows[("2026-05", "EUR", "9 %")].vat == Decimal("0.90")

    with read_session() as session:
        issued = session.exec(
            select(Invoice).where(
                Invoice.issue_date >= MAY_FROM,
                Invoice.issue_date <= MAY_TO,
                Invoice.status.not_in(("draft", "cancelled")),
                Invoice.currency == "EUR",
            )
        ).all()
        expected: dict[str, int] = {}
        for invoice in issued:
            lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id))
            for rate, (_, vat) in vat_breakdown(list(lines)).items():
                expected[f"{rate} %"] = expected.get(f"{rate} %", 0) + vat
    shown = {rate: row.vat for (_, currency, rate), row in rows.items() if currency == "EUR"}
    assert shown == {rate: Decimal(vat).scaleb(-2) for rate, vat in expected.items()}

    totals = {row.currency: row for row in table.rows if row.period == "Total"}
    assert set(totals) == {"EUR", "USD"}
    # Each document counted once in its currency's total, however many rates it has.
    with read_session() as session:
        eur_documents = len(issued) + len(
            session.exec(
                select(CreditNote).where(
                    CreditNote.issue_date >= MAY_FROM,
                    CreditNote.issue_date <= MAY_TO,
                    CreditNote.currency == "EUR",
                )
            ).all()
        )
    assert (totals["EUR"].vat_rate, totals["EUR"].documents) == ("all rates", eur_documents)
    assert totals["EUR"].vat_after == Decimal("63.04") + 6 + 1 + Decimal("0.90") - Decimal("10.50")
    assert totals["USD"].vat_after == Decimal("63.00")


def test_vat_summary_per_quarter_and_nothing_outside_the_period(may):
    quarter = vat_summary(date_from=date(2026, 4, 1), date_to=MAY_TO, tz=TZ, granularity="quarter")
    eur_21 = next(r for r in quarter.rows if r[:3] == ("2026 Q2", "EUR", "21 %"))
    assert eur_21.net == Decimal("400.21")  # April's invoice joins May's in Q2
    empty = vat_summary(date_from=date(2026, 6, 1), date_to=date(2026, 6, 30), tz=TZ)
    assert empty.rows == ()


def test_with_totals_never_adds_two_currencies():
    columns = (
        Column("name", "Name"),
        Column("currency", "Currency"),
        Column("count", "Count", "int"),
        Column("amount", "Amount", "money"),
    )
    rows = [
        ("a", "EUR", 1, Decimal("1.50")),
        ("b", "USD", 1, Decimal("2.00")),
        ("c", "EUR", 1, None),
        ("d", "EUR", 1, Decimal("-0.50")),
    ]
    assert list(with_totals(columns, iter(rows))) == [
        *rows,
        ("Total", "EUR", None, Decimal("1.00")),
        ("Total", "USD", None, Decimal("2.00")),
    ]
    assert list(with_totals(columns, [])) == []


def test_ledger_export_has_no_formula_in_any_reader(any_db, tmp_path):
    """Hostile customer names and VAT numbers reach the files as text, never formulas."""
    for index, name in enumerate(HOSTILE):
        customer = make_customer(name=f"Customer {index}")
        with write_session() as session:
            stored = session.get(Customer, customer.id)
            stored.name, stored.vat_number = name, name
        make_invoice(channel=None, customer=customer, issue_date=date(2026, 5, 2))
    rows = list(sales_ledger_export(date_from=MAY_FROM, date_to=MAY_TO, tz=TZ))
    text = "".join(csv_chunks(SALES_LEDGER_COLUMNS, rows))
    assert _formula_cells(text) == []
    assert "Acme;'=1+1" in text
    target = tmp_path / "ledger.xlsx"
    exports.write_xlsx(str(target), SALES_LEDGER_COLUMNS, rows)
    import openpyxl

    sheet = openpyxl.load_workbook(target).active
    names = {row[5] for row in sheet.iter_rows(min_row=2, values_only=True)} - {None}
    assert {name.replace("_x000D_", "\r") for name in names} == {
        exports.safe_text(name) for name in HOSTILE
    }


def test_reports_page_shows_the_sales_ledger_and_vat_summary(db, monkeypatch):
    from dashboard import ui
    from tests.dashboard.conftest import app_as, download_links, no_exceptions, open_page, texts

    numbers = _build_may()
    monkeypatch.setattr(ui, "today", lambda: TODAY)
    at = open_page(app_as("manager"), "reports")
    at = at.segmented_control(key="rep_report").set_value("sales-ledger").run()
    no_exceptions(at)
    assert "Sales ledger" in texts(at)
    (ledger,) = [f.value for f in at.dataframe]
    assert "VAT 21 %" in ledger.columns
    assert set(ledger["Number"]) == {
        numbers[key].number for key in ("mixed", "partly", "usd", "cancelled", "note")
    } | {"INV-2026-0005"}  # April's invoice: the page's From starts on 1 February
    labels = [label for label, _ in download_links(at)]
    assert labels == ["Download CSV", "Download XLSX"]

    at = at.segmented_control(key="rep_report").set_value("vat-summary").run()
    no_exceptions(at)
    assert "VAT summary" in texts(at)
    (vat,) = [f.value for f in at.dataframe]
    assert "VAT after credit notes" in vat.columns
    assert list(vat["Period"]).count("Total") == 2
    labels = [label for label, _ in download_links(at)]
    assert labels == ["Download CSV", "Download XLSX"]

    at.segmented_control(key="rep_period").set_value("quarter").run()
    no_exceptions(at)
    (vat,) = [f.value for f in at.dataframe]
    assert "2026 Q2" in set(vat["Period"])


def test_reports_page_says_when_nothing_was_issued(db, monkeypatch):
    from dashboard import ui
    from tests.dashboard.conftest import app_as, no_exceptions, open_page, texts

    monkeypatch.setattr(ui, "today", lambda: TODAY)
    at = open_page(app_as("manager"), "reports")
    at = at.segmented_control(key="rep_report").set_value("sales-ledger").run()
    no_exceptions(at)
    assert "No invoices or credit notes were issued in this period." in texts(at)
    at = at.segmented_control(key="rep_report").set_value("vat-summary").run()
    no_exceptions(at)
    assert "No sales or credit notes in this period." in texts(at)


def test_zero_rate_supplies_have_a_column_each_and_the_totals_row_adds_them_up(any_db, tmp_path):
    """An accountant files zero-rated, exempt, reverse-charge, intra-EU and export sales on
    separate lines of the VAT return, so the ledger keeps them apart, in every file."""
    buyer = make_customer(name="Tere OÜ")
    with write_session() as session:
        session.get(Customer, buyer.id).vat_number = "EE100000001"
    invoice = make_invoice(
        channel=None,
        customer=buyer,
        issue_date=date(2026, 5, 2),
        lines=[
            LineInput("Atlas", "1", "5.00", "0", vat_category="Z"),
            LineInput("Course", "1", "40.00", "0", vat_category="E", vat_exemption="Art. 52"),
            LineInput("Consulting", "1", "80.00", "0", vat_category="AE"),
            LineInput("Pallets", "1", "25.00", "0", vat_category="K"),
            LineInput("Crates", "1", "30.00", "0", vat_category="G"),
            LineInput("Work", "1", "100.00", "21"),
        ],
    )
    with write_session() as session:
        issue_credit_note(
            session,
            actor="test",
            invoice_id=invoice.id,
            reason="Returned",
            lines=[LineInput("Pallets", "1", "25.00", "0", vat_category="K")],
            today=date(2026, 5, 10),
        )

    rows = list(sales_ledger_export(date_from=MAY_FROM, date_to=MAY_TO, tz=TZ))
    keys = [column.key for column in SALES_LEDGER_COLUMNS]
    sale, note, total = (dict(zip(keys, row, strict=True)) for row in rows)
    assert {key: sale[key] for key in ZERO_KEYS} == {
        "net_0": Decimal("5.00"),
        "net_exempt": Decimal("40.00"),
        "net_reverse_charge": Decimal("80.00"),
        "net_intra_eu": Decimal("25.00"),
        "net_export": Decimal("30.00"),
    }
    assert note["net_intra_eu"] == Decimal("-25.00") and note["net_0"] == 0
    assert total["number"] == "Total"
    assert total["net_intra_eu"] == 0 and total["net_export"] == Decimal("30.00")
    for row in (sale, note, total):
        assert sum(row[key] for key in NET_AND_VAT) == row["total"], row["number"]

    headings = "".join(csv_chunks(SALES_LEDGER_COLUMNS, [])).lstrip("\ufeff")
    assert (
        "Net 0 %,Net 0 % Exempt (E),Net 0 % Reverse charge (AE),"
        "Net 0 % Intra-EU supply (K),Net 0 % Export (G),Net other rates" in headings
    )
    target = tmp_path / "ledger.xlsx"
    exports.write_xlsx(str(target), SALES_LEDGER_COLUMNS, rows)
    import openpyxl

    sheet = openpyxl.load_workbook(target).active
    header, first = (list(row) for row in sheet.iter_rows(max_row=2, values_only=True))
    assert first[header.index("Net 0 % Reverse charge (AE)")] == 80
