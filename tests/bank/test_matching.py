"""Matching statement transactions to invoices: each rule with its reason, exact matches
booked once (also when two matchers race), suggestions, manual matches and undo."""

import gc
import subprocess
import sys
import threading

import pytest
from sqlalchemy.orm import load_only
from sqlmodel import col, func, select

from shared.bank import matching
from shared.bank.importing import import_statement
from shared.bank.matching import (
    NumberMention,
    accept_suggestion,
    import_and_match,
    invoice_numbers_in_text,
    mark_not_customer_payment,
    match_by_hand,
    name_key,
    run_matching,
    undo_booking,
)
from shared.bank.references import creditor_reference, format_creditor_reference
from shared.bank.statements import (
    reconciliation_summary,
    statement_table,
    transaction_rows,
    transaction_table,
)
from shared.db import read_session, write_session
from shared.documents import load_invoice_document
from shared.errors import ValidationError
from shared.invoicing import DraftInput, LineInput, create_draft, issue_invoice
from shared.ledger.received import customer_credit
from shared.models import (
    BankStatementTransaction,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    MatchState,
    ReceivedPayment,
)
from shared.number_series import SeriesInput, add_series
from shared.numbering import INVOICE
from shared.users import PermissionDenied, create_user
from tests.bank.builders import PAYER_IBAN, Entry, Tx, camt053
from tests.bank.test_importing import add_company_account
from tests.utils.factories import make_customer, make_invoice, post_payment


@pytest.fixture
def account(any_db) -> int:
    return add_company_account()


def transfer(amount: str, *, ref: str, **tx) -> Entry:
    return Entry(amount, ref=ref, txs=[Tx(**tx)])


def import_and_match_entries(*entries: Entry, statement_id: str = "S-1"):
    content = camt053(entries=list(entries), statement_id=statement_id)
    return import_and_match(actor="finance", filename=f"{statement_id}.xml", content=content)


def transactions() -> list[BankStatementTransaction]:
    with read_session() as session:
        return list(
            session.exec(
                select(BankStatementTransaction).order_by(col(BankStatementTransaction.id))
            ).all()
        )


def invoice(invoice_id: int) -> Invoice:
    with read_session() as session:
        return session.get(Invoice, invoice_id)


def payments() -> list[ReceivedPayment]:
    with read_session() as session:
        return list(session.exec(select(ReceivedPayment).order_by(col(ReceivedPayment.id))).all())


def test_rf_reference_books_the_invoice_paid(account):
    paid = make_invoice(channel=None)
    reference = creditor_reference(invoice_id=paid.id)
    report, summary = import_and_match_entries(
        transfer("121.00", ref="B-1", name="Anna Bērziņa", iban=PAYER_IBAN, rf=reference)
    )
    assert report.entries_added == 1
    assert summary.counts == {MatchState.BOOKED_AUTO: 1}
    [tx] = transactions()
    assert tx.match_state == MatchState.BOOKED_AUTO
    assert tx.match_reason == (
        f"RF reference {format_creditor_reference(reference)} of invoice {paid.number}."
    )
    [payment] = payments()
    assert (tx.received_payment_id, payment.method, payment.amount_minor) == (
        payment.id,
        "bank_statement",
        12100,
    )
    stored = invoice(paid.id)
    assert (stored.status, stored.open_minor) == (InvoiceStatus.PAID, 0)
    with read_session() as session:
        assert load_invoice_document(session, invoice=stored).is_paid


def test_rf_reference_written_in_the_payment_details_counts_too(account):
    paid = make_invoice(channel=None)
    shown = format_creditor_reference(creditor_reference(invoice_id=paid.id))
    import_and_match_entries(transfer("121.00", ref="B-1", text=f"Apmaksa {shown}"))
    assert transactions()[0].match_state == MatchState.BOOKED_AUTO
    assert invoice(paid.id).status == InvoiceStatus.PAID


@pytest.mark.parametrize(
    "written",
    ["{number}", "INV {year} {n}", "inv{year}/{n}", "Apmaksa par rēķins Nr. {n}", "RĒĶINS NR.{n}"],
)
def test_invoice_number_written_loosely_books_it(account, written):
    make_invoice(channel=None)  # another invoice of the same customer name, number 1
    target = make_invoice(channel=None)
    _, year, n = target.number.split("-")
    text = written.format(number=target.number, year=year, n=int(n))
    import_and_match_entries(transfer("121.00", ref="B-1", name="Someone", text=text))
    [tx] = transactions()
    assert (tx.match_state, tx.match_reason) == (
        MatchState.BOOKED_AUTO,
        f"Invoice number {target.number} in the payment details.",
    )
    assert invoice(target.id).status == InvoiceStatus.PAID


