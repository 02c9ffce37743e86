"""SQLite commits that acknowledge a callback wait for the disk (synchronous=FULL): in WAL
mode NORMAL can lose the last commits on power loss, after EveryPay was answered 200.
Only a worker's claim, which a crash merely repeats, commits without the fsync."""

from collections.abc import Iterator

import pytest
from sqlalchemy import event

from shared.callbacks.intake import receive_callback
from shared.callbacks.queue import claim_next_event
from shared.channels import callback_token
from shared.db import get_engine, write_session
from shared.models import Customer
from tests.utils.factories import make_channel

FULL, NORMAL = 2, 1


@pytest.fixture
def commit_levels(db: str) -> Iterator[list[int]]:
    """The synchronous level each commit on the SQLite engine ran under, in order."""
    levels: list[int] = []

    def record(connection) -> None:
        driver = connection.connection.driver_connection
        levels.append(driver.execute("PRAGMA synchronous").fetchone()[0])

    engine = get_engine(db)
    event.listen(engine, "commit", record)
    yield levels
    event.remove(engine, "commit", record)


def test_acknowledged_callbacks_are_committed_with_full_sync(commit_levels) -> None:
    token = callback_token(make_channel())
    commit_levels.clear()

    result = receive_callback(
        channel_token=token,
        params={"payment_reference": "a" * 64, "order_reference": "INV-2026-0001"},
        http_method="GET",
        remote_addr="127.0.0.1",
    )

    assert result.queued
    assert commit_levels == [FULL]


def test_a_claim_skips_the_fsync_and_the_next_write_waits_for_it_again(commit_levels) -> None:
    token = callback_token(make_channel())
    receive_callback(
        channel_token=token,
        params={"payment_reference": "b" * 64},
        http_method="GET",
        remote_addr="127.0.0.1",
    )
    commit_levels.clear()

    assert claim_next_event(worker="test") is not None
    with write_session() as session:
        session.add(Customer(name="Northwind Ltd"))

    assert commit_levels == [NORMAL, FULL]
