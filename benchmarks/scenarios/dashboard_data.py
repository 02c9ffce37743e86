"""Scenario 3 — dashboard data at N invoices: every page's queries through the product's own
functions (shared/views/, shared/reports.py), each against the same answer from
hand-written SQL through the raw driver (sqlite3 / psycopg), timed in the same process.

Each case is timed as the median of three runs after one warm-up run, both sides alike, and
the two answers are compared (row ids, counts, sums), so a fast wrong answer cannot pass.
"""

import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from benchmarks.common import TIMEZONE, BenchDatabase, Figure, Results, timed, use_database
from benchmarks.explain import explain
from benchmarks.scenarios.export import CHANNEL_NAME
from shared import reports
from shared.company import local_day_start_utc, local_today
from shared.views import callbacks, exceptions, invoices, payments

SCENARIO = "3 dashboard data"
TARGET_MS = 300.0
TARGET_RATIO = 2.0
FIXED_OVERHEAD_MS = 5.0
PAGE = 50
OPEN = "('issued', 'sent', 'partially_paid')"
CUSTOMER_SEARCH = "Koks"


@dataclass(frozen=True)
class Case:
    name: str
    product: Callable[[], Any]
    product_answer: Callable[[Any], Any]
    baseline: Callable[["Raw"], Any]  # runs the SQL, returns the comparable answer


class Raw:
    """The raw driver with the SQL dialect differences papered over."""

    def __init__(self, db: BenchDatabase) -> None:
        self.sqlite = db.sqlite_path is not None
        if self.sqlite:
            self.conn = sqlite3.connect(db.sqlite_path)
        else:
            import psycopg

            self.conn = psycopg.connect(db.libpq_url, autocommit=True)

    def rows(self, sql: str, **params: Any) -> list[tuple]:
        if not self.sqlite:
            sql = re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)
        return self.conn.execute(sql, params).fetchall()

    def ts(self, moment: datetime) -> Any:
        """A UTC bound as the column stores it (SQLAlchemy's text form on SQLite)."""
        if self.sqlite:
            return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return moment

    def day(self, value: date) -> Any:
        return value.isoformat() if self.sqlite else value

    def close(self) -> None:
        self.conn.close()


# --- baselines -------------------------------------------------------------------------------

_INVOICE_SELECT = f"""
SELECT i.id, i.number, c.name,
       CASE WHEN i.status IN {OPEN} AND i.due_date < :today THEN 'overdue' ELSE i.status END,
       i.issue_date, i.due_date, i.currency, i.subtotal_minor, i.vat_minor, i.total_minor,
       i.paid_minor, i.open_minor, {CHANNEL_NAME}
FROM invoice i JOIN customer c ON c.id = i.customer_id
LEFT JOIN payment_channel ch ON ch.id = i.channel_id
LEFT JOIN bank_account b ON b.id = ch.bank_account_id
"""


def _where(condition: str) -> str:
    # No WHERE at all when unfiltered: SQLite answers a bare COUNT(*) from the B-tree's
    # own count, and "WHERE 1 = 1" would make it scan.
    return "" if condition == "1 = 1" else f"WHERE {condition}"


def _page_answer(table) -> tuple:
    return table.total, tuple(table.ids)


def _invoice_list(where: str, order: str, **params: Any) -> Callable[[Raw], Any]:
    def run(raw: Raw) -> tuple:
        params.setdefault("today", raw.day(local_today(TIMEZONE)))
        total = raw.rows(f"SELECT COUNT(*) FROM invoice i {_where(where)}", **params)[0][0]
        rows = raw.rows(
            f"{_INVOICE_SELECT} {_where(where)} ORDER BY {order} LIMIT {PAGE}", **params
        )
        return total, tuple(r[0] for r in rows)

    return run


def _deep_page(offset: int) -> Callable[[Raw], Any]:
    """Deferred join: the offset walks the primary key alone, then 50 rows are joined."""

    def run(raw: Raw) -> tuple:
        today = raw.day(local_today(TIMEZONE))
        total = raw.rows("SELECT COUNT(*) FROM invoice")[0][0]
        rows = raw.rows(
            f"{_INVOICE_SELECT} JOIN (SELECT id FROM invoice ORDER BY id DESC LIMIT {PAGE} "
            f"OFFSET {offset}) page ON page.id = i.id ORDER BY i.id DESC",
            today=today,
        )
        return total, tuple(r[0] for r in rows)

    return run