def test_a_number_of_a_series_without_yearly_reset_is_found_in_its_own_format(account):
    with write_session() as session:
        add_series(
            session,
            actor="test",
            data=SeriesInput(document_type=INVOICE, prefix="SHOP", yearly_reset=False, digits=5),
        )
    lines = [LineInput("Consulting", "1", "100.00", "21")]
    with write_session() as session:
        draft = create_draft(
            session,
            actor="test",
            data=DraftInput(customer_id=make_customer().id, channel_id=None, lines=lines),
            series="SHOP",
        )
        target = issue_invoice(session, actor="test", invoice_id=draft.id)
    assert target.number == "SHOP-00001"

    import_and_match_entries(transfer("121.00", ref="B-1", name="Someone", text="Rēķins Nr. 1"))

    [tx] = transactions()
    assert (tx.match_state, tx.match_reason) == (
        MatchState.BOOKED_AUTO,
        "Invoice number SHOP-00001 in the payment details.",
    )


def test_tolerant_numbers_never_take_a_date_or_a_foreign_word():
    assert invoice_numbers_in_text("Apmaksa no 01.11 līdz 30.11, rēķins Nr. 7.") == [
        NumberMention(number=7)
    ]
    mentions = invoice_numbers_in_text("Payment 2026-11-02 for goods 2026 5, inv2026/34")
    # The date is no number; "goods" is read but is no series of ours (next test).
    assert [(m.series, m.year, m.number) for m in mentions] == [
        ("GOODS", 2026, 5),
        ("INV", 2026, 34),
    ]


def test_a_word_that_is_no_series_does_not_name_an_invoice(account):
    target = make_invoice(channel=None)
    _, year, n = target.number.split("-")
    import_and_match_entries(transfer("50.00", ref="B-1", text=f"Goods {year} {int(n)}"))
    assert transactions()[0].match_state == MatchState.UNMATCHED
    assert invoice(target.id).status == InvoiceStatus.ISSUED


def test_one_transfer_naming_two_invoices_pays_both(account):
    customer = make_customer()
    first = make_invoice(channel=None, customer=customer)
    second = make_invoice(channel=None, customer=customer)
    import_and_match_entries(
        transfer("242.00", ref="B-1", text=f"Rēķini {first.number}, {second.number}")
    )
    [tx] = transactions()
    assert tx.match_reason == (
        f"Invoice numbers {first.number}, {second.number} in the payment details."
    )
    assert [invoice(i.id).status for i in (first, second)] == [InvoiceStatus.PAID] * 2
    assert len(payments()) == 1


def test_invoice_number_with_more_than_owed_waits_as_a_suggestion(account):
    target = make_invoice(channel=None)
    import_and_match_entries(transfer("150.00", ref="B-1", text=target.number))
    [tx] = transactions()
    assert tx.match_state == MatchState.SUGGESTED
    assert "is more than the 121.00 EUR the customer owes" in tx.match_reason
    assert invoice(target.id).status == InvoiceStatus.ISSUED
    with write_session() as session:
        accept_suggestion(session, actor="finance", transaction_id=tx.id)
    stored = invoice(target.id)
    assert (stored.status, stored.open_minor) == (InvoiceStatus.PAID, -2900)
    assert transactions()[0].match_state == MatchState.BOOKED_MANUAL
    with pytest.raises(ValidationError, match="booked by hand now"), write_session() as session:
        accept_suggestion(session, actor="finance", transaction_id=tx.id)
    assert len(payments()) == 1


def test_amount_and_payer_name_without_diacritics_is_a_suggestion(account):
    customer = make_customer(name="Anna Bērziņa SIA")
    make_invoice(channel=None, customer=make_customer(name="Other SIA"))  # same amount
    target = make_invoice(channel=None, customer=customer)
    import_and_match_entries(transfer("121.00", ref="B-1", name="SIA ANNA BERZINA"))
    [tx] = transactions()
    assert tx.match_state == MatchState.SUGGESTED
    assert tx.match_reason == (
        f"121.00 EUR is what is open on invoice {target.number}, and the payer's name "
        "is Anna Bērziņa SIA's."
    )
    assert tx.match_allocations == [[target.id, 12100]]
    with write_session() as session:
        accept_suggestion(session, actor="finance", transaction_id=tx.id)
    assert invoice(target.id).status == InvoiceStatus.PAID


