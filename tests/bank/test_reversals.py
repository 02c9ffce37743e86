"""A bank reversal (camt RvslInd) cancels an earlier booking of the bank: the booking it
made on invoices is undone through the ledger, or the two just cancel out; an unknown or
ambiguous original stays Unmatched with the reason."""

import pytest
from sqlmodel import col, select

from shared.bank.references import creditor_reference
from shared.db import read_session
from shared.models import (
    BankStatementEntry,
    BankStatementTransaction,
    InvoiceStatus,
    MatchState,
)
from tests.bank.builders import PAYER_IBAN, Entry, Tx
from tests.bank.test_importing import add_company_account
from tests.bank.test_matching import (
    import_and_match_entries,
    invoice,
    payments,
    transactions,
    transfer,
)
from tests.utils.factories import make_customer, make_invoice


@pytest.fixture
def account(any_db) -> int:
    return add_company_account()


def by_ref() -> dict[str, BankStatementTransaction]:
    """Each transaction by its entry's bank reference (the import stores entries in the
    order of their keys, not of the file)."""
    with read_session() as session:
        rows = session.exec(
            select(BankStatementEntry.bank_reference, BankStatementTransaction).join(
                BankStatementTransaction,
                col(BankStatementTransaction.entry_id) == col(BankStatementEntry.id),
            )
        ).all()
    return dict(rows)


def states() -> dict[str, str]:
    return {ref: tx.match_state for ref, tx in by_ref().items()}


def reversal(amount: str, *, ref: str, booking: str = "2026-11-05", **tx) -> Entry:
    return Entry(
        amount,
        direction="DBIT",
        ref=ref,
        reversal=True,
        booking=booking,
        value=booking,
        txs=[Tx(**tx)],
    )


def test_a_reversed_transfer_booked_by_rf_reference_is_undone(account):
    target = make_invoice(channel=None)
    rf = creditor_reference(invoice_id=target.id)
    import_and_match_entries(
        transfer("121.00", ref="B-1", end_to_end="E2E-77", name="Anna Bērziņa", rf=rf)
    )
    assert invoice(target.id).status == InvoiceStatus.PAID

    _, summary = import_and_match_entries(
        reversal("121.00", ref="R-1", end_to_end="E2E-77", name="Anna Bērziņa"),
        statement_id="S-2",
    )
    assert summary.counts == {MatchState.REVERSED: 1}
    original, reversed_by = by_ref()["B-1"], by_ref()["R-1"]
    assert (original.match_state, reversed_by.match_state) == (MatchState.REVERSED,) * 2
    assert original.match_reason == (
        f"Reversed by the bank on 2026-11-05: the booking on {target.number} is undone."
    )
    assert reversed_by.match_reason == (
        f"Reverses the bank's booking of 2026-11-02 (121.00 EUR, Anna Bērziņa): "
        f"its booking on {target.number} is undone."
    )
    stored = invoice(target.id)
    assert (stored.status, stored.open_minor) == (InvoiceStatus.ISSUED, 12100)
    [payment] = payments()
    assert payment.reversal_reason == "Reversed by the bank on 2026-11-05"


def test_the_same_reversal_imported_again_cancels_nothing_twice(account):
    target = make_invoice(channel=None)
    rf = creditor_reference(invoice_id=target.id)
    paid = transfer("121.00", ref="B-1", end_to_end="E2E-77", rf=rf)
    back = reversal("121.00", ref="R-1", end_to_end="E2E-77")
    import_and_match_entries(paid)
    import_and_match_entries(back, statement_id="S-2")
    report, summary = import_and_match_entries(paid, back, statement_id="S-3")
    assert (report.entries_added, summary.counts) == (0, {})
    assert [tx.match_state for tx in transactions()] == [MatchState.REVERSED] * 2
    assert len(payments()) == 1 and payments()[0].reversed_at is not None
    assert invoice(target.id).open_minor == 12100


