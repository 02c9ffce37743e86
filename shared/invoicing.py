"""Invoices: drafts with lines, issuing with gapless numbers, cancelling, payment booking.

The invoice's stored status moves draft → issued → sent → partially_paid → paid, or to
cancelled; "overdue" is derived from the due date when shown, so it never goes stale.
"""

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Self

from pydantic import model_validator
from sqlalchemy import ColumnElement, and_
from sqlmodel import Session, col, delete, select

from shared import vat
from shared.audit import record_audit
from shared.errors import ValidationError, on_field
from shared.inputs import FormInput, multiline
from shared.models import (
    Customer,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    PaymentChannel,
    utcnow,
)
from shared.money import (
    LineAmounts,
    MoneyError,
    check_amount_bound,
    from_minor,
    invoice_totals,
    line_net_minor,
    parse_amount_minor,
    parse_exchange_rate,
    parse_quantity,
    parse_vat_rate,
)
from shared.numbering import INVOICE, assign_number, lock_series
from shared.security import new_token, seal_token
from shared.states import OPEN_STATUSES, OVERDUE
from shared.text import clean_single_line
from shared.users import require_permission
from shared.vat import VatCategory, VatLine, line_vats

PARTIAL_SUFFIX = re.compile(r"(?P<number>.+)-[0-9]{1,4}")
# The columns' lengths (InvoiceLine.description, InvoiceLine.unit, Invoice.notes).
LINE_TEXT_LIMITS = {"description": 500, "unit": 16}
NOTES_LIMIT = 2000


@dataclass(frozen=True)
class LineInput:
    description: str
    quantity: str
    unit_price: str
    vat_rate: str = "21"
    unit: str = ""
    # Empty: S above 0 %, Z at 0 % (shared.vat.category_of).
    vat_category: str = ""
    vat_exemption: str = ""
    vat_exemption_code: str = ""


@dataclass(frozen=True)
class LineError:
    line: int  # 1-based, as the user sees it
    field: str
    template: str  # English, with {name} places for ``values``, as in ValidationError
    values: Mapping[str, object] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, line: int, field: str, error: ValidationError) -> "LineError":
        return cls(line, field, error.template, dict(error.values))

    @property
    def message(self) -> str:
        """The English sentence, values filled in."""
        return self.template.format(**self.values) if self.values else self.template


@dataclass(frozen=True)
class _ParsedLine:
    number: int
    description: str
    unit: str
    quantity: Decimal
    unit_price_minor: int
    category: VatCategory
    rate: Decimal
    exemption: vat.Exemption


class InvoiceLinesError(ValidationError):
    def __init__(self, errors: list[LineError]) -> None:
        super().__init__("; ".join(f"Line {e.line}: {e.message}" for e in errors), field="lines")
        self.errors = errors


