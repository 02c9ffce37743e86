"""A callback EveryPay never delivers does not leave a paid invoice unpaid: the reconciler
asks the API about the pending payment and books it."""

from datetime import timedelta

import pytest
from sqlmodel import select

from callback_service.app import create_app
from shared.callbacks.reconciler import reconcile_once
from shared.channels import callback_token
from shared.db import read_session, write_session
from shared.linkpay.links import invoice_pay_link
from shared.models import Invoice, InvoiceStatus, PaymentAttempt, WorkerHeartbeat, utcnow
from tests.utils.callback_service import running_app, wait_until
from tests.utils.factories import make_channel, make_invoice
from tests.utils.sandbox_server import running_sandbox


@pytest.mark.slow
def test_settlement_whose_callback_is_dropped_is_booked_by_the_reconciler(db, tmp_path):
    with (
        running_sandbox(tmp_path, bank_settle_seconds=3.0) as sandbox,
        running_app(create_app()) as service_url,
    ):
        merchant = sandbox.create_merchant(name="Drop Test SIA", callback_url="")
        channel = make_channel(
            api_base=merchant["api_base"],
            linkpay_prefix=merchant["lp_prefix"],
            api_username=merchant["api_username"],
            api_secret=merchant["api_secret"],
            link_token=merchant["link_token"],
        )
        sandbox.store.set_callback_url(
            api_username=merchant["api_username"],
            url=f"{service_url}/callbacks/linkpay/{callback_token(channel)}",
        )
        invoice = make_invoice(channel=channel)
        with read_session() as session:
            link = invoice_pay_link(session, invoice)

        def worker_started() -> bool:
            with read_session() as session:
                return bool(session.exec(select(WorkerHeartbeat)).first())

        # The pending callback must be looked at before the bank settles (3 s): the
        # worker process has to be up, as it long is in production, not still starting.
        wait_until(worker_started, timeout=30, message="the callback worker to start")
        payment = sandbox.pay(link, outcome="bank_pending")

        def pending_attempt() -> PaymentAttempt | None:
            with read_session() as session:
                return session.exec(
                    select(PaymentAttempt).where(
                        PaymentAttempt.payment_reference == payment["payment_reference"]
                    )
                ).first()

        attempt = wait_until(pending_attempt, timeout=10, message="the pending callback")
        assert attempt.state == "sent_for_processing"
        sandbox.set_faults(callbacks="drop")  # the "settled" callback will never arrive
        wait_until(
            lambda: sandbox.store.get_payment(payment["payment_reference"]).state == "settled",
            timeout=15,
            message="the bank to settle",
        )
        with read_session() as session:
            assert session.get(Invoice, invoice.id).status != InvoiceStatus.PAID

        with write_session() as session:  # the reconciler's next look is due
            stored = session.get(PaymentAttempt, attempt.id)
            stored.next_check_at = utcnow() - timedelta(seconds=1)
        report = reconcile_once()

    assert report.payments_checked >= 1
    with read_session() as session:
        paid = session.get(Invoice, invoice.id)
        settled = session.get(PaymentAttempt, attempt.id)
    assert paid.status == InvoiceStatus.PAID and paid.open_minor == 0
    assert settled.state == "settled" and settled.booked_minor == invoice.total_minor
