"""The three-way match: an EveryPay payout on the statement, explained by the settled
LinkPay payments it covers, once, with its fee; what cannot be explained is an exception."""

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func
from sqlmodel import select

from shared.bank.importing import import_statement
from shared.bank.payouts import explain_payouts, is_everypay_payout, set_payout_fee_terms
from shared.config import EVERYPAY_PAYOUT_IBAN, get_settings
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.models import (
    BankStatementTransaction,
    EveryPayPayout,
    PaymentAttempt,
    PayoutStatus,
    ReviewItem,
    ReviewKind,
)
from shared.operations.migrate import upgrade_to_head
from tests.bank.builders import PAYER_IBAN, Entry, Trx, Tx, camt053, fidavista
from tests.bank.test_importing import _cli, _waiting_for_a_lock, add_company_account
from tests.utils.factories import API_USERNAME, make_channel

DAY = "2026-11-01"
PAYOUT_TEXT = f"EVERYPAY PAYOUT {API_USERNAME} {DAY} 7"


def settled(
    channel_id: int,
    amount_minor: int,
    *,
    at: str = f"{DAY}T10:00:00",
    state: str = "settled",
    standing_minor: int | None = None,
) -> int:
    with write_session() as session:
        attempt = PaymentAttempt(
            payment_reference=f"{channel_id}-{amount_minor}-{state}-{at}",
            channel_id=channel_id,
            state=state,
            is_final=True,
            initial_amount_minor=amount_minor,
            standing_amount_minor=amount_minor if standing_minor is None else standing_minor,
            currency="EUR",
            transaction_time=datetime.fromisoformat(at).replace(tzinfo=UTC),
        )
        session.add(attempt)
        session.flush()
        return attempt.id


def payout_entry(amount: str, *, text: str = PAYOUT_TEXT, ref: str = "PAYOUT-1") -> Entry:
    return Entry(
        amount,
        ref=ref,
        booking="2026-11-02",
        value="2026-11-02",
        txs=[Tx(name="EveryPay AS", iban=EVERYPAY_PAYOUT_IBAN, text=text)],
    )


def customer_entry() -> Entry:
    return Entry("40.00", ref="CUST-1", txs=[Tx(name="SIA Klients", iban=PAYER_IBAN, text="INV 3")])


def import_and_explain(content: bytes) -> list:
    with write_session() as session:
        report = import_statement(session, actor="finance", filename="s.xml", content=content)
        return [
            payout
            for result in report.statements
            for payout in explain_payouts(session, statement_id=result.bank_statement_id)
        ]


def attempts() -> dict[int, PaymentAttempt]:
    with read_session() as session:
        return {attempt.id: attempt for attempt in session.exec(select(PaymentAttempt)).all()}


def open_differences() -> list[ReviewItem]:
    with read_session() as session:
        return list(
            session.exec(
                select(ReviewItem).where(ReviewItem.kind == ReviewKind.PAYOUT_DIFFERENCE)
            ).all()
        )


@pytest.fixture
def channel(any_db):
    add_company_account()
    channel = make_channel()
    with write_session() as session:
        set_payout_fee_terms(
            session, actor="finance", channel_id=channel.id, percent="1.5", fixed="0.10"
        )
    return channel


def test_explained_payout_marks_its_payments_in_bank_and_records_the_fee(channel):
    first = settled(channel.id, 10000)
    second = settled(channel.id, 5000, at=f"{DAY}T23:59:00")
    refunded = settled(channel.id, 8000, state="refunded", standing_minor=3000)
    failed = settled(channel.id, 9900, state="failed")
    next_day = settled(channel.id, 7000, at="2026-11-02T00:00:01")
    # 100 + 50 + 30 (what stands of the refunded 80) less 1.5 % + 0.10 of each.
    [result] = import_and_explain(camt053(entries=[payout_entry("177.00"), customer_entry()]))
    assert result.status == PayoutStatus.EXPLAINED
    assert (result.gross_minor, result.fee_minor, result.net_minor) == (18000, 300, 17700)
    with read_session() as session:
        payout = session.exec(select(EveryPayPayout)).one()
    assert (payout.status, payout.fee_minor, payout.difference_minor) == ("explained", 300, 0)
    assert payout.payment_count == 3
    assert payout.channel_id == channel.id
    rows = attempts()
    for covered in (first, second, refunded):
        assert rows[covered].payout_id == payout.id
        assert rows[covered].in_bank_at is not None
    for other in (failed, next_day):
        assert (rows[other].payout_id, rows[other].in_bank_at) == (None, None)
    assert open_differences() == []


