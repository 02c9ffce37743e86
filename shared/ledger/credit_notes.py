"""Credit notes: part or all of an issued invoice is no longer owed.

A credit note has its own gapless series ("KR-2026-0001", numbered in the transaction that
issues it, so a rollback gives the number back), lines with VAT computed like an invoice's,
and one CREDIT_NOTE ledger entry that lowers the invoice's open balance; on an invoice paid
already that balance goes below zero, the customer's credit. It is never changed or
deleted: a wrong one is corrected by a new invoice.

What can still be credited is bounded per VAT category and rate by what the invoice charged
there less what earlier credit notes took off it, so the credit notes of an invoice never
add up to more than its total, nor move VAT to a category or rate the invoice never had.
Their VAT follows the invoice's rule (``shared.vat``): rounded once per category and rate.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, select

from shared.audit import record_audit
from shared.company import company_settings, local_today
from shared.db import read_session
from shared.errors import ValidationError, on_field
from shared.i18n import language_for, text
from shared.invoicing import LineInput, build_lines, lock_invoice
from shared.ledger.posting import post_entry
from shared.models import (
    CreditNote,
    CreditNoteLine,
    Customer,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntryKind,
    LedgerSource,
)
from shared.money import (
    LineAmounts,
    MoneyError,
    allocate_minor,
    format_money,
    from_minor,
    invoice_totals,
    line_amounts,
    parse_amount_minor,
    to_minor,
)
from shared.numbering import CREDIT_NOTE, assign_number
from shared.text import clean_single_line
from shared.users import require_permission
from shared.vat import Exemption, VatCategory, group_key

CREDITABLE_STATUSES = frozenset(
    {
        InvoiceStatus.ISSUED,
        InvoiceStatus.SENT,
        InvoiceStatus.PARTIALLY_PAID,
        InvoiceStatus.PAID,
    }
)
REASON_LIMIT = 500


def creditable_minor(invoice: Invoice) -> int:
    """What credit notes may still take off the invoice: its total less earlier ones."""
    return invoice.total_minor - invoice.credited_minor


def has_money_on_it(invoice: Invoice) -> bool:
    """Whether any payment, credit note or refund has moved the invoice's balance."""
    return bool(invoice.paid_minor or invoice.credited_minor or invoice.returned_minor)


def remaining_by_rate(
    session: Session, *, invoice: Invoice
) -> dict[tuple[str, str], tuple[int, int]]:
    """(VAT category, rate) -> (net, VAT) the invoice charged there less its credit notes'."""
    charged = session.exec(
        select(
            InvoiceLine.vat_category,
            InvoiceLine.vat_rate,
            InvoiceLine.net_minor,
            InvoiceLine.vat_minor,
        ).where(InvoiceLine.invoice_id == invoice.id)
    ).all()
    credited = session.exec(
        select(
            CreditNoteLine.vat_category,
            CreditNoteLine.vat_rate,
            CreditNoteLine.net_minor,
            CreditNoteLine.vat_minor,
        )
        .join(CreditNote, col(CreditNote.id) == CreditNoteLine.credit_note_id)
        .where(CreditNote.invoice_id == invoice.id)
    ).all()
    remaining: dict[tuple[str, str], tuple[int, int]] = {}
    for sign, rows in ((1, charged), (-1, credited)):
        for category, rate, net, vat in rows:
            key = group_key(category, Decimal(rate))
            left_net, left_vat = remaining.get(key, (0, 0))
            remaining[key] = (left_net + sign * net, left_vat + sign * vat)
    return dict(sorted(remaining.items(), key=lambda item: (Decimal(item[0][1]), item[0][0])))


def _exemption(session: Session, *, invoice: Invoice) -> Exemption:
    """The invoice's exemption (one per invoice, see ``invoicing.build_lines``), for credit
    lines written from a sum rather than copied from a line."""
    line = session.exec(
        select(InvoiceLine).where(
            InvoiceLine.invoice_id == invoice.id, InvoiceLine.vat_category == VatCategory.EXEMPT
        )
    ).first()
    if line is None:
        return Exemption("", "")
    return Exemption(line.vat_exemption_reason, line.vat_exemption_code)