def _kpis_baseline(raw: Raw) -> tuple:
    today = local_today(TIMEZONE)
    recent = today - timedelta(days=reports.RECENT_DAYS)
    month_from = local_day_start_utc(today.replace(day=1), TIMEZONE)
    month_to = local_day_start_utc(
        (today.replace(day=28) + timedelta(days=4)).replace(day=1), TIMEZONE
    )
    balances = raw.rows(
        "SELECT currency, SUM(CASE WHEN open_minor > 0 THEN open_minor ELSE 0 END), "
        "SUM(CASE WHEN open_minor > 0 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN open_minor > 0 AND due_date < :today THEN open_minor ELSE 0 END), "
        "SUM(CASE WHEN open_minor > 0 AND due_date < :today THEN 1 ELSE 0 END) "
        f"FROM invoice WHERE status IN {OPEN} GROUP BY currency",
        today=raw.day(today),
    )
    received = raw.rows(
        "SELECT currency, SUM(booked_minor) FROM payment_attempt WHERE transaction_time >= :a "
        "AND transaction_time < :b AND booked_minor > 0 GROUP BY currency",
        a=raw.ts(month_from),
        b=raw.ts(month_to),
    )
    raw.rows(
        "SELECT currency, COUNT(*), SUM(CASE WHEN EXISTS (SELECT 1 FROM payment_attempt a "
        "WHERE a.invoice_id = i.id AND a.booked_minor > 0) THEN 1 ELSE 0 END) FROM invoice i "
        "WHERE issue_date >= :recent AND status NOT IN ('draft', 'cancelled') GROUP BY currency",
        recent=raw.day(recent),
    )
    days = (
        "julianday(paid_at) - julianday(issue_date)"
        if raw.sqlite
        else "EXTRACT(EPOCH FROM paid_at - timezone('UTC', CAST(issue_date AS timestamp))) / 86400"
    )
    raw.rows(
        f"SELECT currency, AVG({days}) FROM invoice WHERE paid_at >= :since AND status = 'paid' "
        "GROUP BY currency",
        since=raw.ts(local_day_start_utc(recent, TIMEZONE)),
    )
    eur = next(row for row in balances if row[0] == "EUR")
    return eur[2], eur[4], int(eur[1]), int(dict(received).get("EUR") or 0)


def _kpis_answer(figures) -> tuple:
    eur = next(k for k in figures if k.currency == "EUR")
    received = int(eur.received_this_month * 100)
    return eur.open_invoices, eur.overdue_invoices, int(eur.outstanding * 100), received


def _aging_baseline(raw: Raw) -> tuple:
    today = local_today(TIMEZONE)
    bounds = {f"d{days}": raw.day(today - timedelta(days=days)) for days in (30, 60, 90)}
    rows = raw.rows(
        "SELECT CASE WHEN due_date IS NULL OR due_date >= :today THEN 0 "
        "WHEN due_date >= :d30 THEN 1 WHEN due_date >= :d60 THEN 2 WHEN due_date >= :d90 THEN 3 "
        "ELSE 4 END AS bucket, currency, COUNT(*), SUM(open_minor) FROM invoice "
        f"WHERE status IN {OPEN} AND open_minor > 0 GROUP BY 1, 2",
        today=raw.day(today),
        **bounds,
    )
    return tuple(sorted((r[0], r[2], int(r[3])) for r in rows if r[0] is not None))


def _aging_answer(table) -> tuple:
    names = list(reports.AGING_BUCKETS)
    return tuple(sorted((names.index(r[0]), r[2], int(r[3] * 100)) for r in table.rows if r[2]))


_PAYMENT_SELECT = """
SELECT a.id, a.created_at, a.updated_at, i.number, c.name, ch.name, a.state, a.payment_method,
       a.card_brand, a.card_last4, a.initial_amount_minor, a.standing_amount_minor,
       a.booked_minor, a.currency, a.payment_reference
FROM payment_attempt a LEFT JOIN invoice i ON i.id = a.invoice_id
LEFT JOIN customer c ON c.id = i.customer_id
LEFT JOIN payment_channel ch ON ch.id = a.channel_id
"""


def _payments(where: str, **params: Any) -> Callable[[Raw], Any]:
    def run(raw: Raw) -> tuple:
        total = raw.rows(f"SELECT COUNT(*) FROM payment_attempt a {_where(where)}", **params)[0][0]
        rows = raw.rows(
            f"{_PAYMENT_SELECT} {_where(where)} ORDER BY a.created_at DESC, a.id DESC LIMIT {PAGE}",
            **params,
        )
        return total, tuple(r[0] for r in rows)

    return run


def _received_answer(table) -> tuple:
    return sum(r[3] for r in table.rows), sum(int(r[4] * 100) for r in table.rows)