def test_a_payout_larger_than_the_known_payments_opens_an_exception_with_the_difference(
    channel,
):
    known = settled(channel.id, 10000)
    # 98.40 would be the known payment less its fee; 25.00 came from a payment never seen.
    [result] = import_and_explain(camt053(entries=[payout_entry("123.40")]))
    assert result.status == PayoutStatus.DIFFERENCE
    assert result.difference_minor == 2500
    [item] = open_differences()
    assert (item.amount_minor, item.currency, item.channel_id) == (2500, "EUR", channel.id)
    assert "never heard of" in item.reason
    assert "25.00" in item.reason
    assert attempts()[known].payout_id is None, "an unexplained payout marks nothing in bank"
    with read_session() as session:
        payout = session.exec(select(EveryPayPayout)).one()
    assert payout.review_item_id == item.id


def test_a_payout_smaller_than_expected_names_a_negative_difference(channel):
    settled(channel.id, 10000)
    settled(channel.id, 2000)
    [result] = import_and_explain(camt053(entries=[payout_entry("98.40")]))
    # The 20.00 payment less its fee (0.40) is missing from the payout.
    assert result.difference_minor == -1960
    [item] = open_differences()
    assert item.amount_minor == -1960
    assert "not paid out" in item.reason


def test_without_fee_terms_the_fee_is_what_the_payments_exceed_the_payout_by(any_db):
    add_company_account()
    channel = make_channel()
    covered = settled(channel.id, 10000)
    [result] = import_and_explain(camt053(entries=[payout_entry("97.00")]))
    assert (result.status, result.fee_minor) == (PayoutStatus.EXPLAINED, 300)
    assert attempts()[covered].in_bank_at is not None


def test_a_payout_naming_no_day_covers_the_payments_settled_before_its_value_date(any_db):
    add_company_account()
    channel = make_channel()
    earlier = settled(channel.id, 4000, at="2026-10-30T08:00:00")
    same_day = settled(channel.id, 6000, at="2026-11-02T08:00:00")
    content = fidavista(
        transactions=[
            Trx(
                "40.00",
                bank_ref="LV-PAYOUT",
                book_date="2026-11-02",
                name="EVERYPAY AS",
                account=EVERYPAY_PAYOUT_IBAN,
                text="Izmaksa",
            )
        ]
    )
    [result] = import_and_explain(content)
    assert (result.status, result.payment_count) == (PayoutStatus.EXPLAINED, 1)
    rows = attempts()
    assert rows[earlier].payout_id is not None
    assert rows[same_day].payout_id is None


def test_consecutive_payouts_each_cover_only_what_the_earlier_ones_left(any_db):
    add_company_account()
    channel = make_channel()
    monday = settled(channel.id, 4000, at="2026-11-01T08:00:00")
    tuesday = settled(channel.id, 6000, at="2026-11-02T08:00:00")
    entries = [
        payout_entry("40.00", text="Izmaksa", ref="P-1"),
        Entry(
            "60.00",
            ref="P-2",
            booking="2026-11-03",
            value="2026-11-03",
            txs=[Tx(name="EveryPay AS", iban=EVERYPAY_PAYOUT_IBAN, text="Izmaksa")],
        ),
    ]
    results = import_and_explain(camt053(entries=entries))
    assert [(r.status, r.net_minor, r.payment_count) for r in results] == [
        (PayoutStatus.EXPLAINED, 4000, 1),
        (PayoutStatus.EXPLAINED, 6000, 1),
    ]
    rows = attempts()
    assert rows[monday].payout_id == results[0].payout_id
    assert rows[tuesday].payout_id == results[1].payout_id


def test_explaining_again_or_importing_the_statement_again_adds_nothing(channel):
    settled(channel.id, 10000)
    content = camt053(entries=[payout_entry("123.40")])
    with write_session() as session:
        report = import_statement(session, actor="finance", filename="s.xml", content=content)
        statement_id = report.statements[0].bank_statement_id
        assert len(explain_payouts(session, statement_id=statement_id)) == 1
    with write_session() as session:
        assert explain_payouts(session, statement_id=statement_id) == []
    assert import_and_explain(content) == []
    with read_session() as session:
        assert session.exec(select(func.count()).select_from(EveryPayPayout)).one() == 1
    assert len(open_differences()) == 1


