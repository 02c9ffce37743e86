"""What is outstanding and how late, as every page reads it: aging buckets at their
boundaries, credits and closed invoices left out, per customer paged in SQL."""

from datetime import date, timedelta

from shared.db import read_session, write_session
from shared.invoicing import cancel_invoice
from shared.ledger import balances
from shared.models import LedgerEntryKind, LedgerSource
from tests.ledger.conftest import invoice_on, post
from tests.utils.factories import make_customer

AS_OF = date(2026, 5, 20)


def _due(customer, days_past_due: int, amount: str = "1.00", **kwargs):
    due = AS_OF - timedelta(days=days_past_due)
    return invoice_on(customer, due - timedelta(days=14), amount, due_date=due, **kwargs)


def test_aging_buckets_change_between_30_and_31_60_and_61_90_and_91_days(any_db):
    anna = make_customer()
    # Amounts name the days past due, so a misplaced invoice shows which one it was.
    for days in (-5, 0, 1, 30, 31, 60, 61, 90, 91, 400):
        _due(anna, days, f"{1000 + days}.00")

    with read_session() as session:
        [eur] = balances.aging(session, as_of=AS_OF)

    assert eur.currency == "EUR"
    assert [(b.invoices, b.open_minor) for b in eur.buckets] == [
        (2, (995 + 1000) * 100),  # due in 5 days, due today
        (2, (1001 + 1030) * 100),
        (2, (1031 + 1060) * 100),
        (2, (1061 + 1090) * 100),
        (2, (1091 + 1400) * 100),
    ]
    assert (eur.open_invoices, eur.overdue_invoices) == (10, 8)
    assert eur.outstanding_minor == sum(b.open_minor for b in eur.buckets)


def test_only_positive_open_balances_of_issued_invoices_are_outstanding(any_db):
    anna, bob = make_customer(name="Anna SIA"), make_customer(name="Bob OÜ")
    partly = _due(anna, 10, "100.00")
    post(partly, LedgerEntryKind.PAYMENT, 4000, AS_OF)
    overpaid = _due(anna, 10, "50.00")
    post(overpaid, LedgerEntryKind.PAYMENT, 8000, AS_OF)  # 30.00 credit: not a negative debt
    credited = _due(anna, 10, "70.00")
    post(credited, LedgerEntryKind.CREDIT_NOTE, 7000, AS_OF, source=LedgerSource.CREDIT_NOTE)
    refunded = _due(bob, 40, "20.00")
    post(refunded, LedgerEntryKind.PAYMENT, 2000, AS_OF)
    post(refunded, LedgerEntryKind.MONEY_BACK, 500, AS_OF, source=LedgerSource.REFUND)
    cancelled = _due(bob, 40, "900.00")
    with write_session() as session:
        cancel_invoice(session, actor="test", invoice_id=cancelled.id, reason="Duplicate")
    _due(bob, 40, "800.00", issue=False)
    _due(bob, 3, "7.00", currency="USD")

    with read_session() as session:
        assert balances.outstanding(session) == {"EUR": 6000 + 500, "USD": 700}
        assert balances.outstanding(session, customer_id=anna.id) == {"EUR": 6000}
        assert balances.outstanding(session, currency="USD") == {"USD": 700}
        per_currency = balances.aging(session, as_of=AS_OF)
        [anna_eur] = balances.aging(session, as_of=AS_OF, customer_id=anna.id)

    assert [(a.currency, a.outstanding_minor, a.open_invoices) for a in per_currency] == [
        ("EUR", 6500, 2),
        ("USD", 700, 1),
    ]
    assert [b.open_minor for b in anna_eur.buckets] == [0, 6000, 0, 0, 0]


def test_customer_aging_is_paged_largest_first(any_db):
    small, big, middle = (make_customer(name=name) for name in ("Small", "Big", "Middle"))
    _due(small, 5, "10.00")
    _due(big, 45, "300.00")
    _due(big, -3, "200.00")
    _due(middle, 100, "90.00")

    with read_session() as session:
        first = balances.customer_aging(session, as_of=AS_OF, limit=2)
        second = balances.customer_aging(session, as_of=AS_OF, offset=2, limit=2)
        streamed = list(balances.customer_aging_rows(session, as_of=AS_OF))
        [only_big] = balances.customer_aging(session, as_of=AS_OF, customer_id=big.id).rows

    assert (first.total, second.total) == (3, 3)
    assert [row.customer_name for row in first.rows + second.rows] == ["Big", "Middle", "Small"]
    assert streamed == list(first.rows + second.rows)
    assert [b.open_minor for b in only_big.buckets] == [20000, 0, 30000, 0, 0]
    assert (only_big.overdue_minor, only_big.oldest_due) == (30000, AS_OF - timedelta(days=45))
