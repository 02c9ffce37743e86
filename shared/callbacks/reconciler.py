"""The safety net: re-asks EveryPay about every unfinished payment and every callback that
is still waiting, so a lost callback or a crash never leaves a paid invoice unpaid.

Runs at start-up and on a timer inside the callback service, from ``linkpay-desk
reconcile``, and for one payment from the dashboard's "Reconcile now". It applies answers
through the same function as the callback worker. Each pass ends with the lost-payment
check (``shared.callbacks.lost_payments``). An answer it gets from EveryPay counts
as the gateway's return like the worker's do: the channel's waiting callbacks are due now.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, or_, update
from sqlmodel import col, select

from shared.audit import record_audit
from shared.callbacks.apply import apply_payment_status, recheck_at
from shared.callbacks.counters import WORKER_COUNTERS, ask_everypay
from shared.callbacks.lost_payments import LostPaymentReport, check_lost_payments
from shared.callbacks.processing import run_claimed_event
from shared.callbacks.queue import (
    ClaimedEvent,
    claim_next_event,
    note_gateway_result,
    worker_name,
)
from shared.channels import credentials
from shared.db import read_session, write_session
from shared.linkpay.client import EveryPayClient, Outcome
from shared.models import (
    CallbackEvent,
    CallbackStatus,
    PaymentAttempt,
    PaymentChannel,
    ReconcilerRun,
    utcnow,
)

log = logging.getLogger(__name__)

# One pass does at most this much; the next timer tick continues where it stopped.
BATCH = 500
# The Reconciler panel's history: a day of passes at the default interval of a minute.
RUNS_KEPT = 1440
# Of each kind, the report lines a run keeps (its counts cover the rest).
RUN_LINES_KEPT = 20
RUN_LINE_CHARS = 300


@dataclass
class ReconcileReport:
    callbacks_processed: int = 0
    payments_checked: int = 0
    # One line per payment whose state or booking changed, by payment reference: a
    # payment changed by its callback and then re-checked is listed once, as it ended.
    changed_payments: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    lost_payments: LostPaymentReport = field(default_factory=LostPaymentReport)

    def __str__(self) -> str:
        lines = [
            f"Reconciled: {self.callbacks_processed} waiting callback(s) processed, "
            f"{self.payments_checked} unfinished payment(s) re-checked, "
            f"{len(self.changed_payments)} payment(s) changed, "
            f"{len(self.problems)} problem(s)."
        ]
        lines += [f"  changed: {change}" for change in self.changed_payments.values()]
        lines += [f"  problem: {problem}" for problem in self.problems]
        if self.lost_payments.flagged or self.lost_payments.resolved:
            lines.append(str(self.lost_payments))
        return "\n".join(lines)


@dataclass(frozen=True)
class _Check:
    text: str
    reference: str = ""
    changed: bool = False
    ok: bool = True


def reconcile_once(*, now: datetime | None = None, due_only: bool = True) -> ReconcileReport:
    """One pass; ``now`` (default: the wall clock) lets a test drive it on a simulated one.

    ``due_only`` (the timer's pass) asks only about payments whose next check has come, at
    most ``BATCH`` of them; otherwise (``linkpay-desk reconcile``) about every unfinished
    payment, however recently it was asked about.
    """
    report = ReconcileReport()
    started_at = now or utcnow()
    claimant = worker_name("reconciler")
    for _ in range(BATCH):
        claimed = claim_next_event(worker=claimant, now=now)
        if claimed is None:
            break
        report.callbacks_processed += 1
        _run_callback(claimed, report=report, now=now)
    for attempt_id in _attempt_ids(now=now or utcnow(), due_only=due_only):
        try:
            check = _check_attempt(attempt_id=attempt_id, source="reconciler", now=now)
        except Exception as error:
            # One broken payment (say, an undecryptable secret) must not stop the rest.
            log.exception("reconciling payment attempt #%s failed", attempt_id)
            check = _Check(f"payment attempt #{attempt_id}: {type(error).__name__}", ok=False)
        report.payments_checked += 1
        if not check.ok:
            report.problems.append(check.text)
        elif check.changed:
            report.changed_payments[check.reference] = check.text
    try:
        report.lost_payments = check_lost_payments(now=now)
    except Exception as error:
        log.exception("the lost-payment check failed")
        report.problems.append(f"lost-payment check: {type(error).__name__}")
    if report.changed_payments or report.problems or report.lost_payments.flagged:
        log.info("%s", report)
    try:
        _record_run(report, started_at=started_at, scope="due" if due_only else "all")
    except Exception:
        # The history is for people to read; the pass itself has done its work.
        log.exception("recording the reconciler's run failed")
    return report


def _record_run(report: ReconcileReport, *, started_at: datetime, scope: str) -> None:
    """Keeps the pass for the Reconciler panel, and forgets the runs beyond RUNS_KEPT."""

    def lines(texts) -> list[str]:
        return [text[:RUN_LINE_CHARS] for text in list(texts)[:RUN_LINES_KEPT]]

    with write_session() as session:
        run = ReconcilerRun(
            started_at=started_at,
            finished_at=max(utcnow(), started_at),
            scope=scope,
            callbacks_processed=report.callbacks_processed,
            payments_checked=report.payments_checked,
            changed_count=len(report.changed_payments),
            problem_count=len(report.problems),
            lost_flagged=len(report.lost_payments.flagged),
            lost_resolved=len(report.lost_payments.resolved),
            changes=lines(
                [
                    *report.changed_payments.values(),
                    *(f"lost payment flagged: {text}" for text in report.lost_payments.flagged),
                    *(f"lost payment resolved: {text}" for text in report.lost_payments.resolved),
                ]
            ),
            problems=lines(report.problems),
        )
        session.add(run)
        session.flush()
        session.exec(delete(ReconcilerRun).where(col(ReconcilerRun.id) <= run.id - RUNS_KEPT))


def _run_callback(claimed: ClaimedEvent, *, report: ReconcileReport, now: datetime | None) -> None:
    reference = claimed.payment_reference
    before = _payment_snapshot(reference)
    outcome = run_claimed_event(claimed, now=now)
    with read_session() as session:
        status = session.exec(
            select(CallbackEvent.status).where(col(CallbackEvent.id) == claimed.id)
        ).one()
    if status in (CallbackStatus.PENDING, CallbackStatus.NEEDS_ATTENTION):
        report.problems.append(f"callback #{claimed.id}: {outcome}")
    elif _payment_snapshot(reference) != before:
        report.changed_payments[reference] = f"payment {reference[:12]}…: {outcome}"


def _payment_snapshot(reference: str) -> tuple[str, int] | None:
    """What a callback may change of its payment: the state and the money booked."""
    with read_session() as session:
        row = session.exec(
            select(PaymentAttempt.state, PaymentAttempt.booked_minor).where(
                col(PaymentAttempt.payment_reference) == reference
            )
        ).first()
    return None if row is None else (row[0], row[1])


def reconcile_attempt(*, attempt_id: int, actor: str) -> str:
    """Asks EveryPay about one payment now, whatever its state, and applies the answer."""
    check = _check_attempt(attempt_id=attempt_id, source="manual")
    with write_session() as session:
        record_audit(
            session,
            actor=actor,
            action="payment_attempt.reconcile",
            entity_type="payment_attempt",
            entity_id=attempt_id,
            outcome="ok" if check.ok else "failed",
            details={"result": check.text[:300]},
        )
    return check.text


def _attempt_ids(*, now: datetime, due_only: bool) -> Iterator[int]:
    if due_only:
        with read_session() as session:
            due = session.exec(
                select(PaymentAttempt.id)
                .where(col(PaymentAttempt.is_final).is_(False))
                .where(
                    or_(
                        col(PaymentAttempt.next_check_at).is_(None),
                        col(PaymentAttempt.next_check_at) <= now,
                    )
                )
                .order_by(col(PaymentAttempt.next_check_at))
                .limit(BATCH)
            ).all()
        # Yielded after the session is closed: no transaction stays open over API calls.
        yield from due
        return
    # Every unfinished payment, a batch at a time in id order: re-checking one pushes its
    # next check later, so an order by next check would visit some twice and others never.
    last_id = 0
    while True:
        with read_session() as session:
            batch = session.exec(
                select(PaymentAttempt.id)
                .where(col(PaymentAttempt.is_final).is_(False))
                .where(col(PaymentAttempt.id) > last_id)
                .order_by(col(PaymentAttempt.id))
                .limit(BATCH)
            ).all()
        if not batch:
            return
        yield from batch
        last_id = batch[-1]


def _check_attempt(*, attempt_id: int, source: str, now: datetime | None = None) -> _Check:
    with read_session() as session:
        attempt = session.get(PaymentAttempt, attempt_id)
        if attempt is None:
            return _Check(f"Payment attempt #{attempt_id} does not exist.", ok=False)
        channel = session.get(PaymentChannel, attempt.channel_id)
        if channel is None:
            return _Check(f"Payment attempt #{attempt_id} has no channel.", ok=False)
        channel_credentials = credentials(channel)
    reference = attempt.payment_reference
    asked_at = now or utcnow()
    with EveryPayClient(channel_credentials) as client:
        result = ask_everypay(lambda: client.get_payment(reference))
    note_gateway_result(channel_id=attempt.channel_id, result=result, now=now)
    if result.outcome is Outcome.OK and result.status is not None:
        with write_session() as session:
            applied = apply_payment_status(
                session,
                channel_id=attempt.channel_id,
                asked_reference=reference,
                answer=result.status,
                asked_at=asked_at,
                source=source,
            )
        WORKER_COUNTERS.answer_applied(money_moved=applied.money_moved)
        return _Check(
            f"payment {reference[:12]}…: {applied.outcome}",
            reference=reference,
            changed=applied.changed,
        )
    # Unknown for now: ask again later, on the same slowing schedule as a pending state.
    with write_session() as session:
        session.exec(
            update(PaymentAttempt)
            .where(col(PaymentAttempt.id) == attempt_id)
            .values(next_check_at=recheck_at(attempt=attempt, now=asked_at))
        )
    error = result.error or result.outcome.value
    return _Check(
        f"payment {reference[:12]}…: EveryPay gave no usable answer ({error})",
        reference=reference,
        ok=False,
    )
