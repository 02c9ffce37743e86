"""Callback test helpers: a channel with an issued invoice, the EveryPay API mocked with
respx, and short ways to store a callback and read back what it changed."""

from dataclasses import dataclass
from typing import Any

import respx
from sqlmodel import col, select

from shared.callbacks.intake import receive_callback
from shared.channels import callback_token
from shared.db import read_session
from shared.models import (
    AuditLog,
    CallbackEvent,
    Invoice,
    PaymentAttempt,
    PaymentChannel,
    PaymentStateChange,
    ReviewItem,
)
from tests.utils.callback_service import new_reference, payment_answer
from tests.utils.factories import make_channel, make_invoice

API_BASE = "https://everypay.test/api/v4"


@dataclass(frozen=True)
class Shop:
    channel: PaymentChannel
    invoice: Invoice
    token: str

    def callback(self, reference: str, *, event_name: str = "status_updated") -> int:
        """Stores a callback as intake does for a request to this channel's URL."""
        result = receive_callback(
            channel_token=self.token,
            params={
                "payment_reference": reference,
                "order_reference": self.invoice.number or "",
                "event_name": event_name,
            },
            http_method="GET",
            remote_addr="127.0.0.1",
        )
        assert result.queued, result.body
        assert result.event_id is not None
        return result.event_id

    def answer(self, reference: str | None = None, **fields: Any) -> dict[str, Any]:
        fields.setdefault("order_reference", self.invoice.number)
        return payment_answer(reference=reference or new_reference(), **fields)


def make_shop(*, api_base: str = API_BASE) -> Shop:
    channel = make_channel(api_base=api_base)
    invoice = make_invoice(channel=channel)
    return Shop(channel=channel, invoice=invoice, token=callback_token(channel))


def answer_with(api: respx.MockRouter, answer: dict[str, Any]) -> respx.Route:
    return api.get(f"/payments/{answer['payment_reference']}").respond(json=answer)


def invoice(invoice_id: int) -> Invoice:
    with read_session() as session:
        found = session.get(Invoice, invoice_id)
        assert found is not None
        return found


def event(event_id: int) -> CallbackEvent:
    with read_session() as session:
        found = session.get(CallbackEvent, event_id)
        assert found is not None
        return found


def attempts() -> list[PaymentAttempt]:
    with read_session() as session:
        return list(session.exec(select(PaymentAttempt).order_by(col(PaymentAttempt.id))).all())


def state_changes(attempt_id: int) -> list[tuple[str | None, str]]:
    with read_session() as session:
        rows = session.exec(
            select(PaymentStateChange)
            .where(PaymentStateChange.attempt_id == attempt_id)
            .order_by(col(PaymentStateChange.id))
        ).all()
        return [(row.from_state, row.to_state) for row in rows]


def payment_audits(invoice_id: int) -> list[AuditLog]:
    with read_session() as session:
        return list(
            session.exec(
                select(AuditLog)
                .where(AuditLog.action == "invoice.ledger")
                .where(AuditLog.entity_id == str(invoice_id))
                .order_by(col(AuditLog.id))
            ).all()
        )


def reviews(kind: str | None = None) -> list[ReviewItem]:
    with read_session() as session:
        query = select(ReviewItem).order_by(col(ReviewItem.id))
        if kind:
            query = query.where(ReviewItem.kind == kind)
        return list(session.exec(query).all())


def channel(channel_id: int) -> PaymentChannel:
    with read_session() as session:
        found = session.get(PaymentChannel, channel_id)
        assert found is not None
        return found
