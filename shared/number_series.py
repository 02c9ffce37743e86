"""Settings → Numbering: adding, changing, defaulting and deactivating number series.

Every number a series can produce must be a valid EveryPay order reference, also with the
"-2" that ``order_reference`` appends for a partial payment, and no two series may produce
the same number. A prefix therefore ends with a letter: the numbers after it are digits
and hyphens only, so the prefix of any number (or order reference) is what comes before
its last letter, and two series with different prefixes never meet ("INV2" would make
"INV2-2026-0001" read as INV's, and "-2" run into a prefix "A-1"). The pay link's
signature percent-encodes every character, so it allows whatever the reference rules do
(a "/" included).
"""

from typing import Annotated

from sqlalchemy import func
from sqlmodel import Session, col, select

from shared.audit import record_audit
from shared.callbacks.intake import validation_errors
from shared.errors import ValidationError
from shared.inputs import FormInput, single_line
from shared.linkpay.links import REFERENCE_PATTERN
from shared.models import Invoice, InvoiceNumberSequence, NumberSeries
from shared.numbering import DOCUMENT_LABELS, format_number
from shared.users import require_permission

# NumberSeries.prefix, Invoice.series and InvoiceNumberSequence.series hold 20; with at
# most 14 digits a number fits Invoice.number (40).
PREFIX_LIMIT = 20
MIN_DIGITS, MAX_DIGITS = 3, 10
# The largest partial-payment suffix ``invoice_number_candidates`` still strips.
LONGEST_PARTIAL_SUFFIX = "-9999"
_ANY_PAYMENT_REFERENCE = "0" * 64


class SeriesInput(FormInput):
    document_type: str
    prefix: Annotated[str, single_line("Prefix", max_length=PREFIX_LIMIT)]
    yearly_reset: bool = True
    digits: int = 4


def longest_reference(*, prefix: str, yearly_reset: bool, digits: int) -> str:
    """The longest order reference the series can produce: its widest number, with the
    largest partial-payment suffix."""
    shape = NumberSeries(prefix=prefix, yearly_reset=yearly_reset, digits=digits)
    return format_number(series=shape, year=9999, counter=10**digits - 1) + LONGEST_PARTIAL_SUFFIX


def checked_series(data: SeriesInput) -> SeriesInput:
    """The series with its prefix in capitals, or why its numbers could not be used."""
    if data.document_type not in DOCUMENT_LABELS:
        raise ValidationError("Choose invoices or credit notes.", field="document_type")
    prefix = data.prefix.upper()
    if not prefix:
        raise ValidationError("Type a prefix, e.g. INV.", field="prefix")
    if not MIN_DIGITS <= data.digits <= MAX_DIGITS:
        raise ValidationError(
            "The number has {min_digits} to {max_digits} digits.",
            min_digits=MIN_DIGITS,
            max_digits=MAX_DIGITS,
            field="digits",
        )
    reference = longest_reference(prefix=prefix, yearly_reset=data.yearly_reset, digits=data.digits)
    callback_errors = validation_errors(
        {"payment_reference": _ANY_PAYMENT_REFERENCE, "order_reference": reference}
    )
    if "order_reference" in callback_errors or not REFERENCE_PATTERN.fullmatch(reference):
        raise ValidationError(
            "A prefix may hold only A–Z, 0–9, - and /: EveryPay's order reference and the "
            "callback service take nothing else ({reference} would be refused).",
            reference=reference,
            field="prefix",
        )
    if not "A" <= prefix[-1] <= "Z":
        raise ValidationError(
            "A prefix ends with a letter (A–Z): after {last!r} the number, or the -2 added for a "
            "partial payment, could be read as part of the prefix.",
            last=prefix[-1],
            field="prefix",
        )
    return data.model_copy(update={"prefix": prefix})


def add_series(session: Session, *, actor: str, data: SeriesInput) -> NumberSeries:
    """A new active series, beside the type's default (``set_default`` moves that)."""
    require_permission(session, actor=actor, permission="setup")
    data = checked_series(data)
    _check_prefix_free(session, prefix=data.prefix)
    series = NumberSeries(**data.model_dump())
    session.add(series)
    session.flush()
    _audit(session, actor=actor, action="number_series.add", series=series)
    return series


