"""`linkpay-desk reconcile` asks about every unfinished payment, prints what changed, and
tells schedulers by its exit code when EveryPay left a payment or callback unanswered."""

import respx
from sqlalchemy import update

from shared.callbacks.processing import process_event
from shared.db import write_session
from shared.models import InvoiceStatus, PaymentAttempt, utcnow
from shared.operations.cli import main
from tests.callbacks.helpers import Shop, answer_with, invoice
from tests.utils.callback_service import new_reference


def test_reconcile_exits_1_when_a_payment_could_not_be_checked_and_0_when_all_were(
    shop: Shop, api: respx.MockRouter, capsys
) -> None:
    reference = new_reference()
    route = answer_with(api, shop.answer(reference, state="authorised"))
    process_event(shop.callback(reference))

    def checks_due_now() -> None:
        with write_session() as session:
            session.exec(update(PaymentAttempt).values(next_check_at=utcnow()))

    route.respond(503)
    checks_due_now()
    assert main(["reconcile"]) == 1
    assert "problem: payment" in capsys.readouterr().out

    answer_with(api, shop.answer(reference, state="settled"))
    checks_due_now()
    assert main(["reconcile"]) == 0


def test_reconcile_asks_about_every_unfinished_payment_unless_due_only(
    shop: Shop, api: respx.MockRouter, capsys
) -> None:
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="sent_for_processing"))
    process_event(shop.callback(reference))
    # The bank confirmed a moment later; its callback was lost. The next scheduled check
    # is still ahead, so the timer's pass would not ask yet.
    route = answer_with(api, shop.answer(reference, state="settled"))
    calls = route.call_count

    assert main(["reconcile", "--due-only"]) == 0
    assert route.call_count == calls
    assert "0 payment(s) changed" in capsys.readouterr().out

    assert main(["reconcile"]) == 0

    out = capsys.readouterr().out
    assert "1 unfinished payment(s) re-checked, 1 payment(s) changed, 0 problem(s)" in out
    assert f"changed: payment {reference[:12]}…: {shop.invoice.number}: payment settled" in out
    assert invoice(shop.invoice.id).status == InvoiceStatus.PAID
    # Nothing unfinished is left: nothing is asked, nothing is listed as changed.
    assert main(["reconcile"]) == 0
    assert "changed:" not in capsys.readouterr().out


def test_reconcile_exits_1_when_a_waiting_callback_could_not_be_verified(
    shop: Shop, api: respx.MockRouter, capsys
) -> None:
    reference = new_reference()
    api.get(f"/payments/{reference}").respond(503)
    shop.callback(reference)

    assert main(["reconcile"]) == 1

    out = capsys.readouterr().out
    assert "1 waiting callback(s) processed" in out and "problem: callback #" in out
    assert "changed:" not in out