def issue_credit_note(
    session: Session,
    *,
    actor: str,
    invoice_id: int,
    reason: str,
    lines: list[LineInput] | None = None,
    full: bool = False,
    today: date | None = None,
    series: str | None = None,
    confirm_backdated: bool = False,
) -> CreditNote:
    """Credits ``lines`` (parsed and computed as invoice lines are), or with ``full`` all
    that is left to credit, with the invoice's own lines."""
    require_permission(session, actor=actor, permission="edit")
    invoice, reason = _creditable_invoice(session, invoice_id=invoice_id, reason=reason)
    remaining = remaining_by_rate(session, invoice=invoice)
    if full:
        built = _remaining_lines(
            session,
            invoice=invoice,
            remaining=remaining,
            exemption=_exemption(session, invoice=invoice),
        )
    elif lines:
        built = [_credit_line(line) for line in build_lines(lines, currency=invoice.currency)]
    else:
        raise ValidationError("Choose what to credit, or credit the whole invoice.", field="lines")
    _check_fits(invoice, built=built, remaining=remaining)
    return _issue(
        session,
        actor=actor,
        invoice=invoice,
        reason=reason,
        built=built,
        today=today,
        series=series,
        confirm_backdated=confirm_backdated,
    )


def credit_amount(
    session: Session,
    *,
    actor: str,
    invoice_id: int,
    reason: str,
    amount_minor: int,
    description: str,
    today: date | None = None,
    series: str | None = None,
    confirm_backdated: bool = False,
) -> CreditNote:
    """Credits a sum including VAT (a refund, a price reduction agreed in money).

    The sum is split over the invoice's VAT rates in proportion to what is left to credit
    at each (one line when the invoice has one rate, the usual case), each part as one
    VAT-inclusive line: net = part / (1 + rate), VAT computed from that net like an invoice
    line's. Where that rounding cannot reach the part to the cent, the VAT is the part
    less the net, so the credit note is exactly the sum that went back.
    """
    require_permission(session, actor=actor, permission="edit")
    invoice, reason = _creditable_invoice(session, invoice_id=invoice_id, reason=reason)
    left = creditable_minor(invoice)
    if amount_minor <= 0:
        raise ValidationError("The amount to credit must be more than zero.", field="amount")
    if amount_minor > left:
        raise ValidationError(
            "At most {amount} of invoice {number} is left to credit.",
            amount=format_money(left, invoice.currency),
            number=invoice.number,
            field="amount",
        )
    remaining = remaining_by_rate(session, invoice=invoice)
    exemption = _exemption(session, invoice=invoice)
    built = [
        _inclusive_line(
            description, group=group, gross=part, currency=invoice.currency, exemption=exemption
        )
        for group, part in _split(amount_minor, remaining).items()
    ]
    _check_fits(invoice, built=built, remaining=remaining)
    return _issue(
        session,
        actor=actor,
        invoice=invoice,
        reason=reason,
        built=built,
        today=today,
        series=series,
        confirm_backdated=confirm_backdated,
    )


def parse_credit_amount(typed: str, *, currency: str) -> int:
    """A typed amount including VAT, in minor units, or why it cannot be used."""
    try:
        return parse_amount_minor(typed, currency, field="Amount")
    except MoneyError as error:
        raise on_field(error, "amount") from None


def credit_notes_of(session: Session, *, invoice_id: int) -> list[CreditNote]:
    return list(
        session.exec(
            select(CreditNote)
            .where(CreditNote.invoice_id == invoice_id)
            .order_by(col(CreditNote.id))
        ).all()
    )


def credit_note_lines(session: Session, *, credit_note_id: int) -> list[CreditNoteLine]:
    return list(
        session.exec(
            select(CreditNoteLine)
            .where(CreditNoteLine.credit_note_id == credit_note_id)
            .order_by(col(CreditNoteLine.position), col(CreditNoteLine.id))
        ).all()
    )


@dataclass(frozen=True)
class CreditNoteRow:
    id: int
    number: str
    issue_date: date
    reason: str
    total: Decimal


@dataclass(frozen=True)
class CreditingOverview:
    """What the invoice page's credit-note section needs, as plain values."""

    invoice_id: int
    invoice_number: str | None
    currency: str
    credited: Decimal
    creditable: Decimal
    can_credit: bool
    has_money: bool
    lines: tuple[LineInput, ...]
    notes: tuple[CreditNoteRow, ...]