def change_series(
    session: Session, *, actor: str, series_id: int, data: SeriesInput
) -> NumberSeries:
    """A new prefix or format, only while no document uses the series: an issued number
    keeps its series, and a draft would be left in a series that no longer exists. The
    document type stays."""
    require_permission(session, actor=actor, permission="setup")
    series = _lock(session, series_id=series_id)
    data = checked_series(data.model_copy(update={"document_type": series.document_type}))
    if (data.prefix, data.yearly_reset, data.digits) == (
        series.prefix,
        series.yearly_reset,
        series.digits,
    ):
        return series
    used = _use_of(session, series=series)
    if used:
        raise ValidationError(
            "Series {prefix} {use}: its prefix and format stay as they are. Add a new series "
            "instead.",
            prefix=series.prefix,
            use=used,
            field="prefix",
        )
    if data.prefix != series.prefix:
        _check_prefix_free(session, prefix=data.prefix)
    series.sqlmodel_update(data.model_dump(exclude={"document_type"}))
    session.add(series)
    _audit(session, actor=actor, action="number_series.change", series=series)
    return series


def set_default(session: Session, *, actor: str, series_id: int) -> NumberSeries:
    require_permission(session, actor=actor, permission="setup")
    chosen = session.get(NumberSeries, series_id)
    if chosen is None:
        raise ValidationError("That number series does not exist.")
    # Every series of the type, locked in id order: two people choosing different
    # defaults at once take turns, and the second sees the first one's default.
    siblings = session.exec(
        select(NumberSeries)
        .where(col(NumberSeries.document_type) == chosen.document_type)
        .order_by(col(NumberSeries.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    series = next(s for s in siblings if s.id == series_id)
    if not series.active:
        raise ValidationError(
            "Series {prefix} is deactivated; activate it first.", prefix=series.prefix
        )
    for previous in siblings:
        if previous.is_default and previous.id != series_id:
            previous.is_default = False
            session.add(previous)
    # The old default is written first: one default per type is a unique index.
    session.flush()
    series.is_default = True
    session.add(series)
    _audit(session, actor=actor, action="number_series.set_default", series=series)
    return series


def set_active(session: Session, *, actor: str, series_id: int, active: bool) -> NumberSeries:
    """Deactivated, a series numbers nothing more; its numbers stay as issued."""
    require_permission(session, actor=actor, permission="setup")
    series = _lock(session, series_id=series_id)
    if not active and series.is_default:
        label = DOCUMENT_LABELS[series.document_type]
        raise ValidationError(
            "Series {prefix} is the default for {label}s: make another series the default first.",
            prefix=series.prefix,
            label=label,
        )
    series.active = active
    session.add(series)
    _audit(
        session,
        actor=actor,
        action="number_series.activate" if active else "number_series.deactivate",
        series=series,
    )
    return series


def _lock(session: Session, *, series_id: int) -> NumberSeries:
    """The series, locked against issuers (who hold it for share while numbering)."""
    series = session.exec(
        select(NumberSeries)
        .where(col(NumberSeries.id) == series_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if series is None:
        raise ValidationError("That number series does not exist.")
    return series


def _check_prefix_free(session: Session, *, prefix: str) -> None:
    taken = session.exec(select(NumberSeries).where(col(NumberSeries.prefix) == prefix)).first()
    if taken is not None:
        label = DOCUMENT_LABELS[taken.document_type]
        raise ValidationError(
            "The {label} series {prefix} has that prefix already: two series never share one, so "
            "numbers stay unique.",
            label=label,
            prefix=prefix,
            field="prefix",
        )


def _use_of(session: Session, *, series: NumberSeries) -> str:
    """Why the series counts as used ("has issued numbers", "has 2 drafts"), or "".
    Only invoices have drafts; a credit note is numbered when it is made."""
    issued = session.exec(
        select(func.coalesce(func.sum(InvoiceNumberSequence.last_number), 0)).where(
            col(InvoiceNumberSequence.series) == series.prefix
        )
    ).one()
    if issued:
        return "has issued numbers"
    drafts = session.exec(
        select(func.count()).select_from(Invoice).where(col(Invoice.series) == series.prefix)
    ).one()
    if drafts:
        return f"has {drafts} draft{'s' if drafts > 1 else ''}"
    return ""


def _audit(session: Session, *, actor: str, action: str, series: NumberSeries) -> None:
    record_audit(
        session,
        actor=actor,
        action=action,
        entity_type="number_series",
        entity_id=series.id,
        details={
            "document_type": series.document_type,
            "prefix": series.prefix,
            "yearly_reset": series.yearly_reset,
            "digits": series.digits,
            "default": series.is_default,
            "active": series.active,
        },
    )
