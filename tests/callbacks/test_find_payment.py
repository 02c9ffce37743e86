"""Find payment: a reference pasted from the EveryPay portal or a receipt is asked about,
and booked once if it is for one of our invoices."""

from datetime import timedelta

import pytest
import respx
from sqlmodel import select

from shared.callbacks.lookup import Found, find_payment
from shared.callbacks.lost_payments import check_lost_payments, watch_pay_link_opened
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.models import AuditLog, InvoiceStatus, ReviewKind, ReviewStatus, utcnow
from shared.operations.cli import main
from shared.users import PermissionDenied, create_user
from tests.callbacks.helpers import Shop, answer_with, attempts, invoice, reviews
from tests.utils.callback_service import new_reference


def _find(shop: Shop, reference: str, *, actor: str = "finance"):
    return find_payment(actor=actor, channel_id=shop.channel.id, payment_reference=reference)


def test_a_payment_whose_callbacks_were_lost_is_found_and_booked_once(
    shop: Shop, api: respx.MockRouter
) -> None:
    watch_pay_link_opened(invoice_id=shop.invoice.id, at=utcnow() - timedelta(hours=30))
    check_lost_payments()
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="settled"))

    result = _find(shop, f"  {reference} ")

    assert result.found is Found.BOOKED and result.invoice_id == shop.invoice.id
    assert shop.invoice.number in result.message and "invoice paid" in result.message
    assert invoice(shop.invoice.id).status == InvoiceStatus.PAID
    [item] = reviews(ReviewKind.LOST_PAYMENT)
    assert item.status == ReviewStatus.RESOLVED and reference in item.resolution
    with read_session() as session:
        audit = session.exec(select(AuditLog).where(AuditLog.action == "payment.find")).one()
    assert (audit.actor, audit.outcome) == ("finance", "booked")

    again = _find(shop, reference)

    assert again.found is Found.KNOWN and "nothing changed" in again.message
    [attempt] = attempts()
    assert attempt.booked_minor == shop.invoice.total_minor


def test_a_payment_of_another_system_on_the_same_account_is_not_booked(
    shop: Shop, api: respx.MockRouter
) -> None:
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="settled", order_reference="WEBSHOP-77"))

    result = _find(shop, reference)

    assert result.found is Found.NOT_OURS and "WEBSHOP-77" in result.message
    assert attempts() == [] and invoice(shop.invoice.id).status == InvoiceStatus.ISSUED
    # Not filed as a forged callback: nobody sent one.
    assert reviews(ReviewKind.NOT_OURS) == []


def test_an_unknown_reference_and_an_unreachable_everypay_are_told_apart(
    shop: Shop, api: respx.MockRouter
) -> None:
    unknown, later = new_reference(), new_reference()
    api.get(f"/payments/{unknown}").respond(404, json={"error": {"code": 4004}})
    api.get(f"/payments/{later}").respond(503)

    assert _find(shop, unknown).found is Found.NOT_FOUND
    unreachable = _find(shop, later)
    assert unreachable.found is Found.UNREACHABLE and "try again later" in unreachable.message
    assert attempts() == []


def test_a_reference_that_cannot_be_one_is_refused_before_asking(
    shop: Shop, api: respx.MockRouter
) -> None:
    with pytest.raises(ValidationError) as refused:
        _find(shop, "INV-2026-0001")
    assert refused.value.field == "payment_reference"
    assert not api.calls


def test_a_manager_may_not_find_payments(shop: Shop, api: respx.MockRouter) -> None:
    with write_session() as session:
        create_user(
            session, actor="admin", username="mara", password="manager-pass-1", role="manager"
        )
    with pytest.raises(PermissionDenied):
        _find(shop, new_reference(), actor="mara")
    assert not api.calls


def test_find_payment_command_books_and_exits_1_only_when_everypay_is_unreachable(
    shop: Shop, api: respx.MockRouter, capsys
) -> None:
    reference = new_reference()
    route = answer_with(api, shop.answer(reference, state="settled"))

    assert main(["find-payment", reference]) == 0
    assert f"{shop.invoice.number}: payment settled" in capsys.readouterr().out
    assert invoice(shop.invoice.id).status == InvoiceStatus.PAID

    route.respond(503)
    assert main(["find-payment", reference, "--channel", str(shop.channel.id)]) == 1
    assert "try again later" in capsys.readouterr().out


def test_a_payment_of_another_merchant_account_is_named_as_such(
    shop: Shop, api: respx.MockRouter
) -> None:
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="settled", api_username="someone9"))

    result = _find(shop, reference)

    assert result.found is Found.NOT_OURS and "'someone9'" in result.message
    assert attempts() == [] and reviews(ReviewKind.NOT_OURS) == []