def crediting_overview(*, invoice_id: int) -> CreditingOverview | None:
    with read_session() as session:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None:
            return None
        currency = invoice.currency
        lines = session.exec(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .order_by(col(InvoiceLine.position), col(InvoiceLine.id))
        ).all()
        notes = credit_notes_of(session, invoice_id=invoice_id)
        return CreditingOverview(
            invoice_id=invoice_id,
            invoice_number=invoice.number,
            currency=currency,
            credited=from_minor(invoice.credited_minor, currency),
            creditable=from_minor(creditable_minor(invoice), currency),
            can_credit=invoice.status in CREDITABLE_STATUSES and creditable_minor(invoice) > 0,
            has_money=has_money_on_it(invoice),
            lines=tuple(
                LineInput(
                    description=line.description,
                    quantity=line.quantity,
                    unit_price=f"{from_minor(line.unit_price_minor, currency):f}",
                    vat_rate=line.vat_rate,
                    unit=line.unit,
                    vat_category=line.vat_category,
                    vat_exemption=line.vat_exemption_reason,
                    vat_exemption_code=line.vat_exemption_code,
                )
                for line in lines
            ),
            notes=tuple(
                CreditNoteRow(
                    id=note.id,
                    number=note.number,
                    issue_date=note.issue_date,
                    reason=note.reason,
                    total=from_minor(note.total_minor, currency),
                )
                for note in notes
            ),
        )


def _creditable_invoice(session: Session, *, invoice_id: int, reason: str) -> tuple[Invoice, str]:
    invoice = lock_invoice(session, invoice_id=invoice_id)
    reason = clean_single_line(reason, field="reason", label="Reason", max_length=REASON_LIMIT)
    if not reason:
        raise ValidationError("Say why the invoice is credited.", field="reason")
    if invoice.status not in CREDITABLE_STATUSES:
        raise ValidationError(
            "Invoice {number} is {status}: only an issued, sent, partially paid or paid invoice "
            "can be credited.",
            number=invoice.number or "(draft)",
            status=invoice.status,
        )
    if creditable_minor(invoice) <= 0:
        raise ValidationError(
            "Invoice {number} is credited in full already.", number=invoice.number
        )
    return invoice, reason


def _credit_line(line: InvoiceLine) -> CreditNoteLine:
    return CreditNoteLine(
        credit_note_id=0,
        description=line.description,
        quantity=line.quantity,
        unit=line.unit,
        unit_price_minor=line.unit_price_minor,
        vat_rate=line.vat_rate,
        vat_category=line.vat_category,
        vat_exemption_reason=line.vat_exemption_reason,
        vat_exemption_code=line.vat_exemption_code,
        net_minor=line.net_minor,
        vat_minor=line.vat_minor,
        gross_minor=line.gross_minor,
    )


def _remaining_lines(
    session: Session,
    *,
    invoice: Invoice,
    remaining: dict[tuple[str, str], tuple[int, int]],
    exemption: Exemption,
) -> list[CreditNoteLine]:
    """The invoice's own lines when nothing was credited yet; otherwise what is left in
    each VAT category and rate, as one line each, so the invoice ends credited to the cent
    (its VAT is what is left, not the rule's rounding of what is left)."""
    if invoice.credited_minor == 0:
        lines = session.exec(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice.id)
            .order_by(col(InvoiceLine.position), col(InvoiceLine.id))
        ).all()
        return [_credit_line(line) for line in lines]
    description = text(_language(session, invoice), "line_remainder", number=invoice.number or "")
    return [
        CreditNoteLine(
            credit_note_id=0,
            description=description,
            quantity="1",
            unit_price_minor=net,
            vat_rate=rate,
            vat_category=category,
            **_exemption_fields(category, exemption),
            net_minor=net,
            vat_minor=vat,
            gross_minor=net + vat,
        )
        for (category, rate), (net, vat) in remaining.items()
        if net or vat
    ]


def _exemption_fields(category: str, exemption: Exemption) -> dict[str, str]:
    if category != VatCategory.EXEMPT:
        return {}
    return {"vat_exemption_reason": exemption.reason, "vat_exemption_code": exemption.code}


def _language(session: Session, invoice: Invoice) -> str:
    customer = session.get(Customer, invoice.customer_id)
    return language_for(customer.language if customer else None)


def _split(
    amount_minor: int, remaining: dict[tuple[str, str], tuple[int, int]]
) -> dict[tuple[str, str], int]:
    """``amount_minor`` over the VAT groups in proportion to what is left in each; the
    cents rounding leaves over go to the largest remainders, so the parts add up exactly."""
    left = {group: net + vat for group, (net, vat) in remaining.items() if net + vat > 0}
    parts = allocate_minor(amount_minor, list(left.values()))
    return {group: part for group, part in zip(left, parts, strict=True) if part}


