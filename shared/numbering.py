"""Document numbers: gapless per series, assigned in the transaction that issues.

A series (``NumberSeries``) belongs to one document type and formats its numbers as
``"{prefix}-{year}-{n:0{digits}d}"`` with a yearly reset ("INV-2026-0041", the counter
starts again at 1 each year) or ``"{prefix}-{n:0{digits}d}"`` without one ("INV-00041").
Its counter is the ``InvoiceNumberSequence`` row of its prefix and the issue year (year 0
without a yearly reset), bumped with one UPDATE … RETURNING that takes the row lock:
concurrent issuers queue, and a rolled-back issue gives its number back.

The rules a prefix must meet (so every number is a valid EveryPay order reference and
no two series can produce the same number) live in ``shared.number_series``.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from shared.errors import ValidationError
from shared.models import CreditNote, Invoice, InvoiceNumberSequence, NumberSeries

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
DOCUMENT_LABELS = {INVOICE: "invoice", CREDIT_NOTE: "credit note"}
NO_RESET_YEAR = 0
# The width of numbers before series were configurable ("INV-2026-0034").
DEFAULT_DIGITS = 4


class BackdatedIssue(ValidationError):
    """The document's date is earlier than that of a number the series already issued
    (in that year): numbering it now would put it out of date order. The page asks, and
    issues it with ``confirm_backdated`` once the person confirms."""

    def __init__(
        self, *, document_type: str, later_number: str, later_date: date, number: str, day: date
    ) -> None:
        super().__init__(
            f"{later_number} is dated {later_date:%d.%m.%Y}; this "
            f"{DOCUMENT_LABELS[document_type]}, dated {day:%d.%m.%Y}, would get {number} "
            "after it. Issue anyway?"
        )


@dataclass(frozen=True)
class AssignedNumber:
    number: str
    prefix: str
    # The later-dated number the person confirmed issuing after, if any.
    confirmed_after: str | None


def format_number(*, series: NumberSeries, year: int, counter: int) -> str:
    return number_text(
        prefix=series.prefix,
        year=year if series.yearly_reset else NO_RESET_YEAR,
        digits=series.digits,
        counter=counter,
    )


def number_text(*, prefix: str, year: int, digits: int, counter: int) -> str:
    """The number as printed; ``year`` is the counter row's (NO_RESET_YEAR: no year in it)."""
    if year == NO_RESET_YEAR:
        return f"{prefix}-{counter:0{digits}d}"
    return f"{prefix}-{year}-{counter:0{digits}d}"


def lock_series(session: Session, *, document_type: str, prefix: str | None) -> NumberSeries:
    """The series ``prefix`` of that document type, or the type's default, locked for
    share until the transaction ends: a change of its prefix or format waits for the
    issue, then sees its number (``shared.number_series`` locks it for update)."""
    query = select(NumberSeries).where(col(NumberSeries.document_type) == document_type)
    if prefix:
        query = query.where(col(NumberSeries.prefix) == prefix)
    else:
        query = query.where(col(NumberSeries.is_default))
    series = session.exec(
        query.with_for_update(read=True).execution_options(populate_existing=True)
    ).first()
    label = DOCUMENT_LABELS[document_type]
    if series is None:
        if prefix:
            raise ValidationError(
                "There is no {label} series {prefix}.", label=label, prefix=prefix, field="series"
            )
        raise ValidationError(
            "No default {label} series: set one under Settings → Numbering.",
            label=label,
            field="series",
        )
    if not series.active:
        raise ValidationError(
            "The {label} series {prefix} is deactivated: choose another series.",
            label=label,
            prefix=series.prefix,
            field="series",
        )
    return series


def assign_number(
    session: Session,
    *,
    document_type: str,
    prefix: str | None,
    day: date,
    confirm_backdated: bool = False,
) -> AssignedNumber:
    """Reserves the next number of the series (the type's default when ``prefix`` is
    None) for a document dated ``day``, in the caller's transaction.

    Raises ``BackdatedIssue`` unless ``confirm_backdated`` when the series already
    issued a number dated later (in ``day``'s year, with a yearly reset). That is checked
    after the counter row is locked, so every earlier issue in the series is committed
    and seen; the rollback that follows gives the number back.
    """
    series = lock_series(session, document_type=document_type, prefix=prefix)
    year = day.year if series.yearly_reset else NO_RESET_YEAR
    counter = _bump_counter(session, prefix=series.prefix, year=year)
    number = format_number(series=series, year=day.year, counter=counter)
    later = _later_dated(session, document_type=document_type, series=series, day=day)
    if later is not None and not confirm_backdated:
        later_number, later_date = later
        raise BackdatedIssue(
            document_type=document_type,
            later_number=later_number,
            later_date=later_date,
            number=number,
            day=day,
        )
    return AssignedNumber(number, series.prefix, later[0] if later else None)


def _bump_counter(session: Session, *, prefix: str, year: int) -> int:
    # The row is created if missing (a concurrent creator is ignored), then bumped.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.exec(
        insert(InvoiceNumberSequence)
        .values(series=prefix, year=year, last_number=0)
        .on_conflict_do_nothing(index_elements=["series", "year"])
    )
    return session.exec(
        update(InvoiceNumberSequence)
        .where(col(InvoiceNumberSequence.series) == prefix, col(InvoiceNumberSequence.year) == year)
        .values(last_number=InvoiceNumberSequence.last_number + 1)
        .returning(InvoiceNumberSequence.last_number)
    ).scalar_one()


def _later_dated(
    session: Session, *, document_type: str, series: NumberSeries, day: date
) -> tuple[str, date] | None:
    """The latest-dated number of the series dated after ``day`` (in its year, with a
    yearly reset), with its date."""
    table = Invoice if document_type == INVOICE else CreditNote
    query = select(table.number, table.issue_date).where(
        col(table.series) == series.prefix,
        col(table.number).is_not(None),
        col(table.issue_date) > day,
    )
    if series.yearly_reset:
        query = query.where(col(table.issue_date) <= date(day.year, 12, 31))
    row = session.exec(
        query.order_by(col(table.issue_date).desc(), col(table.id).desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else None
