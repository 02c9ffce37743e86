"""Find payment: a person pastes a payment reference and the app asks EveryPay about it.

The backstop for a payment whose every callback was lost (API v4 has no lookup by order
reference): the reference comes from the EveryPay portal or the customer's receipt. The
answer is applied like any other, through ``apply_payment_status``, so a payment found
this way is booked exactly once, whatever else learns of it at the same time.
"""

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from shared.audit import record_audit
from shared.callbacks.apply import apply_payment_status
from shared.callbacks.intake import FIELD_PATTERNS
from shared.callbacks.lost_payments import resolve_lost_payment_reviews
from shared.callbacks.queue import note_gateway_result
from shared.channels import credentials
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import invoice_number_candidates
from shared.linkpay.client import ChannelCredentials, EveryPayClient, Outcome, PaymentStatus
from shared.models import Invoice, PaymentAttempt, PaymentChannel, utcnow
from shared.users import require_permission

log = logging.getLogger(__name__)

_REFERENCE = re.compile(FIELD_PATTERNS["payment_reference"])


class Found(StrEnum):
    BOOKED = "booked"  # ours; applied now (booked, or its state recorded)
    KNOWN = "known"  # ours; already known as EveryPay describes it
    NOT_OURS = "not_ours"
    NOT_FOUND = "not_found"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class FindResult:
    found: Found
    message: str
    invoice_id: int | None = None


@dataclass(frozen=True)
class _Channel:
    id: int
    name: str
    api_username: str


def find_payment(*, actor: str, channel_id: int | None, payment_reference: str) -> FindResult:
    """Asks EveryPay about ``payment_reference`` on the channel (every active channel when
    None) and books it if it is for one of the channel's invoices."""
    reference = payment_reference.strip()
    if not _REFERENCE.fullmatch(reference):
        raise ValidationError(
            "A payment reference is 1 to 64 letters and digits, as the EveryPay portal or the "
            "customer's receipt shows it.",
            field="payment_reference",
        )
    with read_session() as session:
        require_permission(session, actor=actor, permission="review")
        channels = _channels(session, channel_id=channel_id)
        asked = [
            (_Channel(c.id, c.name, c.api_username), credentials(c))
            for c in channels
            if c.api_secret_encrypted
        ]
    if not asked:
        raise ValidationError("No LinkPay channel with an API secret to ask EveryPay with.")
    result = _ask(actor=actor, reference=reference, asked=asked)
    with write_session() as session:
        record_audit(
            session,
            actor=actor,
            action="payment.find",
            entity_type="invoice" if result.invoice_id else "",
            entity_id=result.invoice_id or "",
            outcome=result.found.value,
            details={"payment_reference": reference, "result": result.message[:300]},
        )
    return result


def known_payment_state(*, channel_id: int, payment_reference: str) -> str | None:
    """The state last recorded for one of the channel's payments; None while unknown."""
    with read_session() as session:
        return session.exec(
            select(PaymentAttempt.state)
            .where(col(PaymentAttempt.payment_reference) == payment_reference)
            .where(col(PaymentAttempt.channel_id) == channel_id)
        ).first()


def _channels(session: Session, *, channel_id: int | None) -> list[PaymentChannel]:
    if channel_id is None:
        return list(
            session.exec(
                select(PaymentChannel)
                .where(col(PaymentChannel.active).is_(True))
                .order_by(col(PaymentChannel.id))
            ).all()
        )
    channel = session.get(PaymentChannel, channel_id)
    if channel is None:
        raise ValidationError(
            "There is no channel #{channel_id}.", channel_id=channel_id, field="channel"
        )
    return [channel]


def _ask(
    *, actor: str, reference: str, asked: list[tuple[_Channel, ChannelCredentials]]
) -> FindResult:
    unreachable: list[str] = []
    elsewhere: list[str] = []
    for channel, channel_credentials in asked:
        asked_at = utcnow()
        with EveryPayClient(channel_credentials) as client:
            answer = client.get_payment(reference)
        note_gateway_result(channel_id=channel.id, result=answer)
        if answer.outcome is Outcome.NOT_FOUND:
            continue
        if answer.outcome is not Outcome.OK or answer.status is None:
            unreachable.append(f"{channel.name}: {answer.error or answer.outcome.value}")
            continue
        status = answer.status
        if status.api_username != channel.api_username:
            # Another merchant account's payment: another channel may hold it.
            elsewhere.append(status.api_username)
            continue
        problem = _not_for_an_invoice(channel=channel, status=status)
        if problem:
            return FindResult(Found.NOT_OURS, problem)
        return _apply(actor=actor, channel=channel, reference=reference, status=status, at=asked_at)
    if unreachable:
        return FindResult(
            Found.UNREACHABLE,
            f"EveryPay could not be asked ({'; '.join(unreachable)}). Nothing changed; try "
            "again later.",
        )
    if elsewhere:
        return FindResult(
            Found.NOT_OURS,
            f"Payment {reference} belongs to EveryPay API user {elsewhere[0]!r}, which is not "
            "one of our channels'. Nothing was booked.",
        )
    return FindResult(
        Found.NOT_FOUND,
        f"EveryPay knows no payment {reference} for "
        f"{'this channel' if len(asked) == 1 else 'any of the channels'}. Check the "
        "reference: it is the payment's, not the order's.",
    )


def _not_for_an_invoice(*, channel: _Channel, status: PaymentStatus) -> str | None:
    # Checked before applying: apply_payment_status would also refuse it, but would file it
    # as a forged callback to the channel's Callback URL, which this is not.
    with read_session() as session:
        match = session.exec(
            select(Invoice.id)
            .where(col(Invoice.number).in_(invoice_number_candidates(status.order_reference)))
            .where(col(Invoice.channel_id) == channel.id)
        ).first()
    if match is not None:
        return None
    return (
        f"Payment {status.payment_reference} ({status.payment_state}, order reference "
        f"{status.order_reference}) is on {channel.name}'s EveryPay account but not for one of "
        "its invoices: probably another system's payment. Nothing was booked."
    )


def _apply(
    *, actor: str, channel: _Channel, reference: str, status: PaymentStatus, at: datetime
) -> FindResult:
    with write_session() as session:
        applied = apply_payment_status(
            session,
            channel_id=channel.id,
            asked_reference=reference,
            answer=status,
            asked_at=at,
            source="find_payment",
        )
        if applied.ours and applied.invoice_id is not None:
            resolve_lost_payment_reviews(
                session,
                invoice_id=applied.invoice_id,
                resolution=f"Payment {reference} found by {actor}: {applied.outcome}"[:1000],
            )
    log.info("find payment %s by %s: %s", reference[:16], actor, applied.outcome)
    if not applied.ours:
        return FindResult(Found.NOT_OURS, f"Not booked: {applied.outcome}.")
    found = Found.BOOKED if applied.changed else Found.KNOWN
    prefix = "Found and applied" if applied.changed else "Already known, nothing changed"
    return FindResult(found, f"{prefix}: {applied.outcome}.", invoice_id=applied.invoice_id)
