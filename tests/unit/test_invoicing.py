from datetime import date, timedelta

import pytest
from sqlmodel import select

from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import (
    DraftInput,
    InvoiceLinesError,
    LineInput,
    cancel_invoice,
    create_draft,
    display_status,
    invoice_number_candidates,
    update_draft,
)
from shared.models import AuditLog, Invoice, InvoiceLine, InvoiceStatus
from tests.utils.factories import make_channel, make_customer, make_invoice, post_payment


def test_draft_totals_and_lines_are_exact(db):
    customer = make_customer()
    with write_session() as session:
        draft = create_draft(
            session,
            actor="t",
            data=DraftInput(
                customer_id=customer.id,
                lines=[
                    LineInput("Hours", "2,5", "65.00", "21"),
                    LineInput("Books", "3", "3.35", "12"),
                ],
            ),
        )
    # 2.5 × 65.00 = 162.50 + 21 % 34.13 (34.125 half up); 3 × 3.35 = 10.05 + 12 % 1.21 (1.206)
    assert (draft.subtotal_minor, draft.vat_minor, draft.total_minor) == (17255, 3534, 20789)
    assert draft.status == InvoiceStatus.DRAFT and draft.number is None
    assert draft.open_minor == draft.total_minor


def test_every_bad_line_is_reported_at_once_with_its_line_number(db):
    customer = make_customer()
    with pytest.raises(InvoiceLinesError) as error, write_session() as session:
        create_draft(
            session,
            actor="t",
            data=DraftInput(
                customer_id=customer.id,
                lines=[
                    LineInput("", "1", "10", "21"),
                    LineInput("Hours", "0", "12,345.6.7", "21"),
                    LineInput("Books", "1", "10", "150"),
                ],
            ),
        )
    found = {(e.line, e.field) for e in error.value.errors}
    assert found == {(1, "description"), (2, "quantity"), (2, "unit_price"), (3, "vat_rate")}
    assert "Line 2" in str(error.value)


def test_empty_invoice_is_refused(db):
    customer = make_customer()
    with pytest.raises(InvoiceLinesError, match="at least one line"), write_session() as session:
        create_draft(
            session,
            actor="t",
            data=DraftInput(customer_id=customer.id, lines=[LineInput("", "", "")]),
        )


def test_invoice_currency_must_be_the_channels(db):
    channel = make_channel(currency="EUR")
    customer = make_customer()
    with pytest.raises(ValidationError, match="takes EUR only"), write_session() as session:
        create_draft(
            session,
            actor="t",
            data=DraftInput(
                customer_id=customer.id,
                channel_id=channel.id,
                currency="USD",
                lines=[LineInput("X", "1", "1")],
            ),
        )


def test_only_drafts_are_edited(db):
    invoice = make_invoice(channel=None)
    with pytest.raises(ValidationError, match="Only a draft"), write_session() as session:
        update_draft(
            session,
            actor="t",
            invoice_id=invoice.id,
            data=DraftInput(
                customer_id=invoice.customer_id,
                lines=[LineInput("X", "1", "1")],
                currency="EUR",
                channel_id=None,
            ),
        )


def test_update_draft_replaces_lines(db):
    draft = make_invoice(channel=None, issue=False)
    with write_session() as session:
        update_draft(
            session,
            actor="t",
            invoice_id=draft.id,
            data=DraftInput(
                customer_id=draft.customer_id,
                lines=[LineInput("New", "4", "25.00", "0")],
                currency="EUR",
                channel_id=None,
            ),
        )
    with read_session() as session:
        lines = session.query(InvoiceLine).filter_by(invoice_id=draft.id).all()
        stored = session.get(Invoice, draft.id)
    assert [(line.description, line.net_minor) for line in lines] == [("New", 10000)]
    assert stored.total_minor == 10000


def test_overdue_is_derived_from_the_due_date(db):
    today = date(2026, 11, 28)
    invoice = make_invoice(
        channel=None, issue_date=today - timedelta(days=30), due_date=today - timedelta(days=1)
    )
    assert display_status(invoice, today=today) == "overdue"
    assert display_status(invoice, today=today - timedelta(days=2)) == InvoiceStatus.ISSUED


