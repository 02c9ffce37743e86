"""Credit notes from the dashboard: the invoice page issues them (and no longer offers
Cancel once money moved), the exceptions queue settles refunds and chargebacks with them."""

from sqlmodel import select

from shared.db import read_session, write_session
from shared.models import CreditNote, Invoice, InvoiceStatus, ReviewItem, ReviewStatus
from tests.dashboard.conftest import app_as, make_attempt, no_exceptions, open_page, texts
from tests.utils.factories import make_channel, make_invoice, post_payment


def _detail(invoice_id: int, role: str = "finance"):
    at = app_as(role)
    at.query_params["invoice"] = str(invoice_id)
    return open_page(at, "invoice_detail")


def _credit_notes_table(at):
    [frame] = [d.value for d in at.dataframe if "Reason" in d.value.columns]
    return frame


def _invoice(invoice_id: int) -> Invoice:
    with read_session() as session:
        return session.get(Invoice, invoice_id)


def test_issue_credit_note_for_the_whole_invoice_from_its_page(db):
    invoice = make_invoice(channel=make_channel())
    at = _detail(invoice.id)
    no_exceptions(at)
    at.button(key="cn_issue").click().run()
    assert "Say why the invoice is credited." in [e.value for e in at.error]

    at.text_input(key="cn_reason").input("Ordered by mistake")
    at.button(key="cn_issue").click().run()

    no_exceptions(at)
    assert "Credit note KR-" in texts(at)
    credited = _invoice(invoice.id)
    assert (credited.status, credited.open_minor) == (InvoiceStatus.CREDITED, 0)
    assert list(_credit_notes_table(at)["Total"]) == ["121.00 EUR"]
    # Fully credited: nothing left to credit, and no Cancel either.
    assert not [b for b in at.button if b.key in ("cn_issue", "detail_cancel")]


def test_issue_credit_note_for_an_amount_from_the_invoice_page(db):
    invoice = make_invoice(channel=make_channel())
    at = _detail(invoice.id)
    at.radio(key="cn_mode").set_value("amount").run()
    at.text_input(key="cn_amount").input("1,000")
    at.text_input(key="cn_reason").input("Discount agreed")
    at.button(key="cn_issue").click().run()
    assert any("ambiguous" in e.value for e in at.error)

    at.text_input(key="cn_amount").input("21,00").run()
    at.button(key="cn_issue").click().run()

    no_exceptions(at)
    assert _invoice(invoice.id).open_minor == 10000


def test_partially_paid_invoice_offers_a_credit_note_but_no_cancel(db):
    invoice = make_invoice(channel=make_channel())
    with write_session() as session:
        post_payment(session, invoice_id=invoice.id, amount_minor=5000)

    at = _detail(invoice.id)

    no_exceptions(at)
    keys = {button.key for button in at.button}
    assert "cn_issue" in keys and "detail_cancel" not in keys


def test_a_manager_sees_credit_notes_but_cannot_issue_one(db):
    invoice = make_invoice(channel=make_channel())
    with write_session() as session:
        session.add(
            CreditNote(
                number="KR-2026-0001",
                invoice_id=invoice.id,
                customer_id=invoice.customer_id,
                currency="EUR",
                issue_date=invoice.issue_date,
                reason="Returned goods",
                total_minor=1210,
            )
        )

    at = _detail(invoice.id, role="manager")

    no_exceptions(at)
    assert list(_credit_notes_table(at)["Number"]) == ["KR-2026-0001"]
    keys = {button.key for button in at.button}
    assert "cn_issue" not in keys and "cn_send" not in keys


def _money_back_item(invoice, attempt, *, kind: str, amount: int) -> int:
    """What the callback pipeline leaves after a refund: money back on the ledger and an
    open exception for it."""
    from shared.invoicing import lock_invoice
    from shared.ledger.posting import post_entry
    from shared.models import LedgerEntryKind, LedgerSource, PaymentAttempt

    with write_session() as session:
        stored = lock_invoice(session, invoice_id=invoice.id)
        post_entry(
            session,
            invoice=stored,
            kind=LedgerEntryKind.MONEY_BACK,
            source=LedgerSource.REFUND if kind == "refund" else LedgerSource.CHARGEBACK,
            amount_minor=amount,
            key=f"test:{kind}",
            actor="system",
            attempt=session.get(PaymentAttempt, attempt.id),
        )
        item = ReviewItem(
            kind=kind,
            dedupe_key=f"{kind}:{attempt.payment_reference}",
            reason="Money went back to the payer.",
            invoice_id=invoice.id,
            payment_attempt_id=attempt.id,
            amount_minor=amount,
            currency="EUR",
        )
        session.add(item)
        session.flush()
        return item.id


def test_exceptions_issue_a_credit_note_for_a_refund_in_one_click(db):
    invoice = make_invoice(channel=make_channel())
    attempt = make_attempt(invoice)
    item_id = _money_back_item(invoice, attempt, kind="refund", amount=4000)
    assert _invoice(invoice.id).open_minor == 4000

    at = open_page(app_as("finance"), "exceptions")
    no_exceptions(at)
    assert "rev_link" not in {b.key for b in at.button}  # no credit note to link yet
    at.button(key="rev_credit").click().run()

    no_exceptions(at)
    assert any("Credit note KR-" in s.value for s in at.success)
    assert _invoice(invoice.id).open_minor == 0
    with read_session() as session:
        assert session.get(ReviewItem, item_id).status == ReviewStatus.RESOLVED
        [note] = session.exec(select(CreditNote)).all()
    assert note.total_minor == 4000


def test_exceptions_dispute_a_chargeback_with_a_comment(db):
    invoice = make_invoice(channel=make_channel())
    attempt = make_attempt(invoice)
    item_id = _money_back_item(invoice, attempt, kind="chargeback", amount=12100)

    at = open_page(app_as("finance"), "exceptions")
    assert at.button(key="rev_credit").label == "Accept (credit note)"
    at.text_area(key="rev_comment").input("Delivery confirmed by courier.")
    at.button(key="rev_dispute").click().run()

    no_exceptions(at)
    with read_session() as session:
        item = session.get(ReviewItem, item_id)
    assert item.status == ReviewStatus.RESOLVED and "still owes" in item.resolution
    assert _invoice(invoice.id).open_minor == 12100
