"""Invoice numbers are gapless per series, even when two processes issue at once."""

import multiprocessing
import os
from datetime import date, timedelta

import pytest
from sqlmodel import col, select

from shared.audit import SYSTEM_ACTOR
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import DraftInput, LineInput, create_draft, issue_invoice
from shared.models import AuditLog, Invoice
from shared.number_series import SeriesInput, add_series
from shared.numbering import INVOICE, BackdatedIssue
from tests.utils.factories import make_customer

PER_PROCESS = 15


def _issue_all(database_url: str, data_dir: str, invoice_ids: list[int], start) -> None:
    os.environ["LINKPAY_DATABASE_URL"] = database_url
    os.environ["LINKPAY_DATA_DIR"] = data_dir
    start.wait()
    for invoice_id in invoice_ids:
        with write_session() as session:
            issue_invoice(session, actor=SYSTEM_ACTOR, invoice_id=invoice_id)


def _drafts(count: int, *, series: str | None = None, issue_date: date | None = None) -> list[int]:
    customer = make_customer()
    ids = []
    for _ in range(count):
        with write_session() as session:
            draft = create_draft(
                session,
                actor="test",
                data=DraftInput(
                    customer_id=customer.id,
                    lines=[LineInput("Service", "1", "10", "21")],
                    issue_date=issue_date,
                ),
                series=series,
            )
            ids.append(draft.id)
    return ids


def _add_series(prefix: str, **shape) -> None:
    with write_session() as session:
        add_series(
            session, actor="test", data=SeriesInput(document_type=INVOICE, prefix=prefix, **shape)
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("series", "expected"),
    [
        (None, "INV-{year}-{n:04d}"),
        ("R/LV", "R/LV-{n:06d}"),  # a configured series without a yearly reset
    ],
)
def test_two_processes_issuing_at_once_get_gapless_unique_numbers(
    any_db, isolated_settings, series, expected
):
    if series:
        _add_series(series, yearly_reset=False, digits=6)
    ids = _drafts(PER_PROCESS * 2, series=series)
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
    year = date.today().year
    assert numbers == [expected.format(year=year, n=n) for n in range(1, PER_PROCESS * 2 + 1)]


def _issue_unless_back_dated(
    database_url: str, data_dir: str, invoice_ids: list[int], start
) -> None:
    os.environ["LINKPAY_DATABASE_URL"] = database_url
    os.environ["LINKPAY_DATA_DIR"] = data_dir
    start.wait()
    for invoice_id in invoice_ids:
        try:
            with write_session() as session:
                issue_invoice(session, actor=SYSTEM_ACTOR, invoice_id=invoice_id)
        except BackdatedIssue:
            continue


@pytest.mark.slow
def test_racing_issuers_never_number_an_earlier_date_after_a_later_one(any_db, isolated_settings):
    """Two processes issue drafts of interleaved dates at once, never confirming: the
    numbers stay gapless and their dates never go backwards, because each issuer checks
    the dates only once it holds the series' counter row."""
    ids = []
    for day in range(PER_PROCESS * 2):
        ids += _drafts(1, issue_date=date(2026, 6, 1) + timedelta(days=day))
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    # One process takes the even days in order, the other the odd days from the last.
    shares = [ids[0::2], list(reversed(ids[1::2]))]
    workers = [
        context.Process(
            target=_issue_unless_back_dated,
            args=(any_db, str(isolated_settings), share, start),
        )
        for share in shares
    ]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    with read_session() as session:
        issued = session.exec(
            select(Invoice.number, Invoice.issue_date)
            .where(col(Invoice.number).is_not(None))
            .order_by(col(Invoice.number))
        ).all()
    assert [number for number, _ in issued] == [
        f"INV-2026-{n:04d}" for n in range(1, len(issued) + 1)
    ]
    dates = [day for _, day in issued]
    assert dates == sorted(dates)


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
    from shared.numbering import CREDIT_NOTE, INVOICE, assign_number

    def number(document_type: str, day: date) -> str:
        with write_session() as session:
            return assign_number(session, document_type=document_type, prefix=None, day=day).number

    assert number(INVOICE, date(2026, 3, 1)) == "INV-2026-0001"
    assert number(CREDIT_NOTE, date(2026, 3, 1)) == "KR-2026-0001"
    assert number(INVOICE, date(2027, 1, 5)) == "INV-2027-0001"
    assert number(INVOICE, date(2026, 3, 2)) == "INV-2026-0002"


