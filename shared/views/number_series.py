"""Settings → Numbering: the number series, and the series pickers of the invoice editor
and the credit-note form."""

from datetime import date
from typing import NamedTuple

from sqlalchemy import func, select

from shared.db import read_session
from shared.models import InvoiceNumberSequence, NumberSeries
from shared.numbering import DOCUMENT_LABELS, format_number


class SeriesRow(NamedTuple):
    id: int
    document_type: str
    document: str  # "invoice", "credit note"
    prefix: str
    yearly_reset: bool
    digits: int
    example: str  # the first number it gives this year
    is_default: bool
    active: bool
    issued: int  # numbers issued so far, every year together


def number_series(*, today: date) -> tuple[SeriesRow, ...]:
    """Every series, invoices first, each type's in the order they were added."""
    with read_session() as session:
        issued = dict(
            session.execute(
                select(
                    InvoiceNumberSequence.series, func.sum(InvoiceNumberSequence.last_number)
                ).group_by(InvoiceNumberSequence.series)
            ).all()
        )
        series = session.execute(
            select(NumberSeries).order_by(NumberSeries.document_type.desc(), NumberSeries.id)
        ).scalars()
        return tuple(
            SeriesRow(
                id=s.id,
                document_type=s.document_type,
                document=DOCUMENT_LABELS[s.document_type],
                prefix=s.prefix,
                yearly_reset=s.yearly_reset,
                digits=s.digits,
                example=format_number(series=s, year=today.year, counter=1),
                is_default=s.is_default,
                active=s.active,
                issued=int(issued.get(s.prefix) or 0),
            )
            for s in series
        )


def series_choices(*, document_type: str) -> tuple[str, ...]:
    """The active series' prefixes a document can be numbered in, the default first."""
    with read_session() as session:
        return tuple(
            session.execute(
                select(NumberSeries.prefix)
                .where(
                    NumberSeries.document_type == document_type,
                    NumberSeries.active == True,  # noqa: E712
                )
                .order_by(NumberSeries.is_default.desc(), NumberSeries.id)
            ).scalars()
        )