def build_lines(lines: list[LineInput], *, currency: str) -> list[InvoiceLine]:
    """Validates every line and computes its amounts; all errors are reported at once.

    VAT follows ``shared.vat``'s one rule: rounded once per (category, rate) group, then
    allocated over the group's lines."""
    errors: list[LineError] = []
    parsed: list[_ParsedLine] = []
    meaningful = [
        line
        for line in lines
        if any(str(v).strip() for v in (line.description, line.quantity, line.unit_price))
    ]
    if not meaningful:
        raise InvoiceLinesError(
            [LineError(1, "description", "An invoice needs at least one line.")]
        )
    for number, line in enumerate(meaningful, start=1):
        description = _line_text(errors, number, "description", "Description", line.description)
        unit = _line_text(errors, number, "unit", "Unit", line.unit)
        if description == "":
            errors.append(LineError(number, "description", "Description is empty."))
        try:
            quantity = parse_quantity(line.quantity)
        except MoneyError as error:
            errors.append(LineError.of(number, "quantity", error))
            quantity = None
        try:
            unit_price_minor = parse_amount_minor(line.unit_price, currency, field="Unit price")
            if unit_price_minor < 0:
                raise MoneyError("Unit price cannot be negative.")
        except MoneyError as error:
            errors.append(LineError.of(number, "unit_price", error))
            unit_price_minor = None
        line_vat = _line_vat(errors, number, line)
        if quantity is None or unit_price_minor is None or line_vat is None:
            continue
        if not description or unit is None:
            continue
        category, rate, exemption = line_vat
        parsed.append(
            _ParsedLine(
                number, description, unit, quantity, unit_price_minor, category, rate, exemption
            )
        )
    _check_one_exemption(errors, parsed)
    nets = [
        line_net_minor(
            quantity=line.quantity, unit_price_minor=line.unit_price_minor, currency=currency
        )
        for line in parsed
    ]
    shares = line_vats(
        [VatLine(line.category, line.rate, net) for line, net in zip(parsed, nets, strict=True)],
        currency=currency,
    )
    built: list[InvoiceLine] = []
    for line, net_minor, vat_minor in zip(parsed, nets, shares, strict=True):
        try:
            check_amount_bound(
                from_minor(net_minor + vat_minor, currency), currency, field="A line's total"
            )
        except MoneyError as error:
            errors.append(LineError.of(line.number, "unit_price", error))
            continue
        built.append(
            InvoiceLine(
                invoice_id=0,
                position=line.number,
                description=line.description,
                quantity=f"{line.quantity.normalize():f}",
                unit=line.unit,
                unit_price_minor=line.unit_price_minor,
                vat_rate=f"{line.rate.normalize():f}",
                vat_category=line.category.value,
                vat_exemption_reason=line.exemption.reason,
                vat_exemption_code=line.exemption.code,
                net_minor=net_minor,
                vat_minor=vat_minor,
                gross_minor=net_minor + vat_minor,
            )
        )
    if not errors:
        try:
            total = sum(line.gross_minor for line in built)
            check_amount_bound(from_minor(total, currency), currency, field="The invoice total")
        except MoneyError as error:
            errors.append(LineError.of(len(meaningful), "unit_price", error))
    if errors:
        raise InvoiceLinesError(errors)
    return built


def _line_vat(
    errors: list[LineError], number: int, line: LineInput
) -> tuple[VatCategory, Decimal, vat.Exemption] | None:
    """The line's VAT category, rate and exemption, or None with the reasons in ``errors``."""
    try:
        rate = parse_vat_rate(line.vat_rate)
    except MoneyError as error:
        errors.append(LineError.of(number, "vat_rate", error))
        return None
    try:
        category = vat.category_of(category=line.vat_category, rate=rate)
        vat.check_rate(category=category, rate=rate)
        exemption = vat.check_exemption(
            category=category, reason=line.vat_exemption, code=line.vat_exemption_code
        )
    except ValidationError as error:
        errors.append(LineError.of(number, error.field or "vat_rate", error))
        return None
    return category, rate, exemption


def _check_one_exemption(errors: list[LineError], parsed: list[_ParsedLine]) -> None:
    """Exempt lines share one reason: the VAT table has one row, and one reason, for them."""
    first: vat.Exemption | None = None
    for line in parsed:
        if line.category is not VatCategory.EXEMPT:
            continue
        if first is None:
            first = line.exemption
        elif line.exemption != first:
            errors.append(
                LineError(
                    line.number,
                    "vat_exemption",
                    "Exempt lines on one invoice give the same exemption reason.",
                )
            )


def check_buyer_vat_number(lines: list[InvoiceLine], *, customer: Customer) -> None:
    """Reverse charge and intra-EU supply shift the VAT to the buyer, whom the invoice
    must name by their VAT number; an intra-EU buyer's is from another member state."""
    line_errors = []
    for line in lines:
        category = VatCategory(line.vat_category)
        if category not in vat.NEEDS_BUYER_VAT_NUMBER:
            continue
        if not customer.vat_number.strip():
            line_errors.append(
                LineError(
                    line.position,
                    "vat_category",
                    "{label} needs the customer's VAT number: add it to {customer} first.",
                    {"label": vat.label(category), "customer": customer.name},
                )
            )
        elif category is VatCategory.INTRA_EU_SUPPLY and _is_latvian(customer.vat_number):
            line_errors.append(
                LineError(
                    line.position,
                    "vat_category",
                    "An intra-EU supply goes to a customer VAT-registered in another member "
                    "state; {customer}'s VAT number is Latvian.",
                    {"customer": customer.name},
                )
            )
    if line_errors:
        raise InvoiceLinesError(line_errors)


def _is_latvian(vat_number: str) -> bool:
    return vat_number.strip().upper().startswith("LV")