def test_later_transfers_of_one_batch_see_the_bookings_before_them(account):
    customer = make_customer(name="Anna Bērziņa SIA")
    target = make_invoice(channel=None, customer=customer)
    reference = creditor_reference(invoice_id=target.id)
    # Imported in this order, matched in one batch: 21.00 by RF reference leaves 100.00
    # open; a transfer of exactly that from the customer is then a suggestion for it;
    # the same RF reference again books the rest, and once more finds nothing open.
    for number, entry in enumerate(
        [
            transfer("21.00", ref="B-1", rf=reference),
            transfer("100.00", ref="B-2", name="SIA ANNA BERZINA"),
            transfer("100.00", ref="B-3", rf=reference),
            transfer("5.00", ref="B-4", rf=reference),
        ]
    ):
        with write_session() as session:
            import_statement(
                session,
                actor="finance",
                filename=f"{number}.xml",
                content=camt053(statement_id=f"S-{number}", entries=[entry]),
            )
    run_matching(actor="finance")
    partly, by_amount, rest, beyond = transactions()
    assert (partly.match_state, rest.match_state) == (MatchState.BOOKED_AUTO,) * 2
    assert by_amount.match_state == MatchState.SUGGESTED
    assert by_amount.match_allocations == [[target.id, 10000]]
    assert beyond.match_state == MatchState.SUGGESTED
    assert "which has nothing open" in beyond.match_reason
    assert (invoice(target.id).status, invoice(target.id).open_minor) == (InvoiceStatus.PAID, 0)


def test_name_keys_ignore_case_marks_quotes_order_and_legal_form():
    assert name_key("SIA “Bērziņš un Ko”") == name_key("BERZINS UN KO SIA")
    assert name_key("Ēriks") != name_key("Eriks Ltd Two")


def test_nothing_found_is_unmatched_then_matched_by_hand_split(account):
    customer = make_customer(name="Kalniņš SIA")
    first = make_invoice(channel=None, customer=customer)
    second = make_invoice(channel=None, customer=customer)
    import_and_match_entries(transfer("150.00", ref="B-1", name="J. Ozols"))
    [tx] = transactions()
    assert (tx.match_state, tx.match_reason) == (
        MatchState.UNMATCHED,
        "No RF reference or invoice number in the payment details, and no open invoice "
        "of 150.00 EUR from this payer.",
    )
    with write_session() as session:
        match_by_hand(
            session,
            actor="finance",
            transaction_id=tx.id,
            customer_id=customer.id,
            allocations=[(first.id, "100.00"), (second.id, "50.00")],
        )
    assert [invoice(i.id).open_minor for i in (first, second)] == [2100, 7100]
    assert transactions()[0].match_state == MatchState.BOOKED_MANUAL


def test_not_a_customer_payment_needs_a_note(account):
    import_and_match_entries(transfer("5000.00", ref="B-1", name="Bank loan"))
    [tx] = transactions()
    refused = pytest.raises(ValidationError, match="Write what the money is")
    with refused, write_session() as session:
        mark_not_customer_payment(session, actor="finance", transaction_id=tx.id, note=" ")
    with write_session() as session:
        mark_not_customer_payment(
            session, actor="finance", transaction_id=tx.id, note="Loan from the owner"
        )
    [tx] = transactions()
    assert (tx.match_state, tx.match_reason) == (MatchState.NOT_CUSTOMER, "Loan from the owner")


def test_money_paid_back_to_a_customer_with_credit_is_suggested_as_a_refund(account):
    customer = make_customer(name="Kalniņš SIA")
    overpaid = make_invoice(channel=None, customer=customer)
    with write_session() as session:
        post_payment(session, invoice_id=overpaid.id, amount_minor=15000)  # 29.00 credit
    import_and_match_entries(
        Entry("29.00", direction="DBIT", ref="B-9", txs=[Tx(name="KALNINS SIA")])
    )
    [tx] = transactions()
    assert tx.match_state == MatchState.SUGGESTED
    assert "who has 29.00 EUR credit: record it as credit paid back" in tx.match_reason
    with write_session() as session:
        accept_suggestion(session, actor="finance", transaction_id=tx.id)
    with read_session() as session:
        assert customer_credit(session, customer_id=customer.id) == {}


def test_money_going_out_to_anyone_else_is_outgoing(account):
    import_and_match_entries(Entry("80.00", direction="DBIT", ref="B-9", txs=[Tx(name="Elektrum")]))
    assert transactions()[0].match_state == MatchState.OUTGOING


