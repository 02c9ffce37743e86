"""The claim that hands each stored callback to exactly one worker, and the retry schedule."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, func, select

from shared.callbacks.queue import (
    claim_due_events,
    claim_next_event,
    retry_delay_seconds,
    worker_name,
)
from shared.config import get_settings
from shared.db import read_session, write_session
from shared.models import CallbackEvent, CallbackStatus, utcnow
from tests.callbacks.helpers import Shop
from tests.utils.callback_service import new_reference


def test_concurrent_workers_claim_each_event_exactly_once(shop: Shop) -> None:
    stored = {shop.callback(new_reference()) for _ in range(40)}
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def work() -> None:
        claimant = worker_name("test")
        start.wait()
        while (event := claim_next_event(worker=claimant)) is not None:
            with lock:
                claimed.append(event.id)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Counter(claimed).most_common(1)[0][1] == 1
    assert set(claimed) == stored
    # Every row the workers hold is one they were told about: none claimed and forgotten.
    with read_session() as session:
        processing = session.exec(
            select(func.count()).where(col(CallbackEvent.status) == CallbackStatus.PROCESSING)
        ).one()
    assert processing == len(stored)


def test_batched_claims_take_each_event_exactly_once(shop: Shop) -> None:
    stored = {shop.callback(new_reference()) for _ in range(60)}
    claimed: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(6)

    def work() -> None:
        claimant = worker_name("test")
        start.wait()
        while batch := claim_due_events(worker=claimant, limit=7):
            assert len(batch) <= 7
            with lock:
                claimed.extend(event.id for event in batch)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Counter(claimed).most_common(1)[0][1] == 1
    assert set(claimed) == stored
    with read_session() as session:
        claimed_by = session.exec(
            select(CallbackEvent.claimed_by, CallbackEvent.attempts).where(
                col(CallbackEvent.status) == CallbackStatus.PROCESSING
            )
        ).all()
    assert len(claimed_by) == len(stored)
    assert {attempts for _, attempts in claimed_by} == {1}


def test_retry_delays_grow_and_stay_capped_at_five_minutes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert 1 <= retry_delay_seconds(attempts=1) <= 2
    assert 8 <= retry_delay_seconds(attempts=4) <= 16
    assert 150 <= retry_delay_seconds(attempts=30) <= 300
    assert 150 <= retry_delay_seconds(attempts=100_000) <= 300
    assert retry_delay_seconds(attempts=1, retry_after=45) >= 45
    assert retry_delay_seconds(attempts=1, retry_after=86_400) <= 300
    monkeypatch.setenv("LINKPAY_CALLBACK_RETRY_CAP_SECONDS", "60")
    get_settings.cache_clear()
    assert 30 <= retry_delay_seconds(attempts=30) <= 60


def test_the_most_overdue_event_is_claimed_first_whatever_its_kind(shop: Shop) -> None:
    now = utcnow()
    pending, retried, abandoned = (shop.callback(new_reference()) for _ in range(3))
    with write_session() as session:
        for event_id, values in (
            (pending, {"next_attempt_at": now - timedelta(minutes=1)}),
            # Shown to a person and still re-asked: served in turn during a backlog.
            (
                retried,
                {
                    "status": CallbackStatus.NEEDS_ATTENTION,
                    "next_attempt_at": now - timedelta(minutes=5),
                },
            ),
            # Claimed by a worker that died: its lease ran out.
            (
                abandoned,
                {
                    "status": CallbackStatus.PROCESSING,
                    "claimed_by": "worker@gone",
                    "claimed_until": now - timedelta(seconds=1),
                    "next_attempt_at": now - timedelta(minutes=3),
                },
            ),
        ):
            session.exec(
                update(CallbackEvent).where(col(CallbackEvent.id) == event_id).values(**values)
            )
    claimant = worker_name("test")

    order = [claim_next_event(worker=claimant) for _ in range(4)]

    assert [claimed.id if claimed else None for claimed in order] == [
        retried,
        abandoned,
        pending,
        None,
    ]


def test_a_batch_claimed_by_a_worker_that_died_is_claimed_again_once_its_lease_ends(
    shop: Shop,
) -> None:
    # The crash between claim and close: nothing recorded, every event of the batch back
    # on the queue after the lease, with its try counted; a live claim is left alone.
    stored = {shop.callback(new_reference()) for _ in range(5)}
    dead = claim_due_events(worker="worker@gone", limit=5)
    assert {claimed.id for claimed in dead} == stored
    assert claim_due_events(worker=worker_name("test"), limit=5) == []

    later = utcnow() + timedelta(seconds=get_settings().worker_lease_seconds + 1)
    taken_over = claim_due_events(worker=worker_name("test"), limit=10, now=later)

    assert {claimed.id for claimed in taken_over} == stored
    assert {claimed.attempts for claimed in taken_over} == {2}
    assert claim_due_events(worker=worker_name("other"), limit=10, now=later) == []


def test_a_batch_claim_serves_every_kind_of_due_event_and_only_those(shop: Shop) -> None:
    pending, retried, abandoned, waiting, held = (shop.callback(new_reference()) for _ in range(5))
    now = utcnow()
    changes = {
        retried: {"status": CallbackStatus.NEEDS_ATTENTION, "next_attempt_at": now},
        abandoned: {
            "status": CallbackStatus.PROCESSING,
            "claimed_by": "worker@gone",
            "claimed_until": now - timedelta(seconds=1),
        },
        waiting: {"next_attempt_at": now + timedelta(minutes=5)},
        held: {
            "status": CallbackStatus.PROCESSING,
            "claimed_by": "worker@busy",
            "claimed_until": now + timedelta(minutes=1),
        },
    }
    with write_session() as session:
        for event_id, values in changes.items():
            session.exec(
                update(CallbackEvent).where(col(CallbackEvent.id) == event_id).values(**values)
            )

    claimed = claim_due_events(worker=worker_name("test"), limit=10, now=now)

    assert sorted(event.id for event in claimed) == sorted([pending, retried, abandoned])