def _issue(invoice_id: int, *, confirm: bool = False) -> Invoice:
    with write_session() as session:
        return issue_invoice(
            session, actor="test", invoice_id=invoice_id, confirm_backdated=confirm
        )


def test_a_back_dated_invoice_asks_before_taking_the_next_number(any_db):
    (november,) = _drafts(1, issue_date=date(2026, 11, 30))
    (january,) = _drafts(1, issue_date=date(2026, 1, 15))
    assert _issue(november).number == "INV-2026-0001"

    with pytest.raises(BackdatedIssue) as asked:
        _issue(january)
    assert str(asked.value) == (
        "INV-2026-0001 is dated 30.11.2026; this invoice, dated 15.01.2026, would get "
        "INV-2026-0002 after it. Issue anyway?"
    )
    with read_session() as session:
        assert session.get(Invoice, january).number is None  # nothing was kept

    issued = _issue(january, confirm=True)
    assert (issued.number, issued.issue_date) == ("INV-2026-0002", date(2026, 1, 15))
    with read_session() as session:
        audit = session.exec(
            select(AuditLog).where(
                AuditLog.action == "invoice.issue", AuditLog.entity_id == str(january)
            )
        ).one()
    assert audit.details == {"number": "INV-2026-0002", "confirmed_after": "INV-2026-0001"}


def test_the_back_date_check_stays_within_the_series_and_its_year(any_db):
    _add_series("SHOP")
    (shop_december,) = _drafts(1, series="SHOP", issue_date=date(2026, 12, 20))
    (inv_january,) = _drafts(1, issue_date=date(2027, 1, 5))
    (inv_march,) = _drafts(1, issue_date=date(2026, 3, 1))
    assert _issue(shop_december).number == "SHOP-2026-0001"
    assert _issue(inv_january).number == "INV-2027-0001"
    # Neither SHOP's later date nor INV's in the next year comes before INV-2026-0001.
    assert _issue(inv_march).number == "INV-2026-0001"
    _add_series("ALL", yearly_reset=False)
    (all_2027, all_2026) = _drafts(1, series="ALL", issue_date=date(2027, 1, 2)) + _drafts(
        1, series="ALL", issue_date=date(2026, 12, 31)
    )
    assert _issue(all_2027).number == "ALL-0001"
    with pytest.raises(BackdatedIssue, match=r"ALL-0001 is dated 02\.01\.2027"):
        _issue(all_2026)  # without a yearly reset, the years run on


def test_an_earlier_credit_note_date_asks_too(any_db):
    from shared.ledger.credit_notes import issue_credit_note
    from tests.utils.factories import make_invoice

    invoice = make_invoice(channel=None, lines=[LineInput("Service", "2", "10", "21")])

    def credit(day: date, *, confirm: bool = False) -> str:
        with write_session() as session:
            return issue_credit_note(
                session,
                actor="test",
                invoice_id=invoice.id,
                reason="Returned",
                lines=[LineInput("Service", "1", "10", "21")],
                today=day,
                confirm_backdated=confirm,
            ).number

    assert credit(date(2026, 6, 30)) == "KR-2026-0001"
    with pytest.raises(BackdatedIssue, match=r"this credit note, dated 01\.06\.2026, would get"):
        credit(date(2026, 6, 1))
    assert credit(date(2026, 6, 1), confirm=True) == "KR-2026-0002"