def test_an_everypay_payout_is_left_to_the_payout_match(account):
    target = make_invoice(channel=None)
    import_and_match_entries(
        transfer("121.00", ref="B-1", name="AS Maksekeskus", text=target.number)
    )
    [tx] = transactions()
    assert tx.match_state == MatchState.PAYOUT
    assert invoice(target.id).status == InvoiceStatus.ISSUED


def test_an_automatic_booking_is_undone_once_with_its_reason(account):
    target = make_invoice(channel=None)
    import_and_match_entries(
        transfer("121.00", ref="B-1", rf=creditor_reference(invoice_id=target.id))
    )
    [tx] = transactions()
    with pytest.raises(ValidationError, match="Say why"), write_session() as session:
        undo_booking(session, actor="finance", transaction_id=tx.id, reason="")
    with write_session() as session:
        undo_booking(session, actor="finance", transaction_id=tx.id, reason="Customer's typo")
    [tx] = transactions()
    assert (tx.match_state, tx.received_payment_id) == (MatchState.UNMATCHED, None)
    assert tx.match_reason == "Booking undone by finance: Customer's typo"
    assert invoice(target.id).status == InvoiceStatus.ISSUED
    assert payments()[0].reversal_reason == "Customer's typo"
    with pytest.raises(ValidationError, match="no booking to undo"), write_session() as session:
        undo_booking(session, actor="finance", transaction_id=tx.id, reason="again")


def test_a_transfer_that_cannot_be_booked_goes_to_unmatched_and_the_others_are_booked(account):
    first, second = make_invoice(channel=None), make_invoice(channel=None)
    # The ledger refuses the first booking after its transfer was matched: a bank
    # booking date still in the future is no date money arrived on.
    _, summary = import_and_match_entries(
        Entry(
            "121.00",
            ref="B-1",
            booking="2099-01-02",
            txs=[Tx(rf=creditor_reference(invoice_id=first.id))],
        ),
        transfer("121.00", ref="B-2", rf=creditor_reference(invoice_id=second.id)),
    )

    assert summary.counts == {MatchState.UNMATCHED: 1, MatchState.BOOKED_AUTO: 1}
    refused, booked = transactions()
    assert refused.match_state == MatchState.UNMATCHED
    assert refused.match_reason == "Not booked automatically: The date cannot be in the future."
    assert refused.received_payment_id is None
    assert booked.match_state == MatchState.BOOKED_AUTO
    # Nothing of the refused booking stays: one payment, the first invoice still open.
    assert len(payments()) == 1
    assert invoice(first.id).open_minor == 12100
    assert invoice(second.id).status == InvoiceStatus.PAID


def test_matching_again_and_importing_again_book_nothing_twice(account):
    target = make_invoice(channel=None)
    entry = transfer("121.00", ref="B-1", rf=creditor_reference(invoice_id=target.id))
    import_and_match_entries(entry)
    assert run_matching(actor="finance").counts == {}
    report, summary = import_and_match_entries(entry, statement_id="S-2")
    assert (report.entries_added, summary.counts) == (0, {})
    assert len(payments()) == 1


def test_a_manager_cannot_match(account):
    with write_session() as session:
        create_user(session, actor="test", username="boss", password="boss-pass-1", role="manager")
    with pytest.raises(PermissionDenied):
        run_matching(actor="boss")


def test_two_matchers_at_once_book_each_transfer_once(account):
    rounds = 4
    per_statement = 5
    targets = [
        make_invoice(channel=None, lines=[LineInput("Work", "1", "10.00", "0")])
        for _ in range(rounds * per_statement)
    ]
    for number in range(rounds):
        batch = targets[number * per_statement : (number + 1) * per_statement]
        with write_session() as session:
            import_statement(
                session,
                actor="finance",
                filename=f"{number}.xml",
                content=camt053(
                    statement_id=f"S-{number}",
                    entries=[
                        transfer("10.00", ref=f"B-{i.id}", rf=creditor_reference(invoice_id=i.id))
                        for i in batch
                    ],
                ),
            )
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def matcher() -> None:
        try:
            barrier.wait(timeout=30)
            run_matching(actor="finance")
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=matcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with read_session() as session:
        booked = session.exec(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.amount_minor > 0)
        ).one()
        paid = [session.get(Invoice, i.id).paid_minor for i in targets]
    assert booked == len(targets)
    assert paid == [1000] * len(targets)
    assert len(payments()) == len(targets)
    assert {tx.match_state for tx in transactions()} == {MatchState.BOOKED_AUTO}


