"""`linkpay-desk reconcile` tells schedulers by its exit code when EveryPay left a payment
unanswered."""

import respx
from sqlalchemy import update

from shared.callbacks.processing import process_event
from shared.cli import main
from shared.db import write_session
from shared.models import PaymentAttempt, utcnow
from tests.callbacks.helpers import Shop, answer_with
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