def _callbacks(where: str, **params: Any) -> Callable[[Raw], Any]:
    def run(raw: Raw) -> tuple:
        total = raw.rows(f"SELECT COUNT(*) FROM callback_event e {_where(where)}", **params)[0][0]
        rows = raw.rows(
            "SELECT e.id, e.received_at, ch.name, e.payment_reference, e.order_reference, "
            "e.event_name, e.status, e.attempts, e.outcome, e.last_error FROM callback_event e "
            f"LEFT JOIN payment_channel ch ON ch.id = e.channel_id {_where(where)} "
            f"ORDER BY e.received_at DESC, e.id DESC LIMIT {PAGE}",
            **params,
        )
        return total, tuple(r[0] for r in rows)

    return run


def _outstanding_baseline(raw: Raw) -> tuple:
    today = raw.day(local_today(TIMEZONE))
    grouped = (
        "SELECT customer_id, currency, COUNT(*) AS invoices, SUM(open_minor) AS open_minor, "
        "SUM(CASE WHEN due_date < :today THEN open_minor ELSE 0 END) AS overdue_minor, "
        f"MIN(due_date) AS oldest_due FROM invoice WHERE status IN {OPEN} AND open_minor > 0 "
        "GROUP BY customer_id, currency"
    )
    total = raw.rows(f"SELECT COUNT(*) FROM ({grouped}) g", today=today)[0][0]
    rows = raw.rows(
        f"SELECT c.name, g.open_minor FROM ({grouped}) g JOIN customer c ON c.id = g.customer_id "
        f"ORDER BY g.open_minor DESC, c.name, g.customer_id LIMIT {PAGE}",
        today=today,
    )
    return total, tuple(r[0] for r in rows)


def _outstanding_answer(table) -> tuple:
    return table.total, tuple(r[0] for r in table.rows)


def _reviews_baseline(raw: Raw) -> tuple:
    total = raw.rows("SELECT COUNT(*) FROM review_item WHERE status = 'open'")[0][0]
    rows = raw.rows(
        "SELECT r.id, r.created_at, r.kind, r.reason, i.number, r.amount_minor, r.currency, "
        "r.status, r.resolution, r.resolved_by FROM review_item r LEFT JOIN invoice i "
        f"ON i.id = r.invoice_id WHERE r.status = 'open' ORDER BY r.id DESC LIMIT {PAGE}"
    )
    return total, tuple(r[0] for r in rows)


# --- the cases -------------------------------------------------------------------------------


