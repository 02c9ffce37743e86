"""The safety net: re-asks EveryPay about every unfinished payment and every callback that
is still waiting, so a lost callback or a crash never leaves a paid invoice unpaid.

Runs at start-up and on a timer inside the callback service, from ``linkpay-desk
reconcile``, and for one payment from the dashboard's "Reconcile now". It applies answers
through the same function as the callback worker. An answer it gets from EveryPay counts
as the gateway's return like the worker's do: the channel's waiting callbacks are due now.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import col, select

from shared.audit import record_audit
from shared.callbacks.apply import apply_payment_status, recheck_at
from shared.callbacks.processing import run_claimed_event
from shared.callbacks.queue import claim_next_event, note_gateway_result, worker_name
from shared.channels import credentials
from shared.db import read_session, write_session
from shared.linkpay.client import EveryPayClient, Outcome
from shared.models import PaymentAttempt, PaymentChannel, utcnow

log = logging.getLogger(__name__)

# One pass does at most this much; the next timer tick continues where it stopped.
BATCH = 500


@dataclass
class ReconcileReport:
    callbacks_processed: int = 0
    payments_checked: int = 0
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"Reconciled: {self.callbacks_processed} waiting callback(s) processed, "
            f"{self.payments_checked} unfinished payment(s) re-checked, "
            f"{len(self.changes)} change(s), {len(self.problems)} problem(s)."
        ]
        lines += [f"  changed: {change}" for change in self.changes]
        lines += [f"  problem: {problem}" for problem in self.problems]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Check:
    text: str
    changed: bool = False
    ok: bool = True


def reconcile_once(*, now: datetime | None = None) -> ReconcileReport:
    """One pass; ``now`` (default: the wall clock) lets a test drive it on a simulated one."""
    report = ReconcileReport()
    claimant = worker_name("reconciler")
    for _ in range(BATCH):
        claimed = claim_next_event(worker=claimant, now=now)
        if claimed is None:
            break
        report.callbacks_processed += 1
        report.changes.append(f"callback #{claimed.id}: {run_claimed_event(claimed, now=now)}")
    for attempt_id in _due_attempt_ids(now=now or utcnow()):
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
            report.changes.append(check.text)
    if report.changes or report.problems:
        log.info("%s", report)
    return report


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


def _due_attempt_ids(*, now: datetime) -> list[int]:
    with read_session() as session:
        return list(
            session.exec(
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
        )


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
        result = client.get_payment(reference)
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
        return _Check(f"payment {reference[:12]}…: {applied.outcome}", changed=applied.changed)
    # Unknown for now: ask again later, on the same slowing schedule as a pending state.
    with write_session() as session:
        session.exec(
            update(PaymentAttempt)
            .where(col(PaymentAttempt.id) == attempt_id)
            .values(next_check_at=recheck_at(attempt=attempt, now=asked_at))
        )
    error = result.error or result.outcome.value
    return _Check(f"payment {reference[:12]}…: EveryPay gave no usable answer ({error})", ok=False)
