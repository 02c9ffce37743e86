"""The overdue rule is written twice, in Python (a page, a PDF, an e-mail) and in SQL (lists,
filters, KPIs, reports): both must call the same invoices overdue, on both databases."""

from datetime import date, timedelta
from itertools import product

from sqlalchemy import not_, select

from shared.db import read_session, write_session
from shared.invoicing import display_status, is_overdue, overdue_clause
from shared.models import Customer, Invoice
from shared.states import OVERDUE, InvoiceStatus

TODAY = date(2026, 11, 30)
DUE_DATES = (
    None,
    TODAY - timedelta(days=400),
    TODAY - timedelta(days=1),
    TODAY,
    TODAY + timedelta(days=1),
)


def _invoices() -> list[tuple[int, str, date | None]]:
    with write_session() as session:
        customer = Customer(name="Overdue Tests SIA", email="a@example.lv")
        session.add(customer)
        session.flush()
        rows = [
            Invoice(
                customer_id=customer.id,
                status=status,
                due_date=due,
                public_token_hash=f"{n:064x}",
                public_token_encrypted="-",
            )
            for n, (status, due) in enumerate(product(InvoiceStatus, DUE_DATES))
        ]
        session.add_all(rows)
        session.flush()
        return [(row.id, row.status, row.due_date) for row in rows]


def test_python_and_sql_agree_on_which_invoices_are_overdue(any_db: str) -> None:
    invoices = _invoices()
    in_python = {
        invoice_id
        for invoice_id, status, due in invoices
        if is_overdue(status=status, due_date=due, today=TODAY)
    }
    with read_session() as session:
        in_sql = set(session.scalars(select(Invoice.id).where(overdue_clause(TODAY))))
        # Never NULL: its negation must select every other invoice, those without a due
        # date included, or "sent, not overdue" would lose them.
        not_in_sql = set(session.scalars(select(Invoice.id).where(not_(overdue_clause(TODAY)))))

    assert in_sql == in_python
    assert not_in_sql == {invoice_id for invoice_id, _, _ in invoices} - in_python
    expected = {
        (status, due)
        for status, due in product(
            (InvoiceStatus.ISSUED, InvoiceStatus.SENT, InvoiceStatus.PARTIALLY_PAID),
            (TODAY - timedelta(days=400), TODAY - timedelta(days=1)),
        )
    }
    assert {(status, due) for invoice_id, status, due in invoices if invoice_id in in_python} == (
        expected
    )


def test_display_status_shows_overdue_by_the_same_rule(db: str) -> None:
    invoices = _invoices()
    with read_session() as session:
        for invoice_id, status, due in invoices:
            shown = display_status(session.get(Invoice, invoice_id), today=TODAY)
            overdue = is_overdue(status=status, due_date=due, today=TODAY)
            assert shown == (OVERDUE if overdue else status)