def _inclusive_line(
    description: str,
    *,
    group: tuple[str, str],
    gross: int,
    currency: str,
    exemption: Exemption,
) -> CreditNoteLine:
    """One VAT-inclusive line, alone in its VAT group, so its VAT is the group's."""
    category, rate = group
    vat_rate = Decimal(rate)
    estimate = to_minor(from_minor(gross, currency) / (1 + vat_rate / 100), currency)
    amounts = next(
        (
            found
            for net in (estimate, estimate - 1, estimate + 1)
            if (found := _amounts(net, vat_rate, currency)).gross_minor == gross
        ),
        LineAmounts(estimate, gross - estimate, gross),
    )
    return CreditNoteLine(
        credit_note_id=0,
        description=description[:500],
        quantity="1",
        unit_price_minor=amounts.net_minor,
        vat_rate=rate,
        vat_category=category,
        **_exemption_fields(category, exemption),
        net_minor=amounts.net_minor,
        vat_minor=amounts.vat_minor,
        gross_minor=amounts.gross_minor,
    )


def _amounts(net_minor: int, vat_rate: Decimal, currency: str) -> LineAmounts:
    return line_amounts(
        quantity=Decimal(1), unit_price_minor=net_minor, vat_rate=vat_rate, currency=currency
    )


def _check_fits(
    invoice: Invoice, *, built: list[CreditNoteLine], remaining: dict[str, tuple[int, int]]
) -> None:
    currency = invoice.currency
    total = sum(line.gross_minor for line in built)
    if total <= 0:
        raise ValidationError("A credit note must credit more than zero.", field="lines")
    left = creditable_minor(invoice)
    if total > left:
        raise ValidationError(
            "The credit note ({amount}) is more than what is left to credit on invoice {number} "
            "({left}).",
            amount=format_money(total, currency),
            number=invoice.number,
            left=format_money(left, currency),
            field="lines",
        )
    wanted: dict[tuple[str, str], int] = {}
    for line in built:
        key = group_key(line.vat_category, Decimal(line.vat_rate))
        wanted[key] = wanted.get(key, 0) + line.gross_minor
    for (category, rate), gross in wanted.items():
        name = f"VAT {rate}% ({category})"
        if (category, rate) not in remaining:
            raise ValidationError(
                "Invoice {number} has no line at {name}: a credit note corrects the invoice's own "
                "lines.",
                number=invoice.number,
                name=name,
                field="lines",
            )
        net, vat = remaining[(category, rate)]
        if gross > net + vat:
            raise ValidationError(
                "At {name} at most {left} is left to credit on invoice {number}.",
                name=name,
                left=format_money(max(net + vat, 0), currency),
                number=invoice.number,
                field="lines",
            )


def _issue(
    session: Session,
    *,
    actor: str,
    invoice: Invoice,
    reason: str,
    built: list[CreditNoteLine],
    today: date | None,
    series: str | None,
    confirm_backdated: bool,
) -> CreditNote:
    """Numbers the credit note in ``series`` (a prefix; None: the default series)."""
    issue_date = today or local_today(company_settings(session).timezone)
    assigned = assign_number(
        session,
        document_type=CREDIT_NOTE,
        prefix=series,
        day=issue_date,
        confirm_backdated=confirm_backdated,
    )
    totals = invoice_totals(
        [LineAmounts(line.net_minor, line.vat_minor, line.gross_minor) for line in built],
        [Decimal(line.vat_rate) for line in built],
    )
    note = CreditNote(
        number=assigned.number,
        series=assigned.prefix,
        invoice_id=invoice.id,
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        issue_date=issue_date,
        reason=reason,
        subtotal_minor=totals.subtotal_minor,
        vat_minor=totals.vat_minor,
        total_minor=totals.total_minor,
        created_by=actor,
    )
    session.add(note)
    session.flush()
    for position, line in enumerate(built, start=1):
        line.credit_note_id = note.id
        line.position = position
        session.add(line)
    post_entry(
        session,
        invoice=invoice,
        kind=LedgerEntryKind.CREDIT_NOTE,
        source=LedgerSource.CREDIT_NOTE,
        amount_minor=note.total_minor,
        key=f"credit_note:{note.id}",
        actor=actor,
        value_date=issue_date,
        credit_note_id=note.id,
        reference=note.number,
        note=reason,
    )
    record_audit(
        session,
        actor=actor,
        action="credit_note.issue",
        entity_type="credit_note",
        entity_id=note.id,
        details={
            "number": note.number,
            "invoice": invoice.number,
            "total_minor": note.total_minor,
            "currency": note.currency,
            "reason": reason[:200],
            "open_minor_after": invoice.open_minor,
            **({"confirmed_after": assigned.confirmed_after} if assigned.confirmed_after else {}),
        },
    )
    return note
