"""The three-way match: EveryPay payouts on the bank statement against LinkPay payments.

EveryPay pays settled LinkPay money out to the merchant's bank account in batches, net of
its fee. After a statement is imported, ``explain_payouts`` finds its payout credits,
explains each by the payments it covers, records the fee and marks those payments "in
bank" (``PaymentAttempt.in_bank_at``/``payout_id``).

Recognising a payout (``is_everypay_payout``, also used by customer matching to leave
payouts alone) — a credit, not a reversal, whose transaction has any of:

- a counterparty IBAN in ``EVERYPAY_PAYOUT_IBANS``,
- a counterparty name in ``EVERYPAY_PAYOUT_NAMES`` (compared case- and accent-blind),
- remittance text matching ``EVERYPAY_PAYOUT_PATTERN`` ("EVERYPAY PAYOUT …").

Explaining it. EveryPay's API v4 documents no payout list or report (only the read of one
payment), so a payout is explained from what LinkPay Desk knows, assuming:

- The channel, in the payout's currency: the one whose API username the remittance text
  names (the sandbox's "EVERYPAY PAYOUT <api username> <day> <id>"), else those on the
  statement's bank account, else all of them (a merchant account is often kept without
  its IBAN, and most companies have one EveryPay contract).
- The payments it covers: those channels' payments whose money stays (settled, or
  refunded with an amount left), not in the bank yet, settled (``transaction_time``, UTC)
  on the day the remittance text names (YYYY-MM-DD) when it names one, else before the
  payout's value date. Their standing amounts (after refunds) make the gross.
- The fee: from the channel's terms when set (``payout_fee_percent`` of each payment,
  rounded half up per payment, plus ``payout_fee_fixed_minor`` per payment); without
  terms, whatever the gross exceeds the payout by (never negative).

difference = payout - (gross - fee). Zero: the payout is explained and its payments are
marked in bank. Otherwise an exception (``ReviewKind.PAYOUT_DIFFERENCE``) holds the
difference — above zero, money from a payment LinkPay Desk never heard of; below, a
payment it counts that EveryPay has not paid out (yet) or a higher fee — and no payment
is marked, since which of them the payout holds is not known.

Each statement transaction is explained once (unique ``EveryPayPayout
.statement_transaction_id``, inserted first): running it twice, or two imports at once on
PostgreSQL, adds nothing twice. Payments are locked and marked only while still not in
bank, so two payouts never claim one payment.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache, partial

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from shared.audit import SYSTEM_ACTOR, record_audit
from shared.callbacks.reviews import open_review
from shared.config import get_settings
from shared.db import read_session
from shared.errors import ValidationError, on_field
from shared.models import (
    BankAccount,
    BankStatementEntry,
    BankStatementTransaction,
    EveryPayPayout,
    PaymentAttempt,
    PaymentChannel,
    PayoutStatus,
    ReviewItem,
    ReviewKind,
    utcnow,
)
from shared.money import MoneyError, format_money, format_plain, parse_amount_minor, parse_decimal
from shared.states import PAYMENT_STATES, Group, in_group
from shared.text import search_key
from shared.users import require_permission

MONEY_STAYS_STATES = in_group(PAYMENT_STATES, Group.MONEY_STAYS)
_DAY = re.compile(r"\b(\d{4}-\d{2}-\d{2})\b")
_WORD = re.compile(r"[A-Za-z0-9_-]+")


@dataclass
class PayoutResult:
    payout_id: int
    reference: str
    status: str
    currency: str
    net_minor: int
    gross_minor: int
    fee_minor: int
    difference_minor: int
    payment_count: int

    def line(self) -> str:
        money = partial(format_money, currency=self.currency)
        text = (
            f"EveryPay payout {self.reference or self.payout_id}: {money(self.net_minor)} = "
            f"{self.payment_count} payments {money(self.gross_minor)} - fee "
            f"{money(self.fee_minor)}"
        )
        if self.status == PayoutStatus.EXPLAINED:
            return text + "; payments marked in bank"
        return text + f"; difference {money(self.difference_minor)}, sent to Exceptions"


def fee_for(amount_minor: int, *, percent: Decimal, fixed_minor: int) -> int:
    """EveryPay's fee for one payment: a percentage rounded half up, plus a fixed amount."""
    share = (Decimal(amount_minor) * percent / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(share) + fixed_minor


def is_everypay_payout(session: Session, *, transaction: BankStatementTransaction) -> bool:
    """Whether this statement transaction is an EveryPay payout (the rule above)."""
    entry = session.get(BankStatementEntry, transaction.entry_id)
    return entry is not None and looks_like_payout(transaction, entry)


def looks_like_payout(transaction: BankStatementTransaction, entry: BankStatementEntry) -> bool:
    """The rule above on a transaction and its entry already read."""
    if entry.direction != "credit" or entry.reversal:
        return False
    settings = get_settings()
    ibans, names, pattern = _payout_rule(
        tuple(settings.everypay_payout_ibans),
        tuple(settings.everypay_payout_names),
        settings.everypay_payout_pattern,
    )
    if transaction.counterparty_iban and transaction.counterparty_iban.upper() in ibans:
        return True
    if transaction.counterparty_name and search_key(transaction.counterparty_name) in names:
        return True
    text = f"{transaction.remittance_text} {transaction.additional_info}"
    return pattern.search(text) is not None


@lru_cache(maxsize=8)  # asked for every transaction of a statement, with the same settings
def _payout_rule(
    ibans: tuple[str, ...], names: tuple[str, ...], pattern: str
) -> tuple[frozenset[str], frozenset[str], re.Pattern]:
    """The settings' payout IBANs and names as compared, and the pattern compiled."""
    return (
        frozenset(re.sub(r"\s+", "", iban).upper() for iban in ibans),
        frozenset(search_key(name) for name in names),
        re.compile(pattern, re.IGNORECASE),
    )


@dataclass(frozen=True)
class FeeTerms:
    """A channel's fee terms as typed ("1.5", "0.10"); both "" when it has none."""

    percent: str
    fixed: str
    currency: str


def payout_fee_terms(*, channel_id: int) -> FeeTerms:
    with read_session() as session:
        channel = session.get(PaymentChannel, channel_id)
        if channel is None:
            raise ValidationError("That channel does not exist.")
        if channel.payout_fee_percent is None and channel.payout_fee_fixed_minor is None:
            return FeeTerms("", "", channel.currency)
        return FeeTerms(
            channel.payout_fee_percent or "0",
            format_plain(channel.payout_fee_fixed_minor or 0, channel.currency),
            channel.currency,
        )


def set_payout_fee_terms(
    session: Session, *, actor: str, channel_id: int, percent: str, fixed: str
) -> PaymentChannel:
    """The channel's EveryPay fee per payment; both empty clears the terms."""
    require_permission(session, actor=actor, permission="setup")
    channel = session.get(PaymentChannel, channel_id)
    if channel is None:
        raise ValidationError("That channel does not exist.")
    if not percent.strip() and not fixed.strip():
        channel.payout_fee_percent = channel.payout_fee_fixed_minor = None
    else:
        # A typing mistake is told next to the field it is in.
        try:
            rate = parse_decimal(percent.strip() or "0", field="Fee percent")
        except MoneyError as error:
            raise on_field(error, "percent") from None
        if not 0 <= rate < 100:
            raise ValidationError("The fee percent must be from 0 to below 100.", field="percent")
        try:
            fixed_minor = parse_amount_minor(
                fixed.strip() or "0", channel.currency, field="Fixed fee"
            )
        except MoneyError as error:
            raise on_field(error, "fixed") from None
        if fixed_minor < 0:
            raise ValidationError("The fixed fee cannot be below zero.", field="fixed")
        channel.payout_fee_percent = format(rate.normalize(), "f")[:8]
        channel.payout_fee_fixed_minor = fixed_minor
    channel.updated_at = utcnow()
    session.add(channel)
    record_audit(
        session,
        actor=actor,
        action="channel.payout_fee_terms",
        entity_type="payment_channel",
        entity_id=channel.id,
        details={
            "percent": channel.payout_fee_percent,
            "fixed_minor": channel.payout_fee_fixed_minor,
        },
    )
    session.flush()
    return channel


def _channels(
    session: Session, *, account_id: int, currency: str, text: str
) -> list[PaymentChannel]:
    in_currency = session.exec(
        select(PaymentChannel)
        .where(col(PaymentChannel.currency) == currency)
        .order_by(col(PaymentChannel.id))
    ).all()
    words = set(_WORD.findall(text))
    named = [channel for channel in in_currency if channel.api_username in words]
    on_account = [channel for channel in in_currency if channel.bank_account_id == account_id]
    return named or on_account or list(in_currency)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _covered(
    session: Session, *, channel_ids: list[int], day: date | None, value_date: date | None
) -> list[PaymentAttempt]:
    """The payments the payout is taken to hold, locked until the transaction ends; a
    payment another payout claimed meanwhile is re-read and left out (PostgreSQL
    re-checks the condition after the wait)."""
    query = select(PaymentAttempt).where(
        col(PaymentAttempt.channel_id).in_(channel_ids),
        col(PaymentAttempt.state).in_(MONEY_STAYS_STATES),
        col(PaymentAttempt.standing_amount_minor) > 0,
        col(PaymentAttempt.payout_id).is_(None),
        col(PaymentAttempt.transaction_time).is_not(None),
    )
    if day is not None:
        query = query.where(
            col(PaymentAttempt.transaction_time) >= _midnight(day),
            col(PaymentAttempt.transaction_time) < _midnight(day + timedelta(days=1)),
        )
    elif value_date is not None:
        query = query.where(col(PaymentAttempt.transaction_time) < _midnight(value_date))
    return list(
        session.exec(
            query.order_by(col(PaymentAttempt.id))
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        ).all()
    )


def _expected_fee(
    attempts: list[PaymentAttempt], channels: dict[int, PaymentChannel]
) -> int | None:
    total = 0
    for attempt in attempts:
        channel = channels[attempt.channel_id]
        if channel.payout_fee_percent is None and channel.payout_fee_fixed_minor is None:
            return None
        total += fee_for(
            attempt.standing_amount_minor,
            percent=Decimal(channel.payout_fee_percent or "0"),
            fixed_minor=channel.payout_fee_fixed_minor or 0,
        )
    return total


def _claim(session: Session, *, transaction_id: int, account_id: int, currency: str) -> int | None:
    """The new payout's id, or None when this transaction was explained already."""
    table = EveryPayPayout.__table__
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    return session.execute(
        insert.values(
            statement_transaction_id=transaction_id,
            bank_account_id=account_id,
            currency=currency,
            reference="",
            status=PayoutStatus.DIFFERENCE,
            net_minor=0,
            gross_minor=0,
            fee_minor=0,
            difference_minor=0,
            payment_count=0,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["statement_transaction_id"])
        .returning(table.c.id)
    ).scalar()


def _explain(
    session: Session,
    *,
    transaction: BankStatementTransaction,
    entry: BankStatementEntry,
    account: BankAccount,
) -> PayoutResult | None:
    payout_id = _claim(
        session, transaction_id=transaction.id, account_id=account.id, currency=entry.currency
    )
    if payout_id is None:
        return None
    text = " ".join(filter(None, [transaction.remittance_text, transaction.additional_info]))
    value_date = entry.value_date or entry.booking_date
    named_day = _DAY.search(text)
    day = date.fromisoformat(named_day.group(1)) if named_day else None
    channels = _channels(session, account_id=account.id, currency=entry.currency, text=text)
    attempts = _covered(
        session,
        channel_ids=[channel.id for channel in channels],
        day=day,
        value_date=value_date,
    )
    net = transaction.amount_minor
    gross = sum(attempt.standing_amount_minor for attempt in attempts)
    expected = _expected_fee(attempts, {channel.id: channel for channel in channels})
    fee = max(gross - net, 0) if expected is None else expected
    difference = net - (gross - fee)
    explained = difference == 0
    payout = session.get(EveryPayPayout, payout_id)
    assert payout is not None  # inserted above in this transaction
    payout.channel_id = channels[0].id if len(channels) == 1 else None
    payout.value_date = value_date
    payout.reference = (text or entry.bank_reference)[:500]
    payout.status = PayoutStatus.EXPLAINED if explained else PayoutStatus.DIFFERENCE
    payout.net_minor, payout.gross_minor, payout.fee_minor = net, gross, fee
    payout.difference_minor = difference
    payout.payment_count = len(attempts)
    if explained:
        now = utcnow()
        marked = session.exec(
            update(PaymentAttempt)
            .where(
                col(PaymentAttempt.id).in_([attempt.id for attempt in attempts]),
                col(PaymentAttempt.payout_id).is_(None),
            )
            .values(in_bank_at=now, payout_id=payout_id)
        )
        # The rows are locked above: nobody can have claimed one in between.
        assert marked.rowcount == len(attempts)
    else:
        payout.review_item_id = _open_difference(
            session, payout=payout, entry=entry, attempts=attempts
        )
    session.add(payout)
    record_audit(
        session,
        actor=SYSTEM_ACTOR,
        action="everypay_payout.explain",
        entity_type="everypay_payout",
        entity_id=payout_id,
        details={
            "status": payout.status,
            "net_minor": net,
            "gross_minor": gross,
            "fee_minor": fee,
            "difference_minor": difference,
            "payments": len(attempts),
        },
    )
    return PayoutResult(
        payout_id=payout_id,
        reference=payout.reference,
        status=payout.status,
        currency=entry.currency,
        net_minor=net,
        gross_minor=gross,
        fee_minor=fee,
        difference_minor=difference,
        payment_count=len(attempts),
    )


def _open_difference(
    session: Session,
    *,
    payout: EveryPayPayout,
    entry: BankStatementEntry,
    attempts: list[PaymentAttempt],
) -> int | None:
    money = partial(format_money, currency=payout.currency)
    difference = payout.difference_minor
    if difference > 0:
        meaning = "more: money from a payment LinkPay Desk never heard of?"
    else:
        meaning = (
            "less: a payment counted here that EveryPay has not paid out (yet), or a higher fee?"
        )
    reason = (
        f"EveryPay payout of {money(payout.net_minor)} on {payout.value_date or '?'} "
        f"({payout.reference or entry.bank_reference}): the {len(attempts)} settled payments "
        f"not yet in the bank ({money(payout.gross_minor)}) less the fee "
        f"({money(payout.fee_minor)}) make {money(payout.gross_minor - payout.fee_minor)}; "
        f"the payout is {money(abs(difference))} {meaning}"
    )
    key = f"payout_difference:{payout.statement_transaction_id}"
    open_review(
        session,
        kind=ReviewKind.PAYOUT_DIFFERENCE,
        dedupe_key=key,
        reason=reason,
        channel_id=payout.channel_id,
        amount_minor=difference,
        currency=payout.currency,
    )
    return session.exec(select(ReviewItem.id).where(ReviewItem.dedupe_key == key)).one()


def explain_payouts(session: Session, *, statement_id: int) -> list[PayoutResult]:
    """Explain every EveryPay payout the statement (``BankStatement.id``) brought, once;
    the caller owns the transaction. Returns the payouts explained by this call."""
    credits = (
        select(
            BankStatementTransaction.__table__,
            BankStatementEntry.direction,
            BankStatementEntry.reversal,
        )
        .join(BankStatementEntry, col(BankStatementEntry.id) == BankStatementTransaction.entry_id)
        .where(
            col(BankStatementEntry.statement_id) == statement_id,
            col(BankStatementEntry.direction) == "credit",
            col(BankStatementEntry.reversal).is_(False),
        )
    )
    # The rule runs on plain rows; only the payouts (a few a day) are read as objects.
    payout_ids = [row.id for row in session.execute(credits).all() if looks_like_payout(row, row)]
    if not payout_ids:
        return []
    rows = session.exec(
        select(BankStatementTransaction, BankStatementEntry, BankAccount)
        .join(BankStatementEntry, col(BankStatementEntry.id) == BankStatementTransaction.entry_id)
        .join(BankAccount, col(BankAccount.id) == BankStatementEntry.bank_account_id)
        .where(col(BankStatementTransaction.id).in_(payout_ids))
        .order_by(
            col(BankStatementEntry.value_date),
            col(BankStatementEntry.id),
            col(BankStatementTransaction.position),
        )
    ).all()
    results = []
    for transaction, entry, account in rows:
        result = _explain(session, transaction=transaction, entry=entry, account=account)
        if result is not None:
            results.append(result)
    session.flush()
    return results
