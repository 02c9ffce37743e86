"""Credit notes on the ledger: their own gapless series, VAT like invoice lines, never more
than is left to credit, and what they do to the invoice's open balance and status."""

import threading
from datetime import date

import pytest
from sqlmodel import col, select

from shared.audit import SYSTEM_ACTOR
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import LineInput, cancel_invoice
from shared.ledger.credit_notes import (
    credit_amount,
    credit_note_lines,
    issue_credit_note,
    remaining_by_rate,
)
from shared.models import (
    AuditLog,
    CreditNote,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    LedgerEntryKind,
)
from tests.utils.factories import make_invoice, post_payment

TODAY = date(2026, 11, 30)
TWO_RATES = [
    LineInput("Consulting", "2", "50.00", "21"),
    LineInput("Books", "3", "10.00", "12", unit="pcs"),
]  # 100.00 + 21.00 VAT, 30.00 + 3.60 VAT: 154.60


def _invoice(invoice_id: int) -> Invoice:
    with read_session() as session:
        return session.get(Invoice, invoice_id)


def _issue(invoice_id: int, **kwargs) -> CreditNote:
    kwargs.setdefault("reason", "Returned goods")
    with write_session() as session:
        return issue_credit_note(
            session, actor="finance", invoice_id=invoice_id, today=TODAY, **kwargs
        )


def test_full_credit_copies_the_lines_and_turns_the_invoice_credited(any_db):
    invoice = make_invoice(channel=None, lines=TWO_RATES)

    note = _issue(invoice.id, full=True)

    assert (note.number, note.total_minor, note.vat_minor) == ("KR-2026-0001", 15460, 2460)
    credited = _invoice(invoice.id)
    assert (credited.status, credited.credited_minor, credited.open_minor) == (
        InvoiceStatus.CREDITED,
        15460,
        0,
    )
    with read_session() as session:
        lines = credit_note_lines(session, credit_note_id=note.id)
        [entry] = session.exec(select(LedgerEntry).where(LedgerEntry.invoice_id == invoice.id))
        audit = session.exec(select(AuditLog).where(AuditLog.action == "credit_note.issue")).one()
    assert [(line.description, line.vat_rate, line.gross_minor) for line in lines] == [
        ("Consulting", "21", 12100),
        ("Books", "12", 3360),
    ]
    assert (entry.kind, entry.amount_minor, entry.credit_note_id, entry.entry_key) == (
        LedgerEntryKind.CREDIT_NOTE,
        15460,
        note.id,
        f"credit_note:{note.id}",
    )
    assert audit.actor == "finance" and audit.details["number"] == "KR-2026-0001"
    with write_session() as session, pytest.raises(ValidationError, match="credited"):
        issue_credit_note(session, actor="finance", invoice_id=invoice.id, reason="x", full=True)


def test_lines_are_computed_like_invoice_lines_and_bounded_by_what_is_left(any_db):
    invoice = make_invoice(channel=None, lines=TWO_RATES)

    # 33.33 at 21 %: VAT 6.9993 rounds to 7.00, as on an invoice line.
    first = _issue(invoice.id, lines=[LineInput("Discount", "1", "33.33", "21")])
    assert (first.subtotal_minor, first.vat_minor, first.total_minor) == (3333, 700, 4033)
    # Less is owed, but nobody has paid: the invoice must not read "partly paid".
    partly_credited = _invoice(invoice.id)
    assert (partly_credited.status, partly_credited.open_minor) == (
        InvoiceStatus.ISSUED,
        15460 - 4033,
    )

    with write_session() as session, pytest.raises(ValidationError, match="no line at VAT 5%"):
        issue_credit_note(
            session,
            actor="finance",
            invoice_id=invoice.id,
            reason="x",
            lines=[LineInput("Other", "1", "1.00", "5")],
        )
    # 33.60 is left at 12 %: 30.01 net (33.61 gross) is one cent too much.
    with write_session() as session, pytest.raises(ValidationError, match=r"at most 33\.60 EUR"):
        issue_credit_note(
            session,
            actor="finance",
            invoice_id=invoice.id,
            reason="x",
            lines=[LineInput("Books", "1", "30.01", "12")],
        )
    with write_session() as session, pytest.raises(ValidationError, match="Line 1"):
        issue_credit_note(
            session,
            actor="finance",
            invoice_id=invoice.id,
            reason="x",
            lines=[LineInput("Books", "one", "3", "12")],
        )

    # "Full" now credits what is left at each rate, so the invoice ends at zero exactly.
    rest = _issue(invoice.id, full=True)
    assert rest.number == "KR-2026-0002"
    assert rest.total_minor == 15460 - 4033
    with read_session() as session:
        assert set(remaining_by_rate(session, invoice=_invoice(invoice.id)).values()) == {(0, 0)}
        descriptions = {
            line.description for line in credit_note_lines(session, credit_note_id=rest.id)
        }
    assert descriptions == {f"Rēķina {invoice.number} atlikusī summa"}  # the customer's LV
    assert _invoice(invoice.id).status == InvoiceStatus.CREDITED


