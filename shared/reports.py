"""Figures for the Overview and the Reports page, aggregated in SQL.

Money "received" is what the ledger's payment entries put into invoices, whatever the way
(LinkPay, bank transfer, cash, set-off, bank statement), dated by their value date: the
company's local day the money arrived (for LinkPay, EveryPay's transaction time). Money
paid back is money going out, not less received. Periods are calendar weeks (from Monday)
or months: SQL sums per day, folded into periods here.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import DateTime, case, cast, exists, func, select
from sqlmodel import Session

from shared.channels import channel_display_name
from shared.company import local_day_start_utc
from shared.db import read_session
from shared.exports import Column, Table
from shared.ledger import balances as ledger_balances
from shared.ledger.balances import AGING_BUCKETS
from shared.ledger.received import SOURCE_LABELS
from shared.models import (
    BankAccount,
    Customer,
    Invoice,
    InvoiceStatus,
    PaymentAttempt,
    PaymentChannel,
    ReviewItem,
    ReviewStatus,
)
from shared.money import from_minor

RECENT_DAYS = 90  # the window for "share paid online" and "average days to pay"


@dataclass(frozen=True)
class Kpis:
    currency: str
    outstanding: Decimal
    open_invoices: int
    overdue: Decimal
    overdue_invoices: int
    received_this_month: Decimal
    share_paid_online: Decimal | None  # percent of recent invoices paid through a pay link
    average_days_to_pay: Decimal | None


def _one_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def _days_to_pay(session: Session):
    """Days from the issue date (midnight UTC) to the moment of payment, per backend."""
    if session.get_bind().dialect.name == "sqlite":
        return func.julianday(Invoice.paid_at) - func.julianday(Invoice.issue_date)
    return (
        func.extract(
            "epoch", Invoice.paid_at - func.timezone("UTC", cast(Invoice.issue_date, DateTime))
        )
        / 86400
    )


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def kpis(*, today: date, tz: str) -> tuple[Kpis, ...]:
    """One set of figures per currency that has any invoice, the busiest currency first."""
    recent = today - timedelta(days=RECENT_DAYS)
    with read_session() as session:
        balances = {row.currency: row for row in ledger_balances.aging(session, as_of=today)}
        received: dict[str, int] = defaultdict(int)
        for day in ledger_balances.received_by_day(
            session, date_from=_month_start(today), date_to=_next_month(today) - timedelta(days=1)
        ):
            received[day.currency] += day.amount_minor
        paid_online = exists().where(
            PaymentAttempt.invoice_id == Invoice.id, PaymentAttempt.booked_minor > 0
        )
        shares = {
            row[0]: (row[1], row[2])
            for row in session.execute(
                select(Invoice.currency, func.count(), func.sum(case((paid_online, 1), else_=0)))
                .where(
                    Invoice.issue_date >= recent,
                    Invoice.status.not_in((InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED)),
                )
                .group_by(Invoice.currency)
            ).all()
        }
        days = dict(
            session.execute(
                select(Invoice.currency, func.avg(_days_to_pay(session)))
                .where(
                    Invoice.paid_at >= local_day_start_utc(recent, tz),
                    Invoice.status == InvoiceStatus.PAID,
                )
                .group_by(Invoice.currency)
            ).all()
        )
    currencies = set(balances) | set(received) | set(shares) | set(days)
    result = []
    for currency in currencies:
        owed = balances.get(currency)
        issued, online = shares.get(currency, (0, 0))
        result.append(
            Kpis(
                currency=currency,
                outstanding=from_minor(owed.outstanding_minor if owed else 0, currency),
                open_invoices=owed.open_invoices if owed else 0,
                overdue=from_minor(owed.overdue_minor if owed else 0, currency),
                overdue_invoices=owed.overdue_invoices if owed else 0,
                received_this_month=from_minor(received.get(currency) or 0, currency),
                share_paid_online=_one_decimal(Decimal(online or 0) * 100 / issued)
                if issued
                else None,
                average_days_to_pay=_one_decimal(days.get(currency)),
            )
        )
    return tuple(sorted(result, key=lambda k: (-k.open_invoices, k.currency)))


def open_exceptions() -> int:
    with read_session() as session:
        return session.execute(
            select(func.count())
            .select_from(ReviewItem)
            .where(ReviewItem.status == ReviewStatus.OPEN)
        ).scalar_one()


# --- Received per period and channel ----------------------------------------------------

# The channel cell of money that came in without a LinkPay channel: how it was paid, an
# English label a page shows translated (a channel's own name is shown as typed).
SOURCE_NAMES = frozenset(SOURCE_LABELS.values())

RECEIVED_COLUMNS = (
    Column("period", "Period from", "date"),
    Column("channel", "Channel"),
    Column("currency", "Currency"),
    Column("payments", "Payments", "int"),
    Column("amount", "Received", "money"),
)


def period_start(day: date, granularity: str) -> date:
    """The first day of the week (Monday), month or quarter holding ``day``."""
    if granularity == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if granularity == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def received_per_period(
    *, date_from: date, date_to: date, tz: str, granularity: str = "week"
) -> Table:
    """Money received per week, month or quarter and channel (a LinkPay channel's display
    name, or how it was paid: bank transfer, cash, …), for local days date_from..date_to;
    from the ledger, whose value dates are the company's local days already."""
    with read_session() as session:
        days = ledger_balances.received_by_day(session, date_from=date_from, date_to=date_to)
        names = dict(
            session.execute(
                select(PaymentChannel.id, channel_display_name()).join(
                    BankAccount, BankAccount.id == PaymentChannel.bank_account_id
                )
            ).all()
        )
    totals: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for day in days:
        channel = (
            names.get(day.channel_id, "?")
            if day.channel_id is not None
            else SOURCE_LABELS.get(day.source, day.source)
        )
        key = (period_start(day.day, granularity), channel, day.currency)
        totals[key][0] += day.payments
        totals[key][1] += day.amount_minor
    table_rows = tuple(
        (period, channel, currency, count, from_minor(amount, currency))
        for (period, channel, currency), (count, amount) in sorted(totals.items())
    )
    return Table(RECEIVED_COLUMNS, table_rows, total=len(table_rows))


