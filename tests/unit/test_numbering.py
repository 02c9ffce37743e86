"""Invoice numbers are gapless per series, even when two processes issue at once."""

import multiprocessing
import os

import pytest
from sqlmodel import select

from shared.audit import SYSTEM_ACTOR
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import DraftInput, LineInput, create_draft, issue_invoice
from shared.models import Invoice
from tests.utils.factories import make_customer

PER_PROCESS = 15


def _issue_all(database_url: str, data_dir: str, invoice_ids: list[int], start) -> None:
    os.environ["LINKPAY_DATABASE_URL"] = database_url
    os.environ["LINKPAY_DATA_DIR"] = data_dir
    start.wait()
    for invoice_id in invoice_ids:
        with write_session() as session:
            issue_invoice(session, actor=SYSTEM_ACTOR, invoice_id=invoice_id)


def _drafts(count: int) -> list[int]:
    customer = make_customer()
    ids = []
    for _ in range(count):
        with write_session() as session:
            draft = create_draft(
                session,
                actor="test",
                data=DraftInput(
                    customer_id=customer.id, lines=[LineInput("Service", "1", "10", "21")]
                ),
            )
            ids.append(draft.id)
    return ids


@pytest.mark.slow
def test_two_processes_issuing_at_once_get_gapless_unique_numbers(any_db, isolated_settings):
    ids = _drafts(PER_PROCESS * 2)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [
        context.Process(target=_issue_all, args=(any_db, str(isolated_settings), ids[i::2], start))
        for i in range(2)
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    with read_session() as session:
        numbers = sorted(n for n in session.exec(select(Invoice.number)).all())
    year = numbers[0].split("-")[1]
    assert numbers == [f"INV-{year}-{n:04d}" for n in range(1, PER_PROCESS * 2 + 1)]


def test_a_failed_issue_leaves_no_gap(db):
    ids = _drafts(2)
    with pytest.raises(RuntimeError), write_session() as session:
        issue_invoice(session, actor="test", invoice_id=ids[0])
        raise RuntimeError("crash after numbering, before commit")
    with write_session() as session:
        second = issue_invoice(session, actor="test", invoice_id=ids[1])
    assert second.number.endswith("-0001")


def test_issued_invoice_cannot_be_issued_again_or_deleted(db):
    from shared.invoicing import delete_draft

    (draft_id,) = _drafts(1)
    with write_session() as session:
        issue_invoice(session, actor="test", invoice_id=draft_id)
    with pytest.raises(ValidationError, match="already issued"), write_session() as session:
        issue_invoice(session, actor="test", invoice_id=draft_id)
    with pytest.raises(ValidationError, match="never deleted"), write_session() as session:
        delete_draft(session, actor="test", invoice_id=draft_id)


def test_series_are_numbered_separately(db):
    from shared.invoicing import next_invoice_number

    with write_session() as session:
        assert next_invoice_number(session, series="INV", year=2026) == "INV-2026-0001"
        assert next_invoice_number(session, series="CR", year=2026) == "CR-2026-0001"
        assert next_invoice_number(session, series="INV", year=2027) == "INV-2027-0001"
        assert next_invoice_number(session, series="INV", year=2026) == "INV-2026-0002"