def test_total_can_never_exceed_the_invoice_total_less_earlier_credits(any_db):
    invoice = make_invoice(channel=None)  # 121.00
    with write_session() as session:
        credit_amount(
            session,
            actor="finance",
            invoice_id=invoice.id,
            reason="Price reduction",
            amount_minor=10000,
            description="Reduction",
        )
    with write_session() as session, pytest.raises(ValidationError, match=r"21\.00 EUR"):
        credit_amount(
            session,
            actor="finance",
            invoice_id=invoice.id,
            reason="Price reduction",
            amount_minor=2101,
            description="Reduction",
        )
    with write_session() as session, pytest.raises(ValidationError, match="more than what is"):
        issue_credit_note(
            session,
            actor="finance",
            invoice_id=invoice.id,
            reason="x",
            lines=[LineInput("Consulting", "1", "17.50", "21")],  # 21.18 > 21.00
        )
    assert _invoice(invoice.id).credited_minor == 10000


def test_credit_on_a_paid_invoice_becomes_the_customers_credit(any_db):
    invoice = make_invoice(channel=None)
    with write_session() as session:
        post_payment(session, invoice_id=invoice.id, amount_minor=12100)

    _issue(invoice.id, lines=[LineInput("Consulting, one hour less", "1", "50.00", "21")])

    paid = _invoice(invoice.id)
    assert (paid.status, paid.paid_minor, paid.credited_minor, paid.open_minor) == (
        InvoiceStatus.PAID,
        12100,
        6050,
        -6050,
    )


def test_a_refund_sized_credit_is_exact_to_the_cent_over_two_vat_rates(any_db):
    invoice = make_invoice(channel=None, lines=TWO_RATES)  # 121.00 at 21 %, 33.60 at 12 %
    with write_session() as session:
        note = credit_amount(
            session,
            actor="finance",
            invoice_id=invoice.id,
            reason="Refund",
            amount_minor=4001,
            description="Refund of payment abc",
        )
        lines = credit_note_lines(session, credit_note_id=note.id)
    # 40.01 split 121.00 : 33.60, each part VAT-inclusive at its own rate.
    assert [(line.vat_rate, line.gross_minor) for line in lines] == [("12", 870), ("21", 3131)]
    assert all(line.net_minor + line.vat_minor == line.gross_minor for line in lines)
    assert note.total_minor == 4001


def test_only_issued_invoices_are_credited_and_never_cancelled_once_money_moved(any_db):
    draft = make_invoice(channel=None, issue=False)
    with write_session() as session, pytest.raises(ValidationError, match="draft"):
        issue_credit_note(session, actor="finance", invoice_id=draft.id, reason="x", full=True)
    invoice = make_invoice(channel=None)
    _issue(invoice.id, lines=[LineInput("Consulting", "1", "10.00", "21")])
    with write_session() as session, pytest.raises(ValidationError, match="issue a credit note"):
        cancel_invoice(session, actor="finance", invoice_id=invoice.id, reason="wrong customer")
    cancelled = make_invoice(channel=None)
    with write_session() as session:
        cancel_invoice(session, actor="finance", invoice_id=cancelled.id, reason="duplicate")
    with write_session() as session, pytest.raises(ValidationError, match="cancelled"):
        issue_credit_note(session, actor="finance", invoice_id=cancelled.id, reason="x", full=True)


def test_a_rolled_back_credit_note_gives_its_number_back(any_db):
    invoice = make_invoice(channel=None)
    with pytest.raises(RuntimeError), write_session() as session:
        issued = issue_credit_note(
            session, actor="finance", invoice_id=invoice.id, reason="x", full=True, today=TODAY
        )
        assert issued.number == "KR-2026-0001"
        raise RuntimeError("the page failed after issuing")
    assert _invoice(invoice.id).credited_minor == 0
    assert _issue(invoice.id, full=True).number == "KR-2026-0001"


def test_a_manager_cannot_issue_a_credit_note(any_db):
    from shared.users import PermissionDenied, create_user

    invoice = make_invoice(channel=None)
    with write_session() as session:
        create_user(
            session, actor=SYSTEM_ACTOR, username="mara", password="correct-horse-1", role="manager"
        )
    with write_session() as session, pytest.raises(PermissionDenied):
        issue_credit_note(session, actor="mara", invoice_id=invoice.id, reason="x", full=True)


@pytest.mark.postgres
def test_two_concurrent_issuers_get_gapless_numbers_on_postgresql(postgres_url):
    from shared.operations.migrate import upgrade_to_head

    upgrade_to_head(postgres_url)
    invoices = [make_invoice(channel=None) for _ in range(2)]
    rounds = 8
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def issuer(invoice_id: int) -> None:
        for _ in range(rounds):
            barrier.wait(timeout=30)
            try:
                with write_session() as session:
                    issue_credit_note(
                        session,
                        actor="finance",
                        invoice_id=invoice_id,
                        reason="Discount",
                        lines=[LineInput("Discount", "1", "1.00", "21")],
                        today=TODAY,
                    )
            except BaseException as error:  # reported below, not lost in the thread
                errors.append(error)

    threads = [threading.Thread(target=issuer, args=(invoice.id,)) for invoice in invoices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with read_session() as session:
        numbers = session.exec(select(CreditNote.number).order_by(col(CreditNote.number))).all()
        entries = session.exec(
            select(LedgerEntry).where(LedgerEntry.kind == LedgerEntryKind.CREDIT_NOTE)
        ).all()
    assert numbers == [f"KR-2026-{n:04d}" for n in range(1, 2 * rounds + 1)]
    assert len(entries) == 2 * rounds
    for invoice in invoices:
        assert _invoice(invoice.id).credited_minor == rounds * 121