# --- Accounts-receivable aging ----------------------------------------------------------

AGING_COLUMNS = (
    Column("bucket", "Days past due"),
    Column("currency", "Currency"),
    Column("invoices", "Invoices", "int"),
    Column("open", "Open balance", "money"),
)


def aging(*, today: date) -> Table:
    with read_session() as session:
        per_currency = ledger_balances.aging(session, as_of=today)
    # Every bucket is listed, empty ones too, so the chart's axis never changes shape.
    table_rows = tuple(
        (name, figures.currency, bucket.invoices, from_minor(bucket.open_minor, figures.currency))
        for figures in per_currency
        for name, bucket in zip(AGING_BUCKETS, figures.buckets, strict=True)
    )
    return Table(AGING_COLUMNS, table_rows, total=len(table_rows))


CUSTOMER_AGING_COLUMNS = (
    Column("currency", "Currency"),
    *(Column(f"bucket_{i}", name, "money") for i, name in enumerate(AGING_BUCKETS)),
    Column("outstanding", "Outstanding", "money"),
)


def customer_aging(*, customer_id: int, today: date) -> Table:
    """One customer's outstanding balances by days past due, a row per currency."""
    with read_session() as session:
        page = ledger_balances.customer_aging(session, as_of=today, customer_id=customer_id)
    table_rows = tuple(
        (
            row.currency,
            *(from_minor(bucket.open_minor, row.currency) for bucket in row.buckets),
            from_minor(row.outstanding_minor, row.currency),
        )
        for row in page.rows
    )
    return Table(CUSTOMER_AGING_COLUMNS, table_rows, total=len(table_rows))


# --- Outstanding per customer -----------------------------------------------------------

OUTSTANDING_COLUMNS = (
    Column("customer", "Customer"),
    Column("currency", "Currency"),
    Column("invoices", "Open invoices", "int"),
    Column("open", "Outstanding", "money"),
    Column("overdue", "Overdue", "money"),
    Column("oldest_due", "Oldest due date", "date"),
)


def _outstanding_row(row: ledger_balances.CustomerAging) -> tuple[Any, ...]:
    return (
        row.customer_name,
        row.currency,
        row.open_invoices,
        from_minor(row.outstanding_minor, row.currency),
        from_minor(row.overdue_minor, row.currency),
        row.oldest_due,
    )


def outstanding_per_customer(*, today: date, offset: int = 0, limit: int = 50) -> Table:
    with read_session() as session:
        page = ledger_balances.customer_aging(session, as_of=today, offset=offset, limit=limit)
    return Table(
        OUTSTANDING_COLUMNS,
        tuple(_outstanding_row(row) for row in page.rows),
        total=page.total,
        offset=page.offset,
    )


def outstanding_rows(*, today: date):
    with read_session() as session:
        for row in ledger_balances.customer_aging_rows(session, as_of=today):
            yield _outstanding_row(row)


# --- Days to pay ------------------------------------------------------------------------

DAYS_TO_PAY_COLUMNS = (
    Column("customer", "Customer"),
    Column("invoices", "Invoices paid", "int"),
    Column("average", "Average days to pay", "percent"),
    Column("slowest", "Slowest (days)", "percent"),
)


def days_to_pay(*, date_from: date, date_to: date, tz: str, limit: int = 200) -> Table:
    """Per customer, over invoices fully paid within the local days date_from..date_to."""
    with read_session() as session:
        days = _days_to_pay(session)
        conditions = [
            Invoice.status == InvoiceStatus.PAID,
            Invoice.paid_at >= local_day_start_utc(date_from, tz),
            Invoice.paid_at < local_day_start_utc(date_to + timedelta(days=1), tz),
        ]
        total = session.execute(
            select(func.count(func.distinct(Invoice.customer_id))).where(*conditions)
        ).scalar_one()
        rows = session.execute(
            select(Customer.name, func.count(), func.avg(days), func.max(days))
            .join(Customer, Customer.id == Invoice.customer_id)
            .where(*conditions)
            .group_by(Invoice.customer_id, Customer.name)
            .order_by(func.avg(days).desc(), Customer.name)
            .limit(limit)
        ).all()
    return Table(
        DAYS_TO_PAY_COLUMNS,
        tuple((r[0], r[1], _one_decimal(r[2]), _one_decimal(r[3])) for r in rows),
        total=total,
    )


# --- Shown in the reader's language ---------------------------------------------------------


def with_cells_shown(table: Table, *, label: str, shown: Callable[[Any], Any]) -> Table:
    """``table`` with each cell of the column ``label`` passed through ``shown``: a page
    puts a column of English labels (a bucket, a way of paying) in the reader's language,
    on the screen and in the files alike."""
    at = table.labels.index(label)
    return replace(
        table,
        rows=tuple((*row[:at], shown(row[at]), *row[at + 1 :]) for row in table.rows),
    )