@pytest.mark.parametrize(
    ("tx", "direction", "expected"),
    [
        (Tx(iban=EVERYPAY_PAYOUT_IBAN, text="Settlement 55"), "CRDT", True),
        (Tx(name="Everypay AS", text="Settlement 55"), "CRDT", True),
        (
            Tx(name="SIA Maksātājs", iban=PAYER_IBAN, text="EveryPay payout 2026-11-01"),
            "CRDT",
            True,
        ),
        (Tx(name="SIA Klients", iban=PAYER_IBAN, text="Rēķins INV-2026-0001"), "CRDT", False),
        (Tx(name="EveryPay AS", iban=EVERYPAY_PAYOUT_IBAN, text="Fee"), "DBIT", False),
    ],
    ids=["iban", "name-any-case", "remittance", "customer-transfer", "debit-to-everypay"],
)
def test_recognising_payouts(db, tx, direction, expected):
    add_company_account()
    entry = Entry("10.00", ref="R-1", direction=direction, txs=[tx])
    with write_session() as session:
        import_statement(
            session, actor="finance", filename="s.xml", content=camt053(entries=[entry])
        )
        transaction = session.exec(select(BankStatementTransaction)).one()
        assert is_everypay_payout(session, transaction=transaction) is expected


def test_the_payout_account_list_is_a_setting(db, monkeypatch):
    monkeypatch.setenv("LINKPAY_EVERYPAY_PAYOUT_IBANS", f'["{PAYER_IBAN}"]')
    get_settings.cache_clear()
    add_company_account()
    entry = Entry("10.00", ref="R-1", txs=[Tx(iban=PAYER_IBAN, text="Settlement 55")])
    with write_session() as session:
        import_statement(
            session, actor="finance", filename="s.xml", content=camt053(entries=[entry])
        )
        transaction = session.exec(select(BankStatementTransaction)).one()
        assert is_everypay_payout(session, transaction=transaction)


def test_fee_terms_are_checked_and_need_setup_permission(channel):
    with write_session() as session, pytest.raises(ValidationError, match="below 100"):
        set_payout_fee_terms(
            session, actor="finance", channel_id=channel.id, percent="100", fixed=""
        )
    with write_session() as session, pytest.raises(ValidationError, match="role"):
        set_payout_fee_terms(session, actor="nobody", channel_id=channel.id, percent="1", fixed="")


def test_cli_import_explains_the_payouts(channel, tmp_path):
    settled(channel.id, 10000)
    path = tmp_path / "everypay.xml"
    path.write_bytes(camt053(entries=[payout_entry("98.40")]))
    result = _cli("import-statement", str(path))
    assert result.returncode == 0, result.stderr
    assert "EveryPay payout EVERYPAY PAYOUT" in result.stdout
    assert "payments marked in bank" in result.stdout
    assert all(attempt.in_bank_at for attempt in attempts().values())


@pytest.mark.postgres
def test_two_explanations_of_one_statement_at_once_explain_each_payout_once(postgres_url):
    upgrade_to_head(postgres_url)
    add_company_account()
    channel = make_channel()
    with write_session() as session:
        set_payout_fee_terms(
            session, actor="finance", channel_id=channel.id, percent="1.5", fixed="0.10"
        )
    covered = settled(channel.id, 10000)
    with write_session() as session:
        report = import_statement(
            session,
            actor="finance",
            filename="s.xml",
            content=camt053(entries=[payout_entry("98.40")]),
        )
    statement_id = report.statements[0].bank_statement_id
    first_session = write_session()
    session = first_session.__enter__()
    first = explain_payouts(session, statement_id=statement_id)
    results: dict[str, object] = {}

    def second() -> None:
        try:
            with write_session() as other:
                results["payouts"] = explain_payouts(other, statement_id=statement_id)
        except Exception as error:  # reported below, not swallowed
            results["error"] = error

    worker = threading.Thread(target=second)
    worker.start()
    deadline = time.monotonic() + 10
    while not _waiting_for_a_lock(postgres_url):
        assert time.monotonic() < deadline, "the second explanation never reached the first's"
        assert worker.is_alive(), results
    first_session.__exit__(None, None, None)
    worker.join(timeout=30)
    assert "error" not in results, results
    assert [payout.status for payout in first] == [PayoutStatus.EXPLAINED]
    assert results["payouts"] == []
    with read_session() as session:
        assert session.exec(select(func.count()).select_from(EveryPayPayout)).one() == 1
    assert attempts()[covered].payout_id is not None