def cases(invoice_count: int) -> list[Case]:
    today = local_today(TIMEZONE)
    tz = TIMEZONE
    deep = (invoice_count // 2) // PAGE * PAGE
    inv = invoices.InvoiceFilter
    return [
        Case(
            "invoices: first page, newest first",
            lambda: invoices.invoice_page(inv(), today=today),
            _page_answer,
            _invoice_list("1 = 1", "i.id DESC"),
        ),
        Case(
            "invoices: overdue, by due date",
            lambda: invoices.invoice_page(
                inv(statuses=("overdue",)), today=today, sort="due_date", descending=False
            ),
            _page_answer,
            _invoice_list(f"i.status IN {OPEN} AND i.due_date < :today", "i.due_date, i.id"),
        ),
        Case(
            "invoices: paid, issued last year, by number",
            lambda: invoices.invoice_page(
                inv(statuses=("paid",), date_from=today - timedelta(days=365), date_to=today),
                today=today,
                sort="number",
                descending=True,
            ),
            _page_answer,
            _invoice_list(
                "i.status = 'paid' AND i.issue_date >= :a AND i.issue_date <= :b",
                "i.number DESC, i.id DESC",
                a=(today - timedelta(days=365)).isoformat(),
                b=today.isoformat(),
            ),
        ),
        Case(
            f"invoices: customer name contains '{CUSTOMER_SEARCH}'",
            lambda: invoices.invoice_page(inv(customer=CUSTOMER_SEARCH), today=today),
            _page_answer,
            _invoice_list(
                "i.customer_id IN (SELECT id FROM customer WHERE lower(name) LIKE :pattern)",
                "i.id DESC",
                pattern=f"%{CUSTOMER_SEARCH.lower()}%",
            ),
        ),
        Case(
            "invoices: sorted by total, largest first",
            lambda: invoices.invoice_page(inv(), today=today, sort="total", descending=True),
            _page_answer,
            _invoice_list("1 = 1", "i.total_minor DESC, i.id DESC"),
        ),
        Case(
            f"invoices: deep page (offset {deep:,})",
            lambda: invoices.invoice_page(inv(), today=today, offset=deep),
            _page_answer,
            _deep_page(deep),
        ),
        Case(
            "overview: KPIs", lambda: reports.kpis(today=today, tz=tz), _kpis_answer, _kpis_baseline
        ),
        Case(
            "overview/reports: aging",
            lambda: reports.aging(today=today),
            _aging_answer,
            _aging_baseline,
        ),
        Case(
            "overview: received per week, 12 weeks",
            lambda: reports.received_per_period(
                date_from=today - timedelta(weeks=12), date_to=today, tz=tz, granularity="week"
            ),
            _received_answer,
            _received_window(timedelta(weeks=12)),
        ),
        Case(
            "reports: received per month, 12 months",
            lambda: reports.received_per_period(
                date_from=today - timedelta(days=365), date_to=today, tz=tz, granularity="month"
            ),
            _received_answer,
            _received_window(timedelta(days=365)),
        ),
        Case(
            "reports: outstanding per customer",
            lambda: reports.outstanding_per_customer(today=today),
            _outstanding_answer,
            _outstanding_baseline,
        ),
        Case(
            "payments: first page",
            lambda: payments.payment_page(payments.PaymentFilter(), tz=tz),
            _page_answer,
            _payments("1 = 1"),
        ),
        Case(
            "payments: settled only",
            lambda: payments.payment_page(payments.PaymentFilter(states=("settled",)), tz=tz),
            _page_answer,
            _payments("a.state = 'settled'"),
        ),
        Case(
            "callback log: first page",
            lambda: callbacks.callback_page(callbacks.CallbackFilter(), tz=tz),
            _page_answer,
            _callbacks("1 = 1"),
        ),
        Case(
            "callback log: needs attention",
            lambda: callbacks.callback_page(
                callbacks.CallbackFilter(statuses=("needs_attention",)), tz=tz
            ),
            _page_answer,
            _callbacks("e.status = 'needs_attention'"),
        ),
        Case(
            "exceptions: open",
            lambda: exceptions.review_page(exceptions.ReviewFilter(), tz=tz),
            _page_answer,
            _reviews_baseline,
        ),
    ]


def _received_window(window: timedelta) -> Callable[[Raw], Any]:
    def run(raw: Raw) -> tuple:
        today = local_today(TIMEZONE)
        hour = (
            "strftime('%Y-%m-%d %H', transaction_time)"
            if raw.sqlite
            else "to_char(timezone('UTC', transaction_time), 'YYYY-MM-DD HH24')"
        )
        rows = raw.rows(
            f"SELECT {hour}, channel_id, currency, COUNT(*), SUM(booked_minor) "
            "FROM payment_attempt WHERE transaction_time >= :a AND transaction_time < :b "
            "AND booked_minor > 0 GROUP BY 1, 2, 3",
            a=raw.ts(local_day_start_utc(today - window, TIMEZONE)),
            b=raw.ts(local_day_start_utc(today + timedelta(days=1), TIMEZONE)),
        )
        return sum(r[3] for r in rows), sum(int(r[4]) for r in rows)

    return run


def run(db: BenchDatabase, results: Results, *, only: str = "") -> None:
    use_database(db)
    raw = Raw(db)
    try:
        for case in cases(db.invoices):
            if only and only not in case.name:
                continue
            product_ms, product_result = timed(case.product)
            baseline_ms, baseline_answer = timed(lambda case=case: case.baseline(raw))
            same = case.product_answer(product_result) == baseline_answer
            within = product_ms <= TARGET_MS and product_ms <= TARGET_RATIO * baseline_ms
            figure = results.add(
                Figure(
                    SCENARIO,
                    case.name,
                    product_ms,
                    "ms",
                    baseline=baseline_ms,
                    target=f"≤ {TARGET_MS:.0f} ms and ≤ {TARGET_RATIO:.0f}× baseline",
                    met=within and same,
                    note="" if same else "ANSWERS DIFFER from the hand-written SQL",
                )
            )
            ratio_only = product_ms <= TARGET_MS and product_ms - baseline_ms < FIXED_OVERHEAD_MS
            if figure.met is False and ratio_only:
                figure.note = (
                    f"{figure.note} the ratio misses by less than {FIXED_OVERHEAD_MS:.0f} ms: "
                    "the ORM's fixed cost per call, not the query"
                ).strip()
            elif figure.met is False:
                results.findings.append(f"### {SCENARIO}: {case.name}\n\n{explain(case.product)}\n")
    finally:
        raw.close()