def test_payments_move_status_and_cancel_rules(db):
    invoice = make_invoice(channel=None)
    with write_session() as session:
        stored = post_payment(session, invoice_id=invoice.id, amount_minor=2100)
        assert stored.status == InvoiceStatus.PARTIALLY_PAID and stored.open_minor == 10000
        with pytest.raises(ValidationError, match="issue a credit note"):
            cancel_invoice(session, actor="t", invoice_id=invoice.id, reason="x")
        post_payment(session, invoice_id=invoice.id, amount_minor=10000)
        assert stored.status == InvoiceStatus.PAID and stored.paid_at is not None
        post_payment(session, invoice_id=invoice.id, amount_minor=-10000)
        assert stored.status == InvoiceStatus.PARTIALLY_PAID and stored.paid_at is None
    other = make_invoice(channel=None)
    with write_session() as session:
        with pytest.raises(ValidationError, match="Say why"):
            cancel_invoice(session, actor="t", invoice_id=other.id, reason="  ")
        cancelled = cancel_invoice(session, actor="t", invoice_id=other.id, reason="Duplicate")
        assert cancelled.status == InvoiceStatus.CANCELLED and cancelled.open_minor == 0
    with read_session() as session:
        actions = [a.action for a in session.query(AuditLog).all()]
    assert "invoice.cancel" in actions and "invoice.issue" in actions


def test_partial_payment_suffix_is_stripped_back_to_the_number():
    assert invoice_number_candidates("INV-2026-0042-2") == ["INV-2026-0042-2", "INV-2026-0042"]
    assert invoice_number_candidates("INV-2026-0042")[0] == "INV-2026-0042"


def test_lines_and_the_invoice_total_are_held_to_the_maximum_amount(db):
    customer = make_customer()
    price = "999 999 999 999.99"
    with pytest.raises(InvoiceLinesError) as error, write_session() as session:
        create_draft(
            session,
            actor="t",
            data=DraftInput(customer_id=customer.id, lines=[LineInput("Big", "2", price, "0")]),
        )
    [line_error] = error.value.errors
    assert (line_error.line, line_error.field) == (1, "unit_price")
    assert (
        line_error.message == "A line's total can be at most 999\u202f999\u202f999\u202f999.99 EUR."
    )

    half = "500 000 000 000.00"
    with pytest.raises(InvoiceLinesError) as error, write_session() as session:
        create_draft(
            session,
            actor="t",
            data=DraftInput(
                customer_id=customer.id,
                lines=[LineInput("Half", "1", half, "0"), LineInput("Half", "1", half, "0")],
            ),
        )
    assert [(e.line, e.message) for e in error.value.errors] == [
        (2, "The invoice total can be at most 999\u202f999\u202f999\u202f999.99 EUR.")
    ]


def test_a_large_invoice_is_stored_exactly_on_each_backend(any_db):
    customer = make_customer()
    with write_session() as session:
        draft = create_draft(
            session,
            actor="t",
            data=DraftInput(
                customer_id=customer.id, lines=[LineInput("Ship", "1", "30 000 000,00", "21")]
            ),
        )
    with read_session() as session:
        stored = session.get(Invoice, draft.id)
    assert (stored.subtotal_minor, stored.total_minor) == (3_000_000_000, 3_630_000_000)


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (
            LineInput("x" * 501, "1", "10"),
            "description",
            "at most 500 characters; this one has 501",
        ),
        (LineInput("Two\nlines", "1", "10"), "description", "Description must be on one line."),
        (LineInput("Null\x00", "1", "10"), "description", "invisible control character (U+0000)"),
        (LineInput("Hours", "1", "10", unit="hours-of-work-xyz"), "unit", "at most 16 characters"),
    ],
)
def test_line_text_that_cannot_be_stored_as_typed_is_refused_not_cut(
    any_db, line: LineInput, field: str, message: str
):
    customer = make_customer()
    with pytest.raises(InvoiceLinesError) as error, write_session() as session:
        create_draft(session, actor="t", data=DraftInput(customer_id=customer.id, lines=[line]))
    [line_error] = error.value.errors
    assert line_error.field == field and message in line_error.message
    with read_session() as session:
        assert session.exec(select(Invoice)).first() is None


def test_notes_with_a_nul_or_too_long_are_refused_on_each_backend(any_db):
    customer = make_customer()
    for notes, message in (("Paid\x00", "control character"), ("n" * 2001, "2000 characters")):
        with pytest.raises(ValidationError, match=message) as error, write_session() as session:
            create_draft(
                session,
                actor="t",
                data=DraftInput(
                    customer_id=customer.id, lines=[LineInput("Hours", "1", "10")], notes=notes
                ),
            )
        assert error.value.field == "notes"
    with write_session() as session:
        draft = create_draft(
            session,
            actor="t",
            data=DraftInput(
                customer_id=customer.id,
                lines=[LineInput("Hours", "1", "10")],
                notes="Line one\r\nLine two",
            ),
        )
    with read_session() as session:
        assert session.get(Invoice, draft.id).notes == "Line one\nLine two"