def test_two_undos_at_once_take_the_booking_back_once(account):
    target = make_invoice(channel=None)
    import_and_match_entries(
        transfer("121.00", ref="B-1", rf=creditor_reference(invoice_id=target.id))
    )
    [tx] = transactions()
    refused: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def undo() -> None:
        try:
            barrier.wait(timeout=30)
            with write_session() as session:
                undo_booking(session, actor="finance", transaction_id=tx.id, reason="Wrong")
        except ValidationError as error:
            refused.append(str(error))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=undo) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(refused) == 1
    stored = invoice(target.id)
    assert (stored.paid_minor, stored.open_minor) == (0, 12100)


def test_the_cli_matches_what_it_imported(db, tmp_path):
    add_company_account()
    target = make_invoice(channel=None)
    statement = tmp_path / "day.xml"
    statement.write_bytes(
        camt053(
            entries=[transfer("121.00", ref="B-1", rf=creditor_reference(invoice_id=target.id))]
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "shared.operations.cli", "import-statement", str(statement)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Matched 1 transaction: booked automatically 1." in result.stdout
    assert invoice(target.id).status == InvoiceStatus.PAID


def test_two_imports_of_one_file_at_once_book_it_once(account):
    targets = [make_invoice(channel=None) for _ in range(3)]
    content = camt053(
        entries=[
            transfer("121.00", ref=f"B-{i.id}", rf=creditor_reference(invoice_id=i.id))
            for i in targets
        ]
    )
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def importer() -> None:
        try:
            barrier.wait(timeout=30)
            import_and_match(actor="finance", filename="day.xml", content=content)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=importer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(payments()) == 3
    assert [invoice(i.id).paid_minor for i in targets] == [12100] * 3


def test_statement_views_count_and_sum_each_state(account):
    paid = make_invoice(channel=None)
    import_and_match_entries(
        transfer("121.00", ref="B-1", rf=creditor_reference(invoice_id=paid.id)),
        transfer("40.00", ref="B-2", name="Owner"),
        Entry("80.00", direction="DBIT", ref="B-3", txs=[Tx(name="Elektrum")]),
    )
    [statement] = statement_table(tz="Europe/Riga").rows
    assert statement[5:] == (3, 1, 0, 0, 1)  # transactions, auto, by hand, suggested, unmatched
    summary = reconciliation_summary(date_from=None, date_to=None).rows
    assert [(row[2], row[3], str(row[4])) for row in summary] == [
        ("Booked automatically", 1, "121.00"),
        ("Unmatched", 1, "40.00"),
        ("Outgoing payment", 1, "-80.00"),
    ]
    statement_id = statement_table(tz="Europe/Riga").ids[0]
    unmatched = transaction_table(statement_id=statement_id, states=[MatchState.UNMATCHED])
    assert [row[4] for row in unmatched.rows] == ["Owner"]
    assert len(list(transaction_rows(statement_id=statement_id))) == 3


def test_a_batch_reads_only_the_invoice_columns_it_names_and_spares_the_collector(
    account, monkeypatch
):
    # Any other column read from a named invoice would raise here instead of loading.
    strict = load_only(*matching.RULES_AND_LEDGER_COLUMNS, raiseload=True)
    monkeypatch.setattr(matching, "_RULES_AND_LEDGER_READ", strict)
    customer = make_customer(name="Anna Bērziņa SIA")
    by_reference = make_invoice(channel=None, customer=customer)
    named, other = (make_invoice(channel=None, customer=customer) for _ in range(2))
    whole = make_invoice(channel=None)
    _, summary = import_and_match_entries(
        transfer("121.00", ref="B-0", rf=creditor_reference(invoice_id=whole.id)),
        transfer("21.00", ref="B-1", rf=creditor_reference(invoice_id=by_reference.id)),
        # The named invoice, then the customer's other open ones, oldest due first.
        transfer("250.00", ref="B-2", text=f"Rēķins {named.number}"),
        transfer("100.00", ref="B-3", rf=creditor_reference(invoice_id=by_reference.id)),
    )
    assert summary.counts == {MatchState.BOOKED_AUTO: 3, MatchState.SUGGESTED: 1}
    assert [invoice(i.id).status for i in (whole, by_reference, named, other)] == [
        InvoiceStatus.PAID,
        InvoiceStatus.PAID,
        InvoiceStatus.PAID,
        InvoiceStatus.PARTIALLY_PAID,
    ]
    assert gc.get_freeze_count() == 0