def _line_text(
    errors: list[LineError], number: int, field: str, label: str, value: str
) -> str | None:
    """The line's text, or None with the reason added to ``errors``."""
    try:
        return clean_single_line(
            value, field=field, label=label, max_length=LINE_TEXT_LIMITS[field]
        )
    except ValidationError as error:
        errors.append(LineError.of(number, field, error))
        return None


def _apply_totals(invoice: Invoice, lines: list[InvoiceLine]) -> None:
    totals = invoice_totals(
        [_amounts(line) for line in lines], [Decimal(line.vat_rate) for line in lines]
    )
    invoice.subtotal_minor = totals.subtotal_minor
    invoice.vat_minor = totals.vat_minor
    invoice.total_minor = totals.total_minor
    invoice.open_minor = totals.total_minor - invoice.paid_minor


def _amounts(line: InvoiceLine) -> LineAmounts:
    return LineAmounts(line.net_minor, line.vat_minor, line.gross_minor)


def vat_breakdown(lines: list[InvoiceLine]) -> dict[str, tuple[int, int]]:
    return invoice_totals(
        [_amounts(line) for line in lines], [Decimal(line.vat_rate) for line in lines]
    ).vat_breakdown


class DraftInput(FormInput):
    """The invoice editor's header and lines. What needs the database (the customer, the
    channel and its currency) and the lines' amounts are checked when the draft is saved."""

    customer_id: int
    lines: list[LineInput]
    currency: str = "EUR"
    channel_id: int | None = None
    issue_date: date | None = None
    supply_date: date | None = None
    due_date: date | None = None
    notes: Annotated[str, multiline("Notes", max_length=NOTES_LIMIT)] = ""
    reminders_enabled: bool = False
    # Currency units per 1 EUR; only a non-EUR invoice has one (shared.money.eur_minor).
    eur_exchange_rate: str = ""

    @model_validator(mode="after")
    def _due_not_before_issue(self) -> Self:
        if self.issue_date and self.due_date and self.due_date < self.issue_date:
            raise ValidationError("Due date cannot be before the issue date.", field="due_date")
        return self

    @model_validator(mode="after")
    def _exchange_rate(self) -> Self:
        typed = self.eur_exchange_rate.strip()
        if not typed:
            self.eur_exchange_rate = ""
            return self
        if self.currency == "EUR":
            raise ValidationError("A EUR invoice has no exchange rate.", field="eur_exchange_rate")
        try:
            rate = parse_exchange_rate(typed)
        except MoneyError as error:
            raise on_field(error, "eur_exchange_rate") from None
        self.eur_exchange_rate = f"{rate.normalize():f}"
        return self


def _checked_lines(session: Session, data: DraftInput) -> list[InvoiceLine]:
    """The draft's lines, built once its customer and channel are known to fit."""
    customer = session.get(Customer, data.customer_id)
    if customer is None:
        raise ValidationError("Choose a customer.", field="customer_id")
    if data.channel_id is not None:
        channel = session.get(PaymentChannel, data.channel_id)
        if channel is None:
            raise ValidationError("That payment channel does not exist.", field="channel_id")
        if channel.currency != data.currency:
            raise ValidationError(
                "The channel takes {channel_currency} only; the invoice is in {currency}.",
                channel_currency=channel.currency,
                currency=data.currency,
                field="currency",
            )
    built = build_lines(data.lines, currency=data.currency)
    check_buyer_vat_number(built, customer=customer)
    return built


def create_draft(
    session: Session,
    *,
    actor: str,
    data: DraftInput,
    series: str | None = None,
) -> Invoice:
    """A new draft in invoice series ``series`` (a prefix), or the default series."""
    require_permission(session, actor=actor, permission="edit")
    built = _checked_lines(session, data)
    series = lock_series(session, document_type=INVOICE, prefix=series).prefix
    public_token_hash, public_token_encrypted = seal_token(new_token(24))
    invoice = Invoice(
        **data.model_dump(exclude={"lines"}),
        series=series,
        public_token_hash=public_token_hash,
        public_token_encrypted=public_token_encrypted,
        created_by=actor,
    )
    _apply_totals(invoice, built)
    session.add(invoice)
    session.flush()
    for line in built:
        line.invoice_id = invoice.id
        session.add(line)
    record_audit(
        session,
        actor=actor,
        action="invoice.create_draft",
        entity_type="invoice",
        entity_id=invoice.id,
        details={"total_minor": invoice.total_minor, "currency": data.currency},
    )
    return invoice


