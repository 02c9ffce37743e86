"""The VAT summary lists the 0 % supplies a VAT return reports apart (reverse charge,
intra-EU supply, exempt, export) in rows of their own, credit notes netted per category."""

from datetime import date
from decimal import Decimal

from shared.db import write_session
from shared.invoicing import LineInput
from shared.ledger.credit_notes import issue_credit_note
from shared.models import Customer
from shared.views.sales_ledger import vat_summary
from tests.utils.factories import make_customer, make_invoice


def test_zero_rate_categories_have_rows_of_their_own(any_db):
    customer = make_customer()
    with write_session() as session:
        session.get(Customer, customer.id).vat_number = "EE100000001"
    invoice = make_invoice(
        channel=None,
        customer=customer,
        issue_date=date(2026, 5, 4),
        lines=[
            LineInput("Hours", "1", "100.00", "21"),
            LineInput("Atlas", "1", "5.00", "0"),
            LineInput("Scrap", "1", "30.00", "0", vat_category="AE"),
            LineInput("Pallets", "1", "25.00", "0", vat_category="K"),
            LineInput("Course", "1", "40.00", "0", vat_category="E", vat_exemption="Art. 52"),
        ],
    )
    with write_session() as session:
        issue_credit_note(
            session,
            actor="t",
            invoice_id=invoice.id,
            reason="Returned",
            lines=[LineInput("Scrap", "1", "10.00", "0", vat_category="AE")],
            today=date(2026, 5, 6),
        )

    table = vat_summary(date_from=date(2026, 5, 1), date_to=date(2026, 5, 31), tz="Europe/Riga")

    rows = {row.vat_rate: (row.net, row.credit_net, row.vat_after) for row in table.rows[:-1]}
    assert rows == {
        "21 %": (Decimal("100.00"), Decimal("0.00"), Decimal("21.00")),
        "0 %": (Decimal("5.00"), Decimal("0.00"), Decimal("0.00")),
        "0 % Reverse charge (AE)": (Decimal("30.00"), Decimal("-10.00"), Decimal("0.00")),
        "0 % Exempt (E)": (Decimal("40.00"), Decimal("0.00"), Decimal("0.00")),
        "0 % Intra-EU supply (K)": (Decimal("25.00"), Decimal("0.00"), Decimal("0.00")),
    }
    assert [row.vat_rate for row in table.rows[:-1]][:2] == ["21 %", "0 % Reverse charge (AE)"]
