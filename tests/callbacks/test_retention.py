"""Old finished callbacks are deleted; nothing unfinished, nothing a review points to."""

from datetime import timedelta

import pytest
from sqlmodel import select

from callback_service.background import Background
from shared.callbacks.retention import purge_old_callbacks
from shared.config import get_settings
from shared.db import read_session, write_session
from shared.models import CallbackEvent, CallbackStatus, ReviewItem, ReviewKind, utcnow
from shared.operations.cli import main as cli_main
from tests.callbacks.helpers import Shop
from tests.utils.callback_service import new_reference, wait_until

OLD = timedelta(days=91)  # the default keeps 90 days
RECENT = timedelta(days=89)


def _callback(
    shop: Shop, status: str, *, age: timedelta, processed_age: timedelta | None = None
) -> int:
    received = utcnow() - age
    processed = None if processed_age is None else utcnow() - processed_age
    with write_session() as session:
        event = CallbackEvent(
            channel_id=shop.channel.id,
            received_at=received,
            payment_reference=new_reference(),
            status=status,
            processed_at=processed,
        )
        session.add(event)
        session.flush()
        assert event.id is not None
        return event.id


def _kept() -> set[int]:
    with read_session() as session:
        return set(session.exec(select(CallbackEvent.id)).all())


def _point_review_at(shop: Shop, event_id: int) -> None:
    with write_session() as session:
        session.add(
            ReviewItem(
                kind=ReviewKind.UNVERIFIED_CALLBACK,
                dedupe_key=f"test:{event_id}",
                reason="kept for a person",
                callback_event_id=event_id,
                channel_id=shop.channel.id,
            )
        )


def test_only_old_finished_callbacks_no_review_points_to_are_deleted(shop: Shop) -> None:
    deletable = [
        _callback(shop, CallbackStatus.DONE, age=OLD, processed_age=OLD),
        _callback(shop, CallbackStatus.NOT_OURS, age=OLD, processed_age=OLD),
        _callback(shop, CallbackStatus.REJECTED, age=OLD),
    ]
    kept = [
        _callback(shop, CallbackStatus.PENDING, age=OLD),
        _callback(shop, CallbackStatus.PROCESSING, age=OLD),
        _callback(shop, CallbackStatus.NEEDS_ATTENTION, age=OLD, processed_age=OLD),
        _callback(shop, CallbackStatus.DONE, age=RECENT, processed_age=RECENT),
        # Received long ago but reprocessed lately: its latest outcome is recent news.
        _callback(shop, CallbackStatus.DONE, age=OLD, processed_age=timedelta(days=1)),
    ]
    in_review = _callback(shop, CallbackStatus.NOT_OURS, age=OLD, processed_age=OLD)
    _point_review_at(shop, in_review)

    deleted = purge_old_callbacks(batch_size=2)  # several batches

    assert deleted == len(deletable)
    assert _kept() == {*kept, in_review}


def test_retention_zero_keeps_everything(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKPAY_CALLBACK_RETENTION_DAYS", "0")
    get_settings.cache_clear()
    old = _callback(shop, CallbackStatus.DONE, age=timedelta(days=3650), processed_age=OLD)

    assert purge_old_callbacks() == 0
    assert _kept() == {old}


def test_the_command_deletes_old_callbacks(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LINKPAY_CALLBACK_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    old = _callback(shop, CallbackStatus.REJECTED, age=timedelta(days=31))
    recent = _callback(shop, CallbackStatus.REJECTED, age=timedelta(days=29))

    assert cli_main(["purge-callbacks"]) == 0

    assert "Deleted 1 finished callbacks older than 30 days" in capsys.readouterr().out
    assert _kept() == {recent} and old not in _kept()


def test_the_service_background_deletes_old_callbacks(shop: Shop) -> None:
    old = _callback(shop, CallbackStatus.DONE, age=OLD, processed_age=OLD)
    waiting = _callback(shop, CallbackStatus.PENDING, age=OLD)
    background = Background()
    background.start()
    try:
        wait_until(lambda: old not in _kept(), timeout=20, message="the retention job")
    finally:
        background.stop()

    assert waiting in _kept()