def update_draft(
    session: Session,
    *,
    actor: str,
    invoice_id: int,
    data: DraftInput,
    series: str | None = None,
) -> Invoice:
    """Saves the draft; ``series`` (a prefix) moves it to that invoice series."""
    require_permission(session, actor=actor, permission="edit")
    invoice = lock_invoice(session, invoice_id=invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        raise ValidationError("Only a draft can be edited; this invoice is already issued.")
    built = _checked_lines(session, data)
    if series is not None:
        invoice.series = lock_series(session, document_type=INVOICE, prefix=series).prefix
    session.exec(delete(InvoiceLine).where(col(InvoiceLine.invoice_id) == invoice_id))
    for line in built:
        line.invoice_id = invoice_id
        session.add(line)
    invoice.sqlmodel_update({**data.model_dump(exclude={"lines"}), "updated_at": utcnow()})
    _apply_totals(invoice, built)
    session.add(invoice)
    record_audit(
        session,
        actor=actor,
        action="invoice.update_draft",
        entity_type="invoice",
        entity_id=invoice_id,
        details={"total_minor": invoice.total_minor},
    )
    return invoice


def delete_draft(session: Session, *, actor: str, invoice_id: int) -> None:
    require_permission(session, actor=actor, permission="edit")
    invoice = lock_invoice(session, invoice_id=invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        raise ValidationError("An issued invoice is never deleted; cancel it instead.")
    session.exec(delete(InvoiceLine).where(col(InvoiceLine.invoice_id) == invoice_id))
    session.delete(invoice)
    record_audit(
        session,
        actor=actor,
        action="invoice.delete_draft",
        entity_type="invoice",
        entity_id=invoice_id,
    )


def issue_invoice(
    session: Session,
    *,
    actor: str,
    invoice_id: int,
    today: date | None = None,
    confirm_backdated: bool = False,
) -> Invoice:
    """Numbers the draft in its series; ``confirm_backdated`` issues it even though the
    series already has a number dated later (``shared.numbering.BackdatedIssue``)."""
    require_permission(session, actor=actor, permission="edit")
    invoice = lock_invoice(session, invoice_id=invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        raise ValidationError("Invoice {number} is already issued.", number=invoice.number)
    if invoice.total_minor <= 0:
        raise ValidationError("An invoice of zero cannot be issued.")
    lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice_id)).all()
    if not lines:
        raise ValidationError("An invoice needs at least one line.")
    if invoice.currency != "EUR" and not invoice.eur_exchange_rate:
        raise ValidationError(
            "A {currency} invoice states its VAT in EUR too: fill in the Exchange rate (1 EUR = … "
            "{currency}) before issuing.",
            currency=invoice.currency,
            field="eur_exchange_rate",
        )
    issue_date = invoice.issue_date or today or utcnow().date()
    invoice.issue_date = issue_date
    if invoice.due_date is None:
        payment_days = session.exec(
            select(Customer.payment_terms_days).where(col(Customer.id) == invoice.customer_id)
        ).one()
        invoice.due_date = issue_date + timedelta(days=payment_days)
    assigned = assign_number(
        session,
        document_type=INVOICE,
        prefix=invoice.series,
        day=issue_date,
        confirm_backdated=confirm_backdated,
    )
    invoice.number = assigned.number
    invoice.status = InvoiceStatus.ISSUED
    invoice.issued_at = utcnow()
    invoice.updated_at = utcnow()
    invoice.open_minor = invoice.total_minor - invoice.paid_minor
    session.add(invoice)
    record_audit(
        session,
        actor=actor,
        action="invoice.issue",
        entity_type="invoice",
        entity_id=invoice_id,
        details={
            "number": invoice.number,
            **({"confirmed_after": assigned.confirmed_after} if assigned.confirmed_after else {}),
        },
    )
    return invoice


def cancel_invoice(session: Session, *, actor: str, invoice_id: int, reason: str) -> Invoice:
    require_permission(session, actor=actor, permission="edit")
    invoice = lock_invoice(session, invoice_id=invoice_id)
    reason = clean_single_line(reason, field="reason", label="Reason", max_length=500)
    if not reason:
        raise ValidationError("Say why the invoice is cancelled.", field="reason")
    if invoice.status == InvoiceStatus.CANCELLED:
        raise ValidationError("The invoice is already cancelled.")
    if invoice.status == InvoiceStatus.DRAFT:
        raise ValidationError("A draft is not cancelled; delete it instead.")
    if invoice.paid_minor or invoice.credited_minor or invoice.returned_minor:
        # Cancelling would drop the ledger's record of that money; a credit note keeps it.
        raise ValidationError(
            "Money has moved on this invoice (payments, credit notes or refunds): "
            "issue a credit note for it instead of cancelling."
        )
    invoice.status = InvoiceStatus.CANCELLED
    invoice.cancellation_reason = reason[:500]
    invoice.cancelled_at = utcnow()
    invoice.updated_at = utcnow()
    invoice.open_minor = 0
    session.add(invoice)
    record_audit(
        session,
        actor=actor,
        action="invoice.cancel",
        entity_type="invoice",
        entity_id=invoice_id,
        details={"number": invoice.number, "reason": reason[:200]},
    )
    return invoice


def mark_sent(session: Session, *, invoice_id: int) -> Invoice:
    """Records that the invoice went out; an issued invoice becomes "sent", a paid or
    partially paid one keeps its status (the row is locked, so that is today's status)."""
    invoice = lock_invoice(session, invoice_id=invoice_id)
    invoice.sent_at = invoice.sent_at or utcnow()
    if invoice.status == InvoiceStatus.ISSUED:
        invoice.status = InvoiceStatus.SENT
    invoice.updated_at = utcnow()
    session.add(invoice)
    return invoice


def display_status(invoice: Invoice, *, today: date | None = None) -> str:
    today = today or utcnow().date()
    if is_overdue(status=invoice.status, due_date=invoice.due_date, today=today):
        return OVERDUE
    return invoice.status


# The overdue rule, once in Python and once in SQL; tests/unit/test_overdue.py holds the
# two to the same answer on both databases.


def is_overdue(*, status: str, due_date: date | None, today: date) -> bool:
    """Open (issued and not fully paid) and past its due date; no due date, never."""
    return status in OPEN_STATUSES and due_date is not None and due_date < today


def overdue_clause(today: date) -> ColumnElement[bool]:
    """``is_overdue`` on the invoice table. True or false, never NULL (a missing due date
    is spelled out, not left to NULL < today), so its negation selects exactly the rest."""
    due_date = col(Invoice.due_date)
    return and_(col(Invoice.status).in_(OPEN_STATUSES), due_date.is_not(None), due_date < today)


def order_reference(invoice: Invoice) -> str:
    """The invoice number, with "-2", "-3", … once earlier attempts settled part of it:
    EveryPay accepts one settled payment per order reference."""
    if not invoice.number:
        raise ValidationError("A draft has no number yet; issue it first.")
    if invoice.settled_payments == 0:
        return invoice.number
    return f"{invoice.number}-{invoice.settled_payments + 1}"


def invoice_number_candidates(reference: str) -> list[str]:
    """The invoice numbers an order reference may stand for: itself, and without the
    partial-payment suffix ``order_reference`` adds ("INV-2026-0042-2" → "INV-2026-0042")."""
    candidates = [reference]
    partial = PARTIAL_SUFFIX.fullmatch(reference)
    if partial:
        candidates.append(partial["number"])
    return candidates


def open_amount(invoice: Invoice) -> Decimal:
    return from_minor(invoice.open_minor, invoice.currency)


def lock_invoice(session: Session, *, invoice_id: int) -> Invoice:
    """The invoice, read afresh and locked until the caller's transaction ends.

    Every write to an invoice row starts here, so a decision taken on its status or
    balances cannot be overtaken by a payment booked meanwhile: on PostgreSQL the booking
    (``callbacks.apply``) locks the same row first, in the same order (invoice before
    attempt); SQLite's IMMEDIATE write transactions already take turns. NO KEY UPDATE, as
    in the booking path, so rows referencing the invoice can still be inserted.
    """
    invoice = session.exec(
        select(Invoice)
        .where(col(Invoice.id) == invoice_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).first()
    if invoice is None:
        raise ValidationError("That invoice does not exist.")
    return invoice