def test_a_second_reversal_of_the_same_amount_finds_the_original_taken(account):
    target = make_invoice(channel=None)
    rf = creditor_reference(invoice_id=target.id)
    import_and_match_entries(
        transfer("121.00", ref="B-1", end_to_end="E2E-77", rf=rf),
        reversal("121.00", ref="R-1", end_to_end="E2E-77"),
        reversal("121.00", ref="R-2", end_to_end="E2E-77"),
    )
    stood = states()
    assert stood["B-1"] == MatchState.REVERSED
    assert sorted([stood["R-1"], stood["R-2"]]) == [MatchState.REVERSED, MatchState.UNMATCHED]
    left = next(tx for tx in transactions() if tx.match_state == MatchState.UNMATCHED)
    assert "on no imported statement" in left.match_reason
    assert invoice(target.id).open_minor == 12100


def test_an_unbooked_transfer_and_its_reversal_cancel_out(account):
    import_and_match_entries(
        transfer("80.00", ref="B-1", name="J. Ozols", iban=PAYER_IBAN),
        reversal("80.00", ref="R-1", name="J. Ozols", iban=PAYER_IBAN),
    )
    original, reversed_by = by_ref()["B-1"], by_ref()["R-1"]
    assert (original.match_state, original.match_reason) == (
        MatchState.REVERSED,
        "Reversed by the bank on 2026-11-05: cancelled by the reversal, nothing was booked.",
    )
    assert reversed_by.match_state == MatchState.REVERSED
    assert reversed_by.match_reason.endswith("the two cancel out, nothing was booked.")
    assert payments() == []


def test_a_suggestion_reversed_by_the_bank_is_no_longer_offered(account):
    customer = make_customer(name="Kalniņš SIA")
    target = make_invoice(channel=None, customer=customer)
    import_and_match_entries(transfer("121.00", ref="B-1", name="KALNINS SIA"))
    assert transactions()[0].match_state == MatchState.SUGGESTED
    import_and_match_entries(reversal("121.00", ref="R-1", name="KALNINS SIA"), statement_id="S-2")
    assert [tx.match_state for tx in transactions()] == [MatchState.REVERSED] * 2
    assert invoice(target.id).status == InvoiceStatus.ISSUED


def test_the_quoted_reference_picks_the_original_among_look_alikes(account):
    first = make_invoice(channel=None)
    second = make_invoice(channel=None)
    import_and_match_entries(
        transfer(
            "121.00", ref="B-1", end_to_end="E2E-1", rf=creditor_reference(invoice_id=first.id)
        ),
        transfer(
            "121.00", ref="B-2", end_to_end="E2E-2", rf=creditor_reference(invoice_id=second.id)
        ),
        reversal("121.00", ref="R-1", end_to_end="E2E-2"),
    )
    assert states() == {
        "B-1": MatchState.BOOKED_AUTO,
        "B-2": MatchState.REVERSED,
        "R-1": MatchState.REVERSED,
    }
    assert invoice(first.id).status == InvoiceStatus.PAID
    assert invoice(second.id).status == InvoiceStatus.ISSUED


def test_without_a_reference_two_look_alikes_leave_it_to_a_person(account):
    import_and_match_entries(
        transfer("50.00", ref="B-1", name="J. Ozols"),
        transfer("50.00", ref="B-2", name="J. Ozols"),
        reversal("50.00", ref="R-1", name="J. Ozols"),
    )
    assert set(states().values()) == {MatchState.UNMATCHED}
    assert by_ref()["R-1"].match_reason == (
        "The bank reversed a booking of 50.00 EUR, and 2 earlier bookings fit "
        "(the payer and the amount): check which one by hand."
    )


def test_a_reversal_of_a_booking_on_no_statement_stays_unmatched(account):
    import_and_match_entries(reversal("121.00", ref="R-1", name="Anna Bērziņa"))
    [tx] = transactions()
    assert tx.match_state == MatchState.UNMATCHED
    assert tx.match_reason == (
        "The bank reversed a booking of 121.00 EUR that is on no imported statement "
        "(same account, amount and reference or payer): check it by hand."
    )


def test_a_later_booking_of_the_payer_is_not_what_a_reversal_cancels(account):
    import_and_match_entries(
        reversal("50.00", ref="R-1", name="J. Ozols", booking="2026-11-01"),
        transfer("50.00", ref="B-1", name="J. Ozols"),
    )
    assert [tx.match_state for tx in transactions()] == [MatchState.UNMATCHED] * 2
