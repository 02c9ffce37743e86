from sqlmodel import func, select

from sandbox.store import SandboxStore
from shared.db import read_session
from shared.models import Invoice, InvoiceStatus, PaymentAttempt, PaymentChannel, ReviewItem
from shared.operations.demo import sandbox_store_path, seed_demo


def test_demo_covers_every_status_and_is_idempotent(db):
    first = seed_demo()
    second = seed_demo()
    assert first.created and not second.created
    with read_session() as session:
        statuses = set(session.exec(select(Invoice.status)).all())
        invoices = session.exec(select(func.count()).select_from(Invoice)).one()
        reviews = set(session.exec(select(ReviewItem.kind)).all())
    assert statuses == {s.value for s in InvoiceStatus}
    assert invoices == first.invoices
    assert {"chargeback", "overpayment"} <= reviews


def test_demo_payments_are_known_to_the_sandbox_with_the_same_state(db):
    seed_demo()
    store = SandboxStore(sandbox_store_path())
    with read_session() as session:
        channel = session.exec(select(PaymentChannel)).one()
        attempts = session.exec(select(PaymentAttempt)).all()
    merchant = store.merchant_by_link_token(channel.link_token)
    assert merchant is not None and merchant.api_username == channel.api_username
    assert merchant.callback_url.endswith(
        "/callbacks/linkpay/" + merchant.callback_url.rsplit("/", 1)[1]
    )
    for attempt in attempts:
        payment = store.get_payment(attempt.payment_reference)
        assert payment.state == attempt.state
        assert payment.order_reference == attempt.order_reference
