"""Fill a LinkPay Desk database with years of realistic data, fast.

The schema comes from the product's own migrations; company, users, bank accounts and the
LinkPay channel are made through the product's own functions (so secrets are encrypted the
way the product reads them). The bulk tables are then written through the raw driver:
``executemany`` on SQLite, ``COPY`` on PostgreSQL, one transaction per batch of invoices.
Secondary indexes are dropped before the load and re-created from their own DDL afterwards
(building an index once is far cheaper than maintaining it row by row); the schema that
results is exactly the migrated one.

What is made, per invoice on average: 2 lines (1–3), ~2 payment attempts in every
EveryPay state, one state change per attempt, ~2 callback events, ~2 audit entries, one
e-mail log for each sent invoice (plus the reminders already due, keyed as
shared/reminders.py keys them), one "link opened" funnel step; review items for the
rare cases that need a person. Timestamps are written in the exact text form SQLAlchemy
uses on SQLite (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC) and with ``+00`` on PostgreSQL.

Usage: ``python -m benchmarks.generate --url sqlite:////abs/path.db --invoices 20000``
"""

import argparse
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.engine import make_url
from sqlmodel import Session, SQLModel

from shared.audit import SYSTEM_ACTOR
from shared.channels import ChannelInput, create_bank_account, save_linkpay_channel
from shared.db import dispose_engines, get_engine
from shared.models import AccountType, Company, Environment, SendingMethod
from shared.operations.migrate import upgrade_to_head
from shared.reminders import REMINDER_DAYS, reminder_key
from shared.security import seal_token
from shared.text import search_key
from shared.users import create_user

DAY = 86_400
COMPANY_NAME = "Baltic Widgets SIA"
BENCH_USERS = (
    ("admin", "bench-admin-1", "admin"),
    ("finance", "bench-finance-1", "finance"),
    ("manager", "bench-manager-1", "manager"),
)
# Placeholder hosts: the benchmark points the channel at a local sandbox before using it.
PLACEHOLDER_PREFIX = "http://127.0.0.1:9/lp"
PLACEHOLDER_API_BASE = "http://127.0.0.1:9/api/v4"


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Column order of every bulk row; checked against the models so schema drift fails loudly.
COLUMNS: dict[str, tuple[str, ...]] = {
    "customer": _names(
        "id name search_name registration_number vat_number email cc_emails address language "
        "created_at updated_at payment_terms_days peppol_scheme peppol_id sending_method country"
    ),
    "invoice": _names(
        "id number series customer_id channel_id currency issue_date due_date status "
        "subtotal_minor vat_minor total_minor paid_minor open_minor settled_payments "
        "public_token_hash public_token_encrypted notes cancellation_reason reminders_enabled "
        "created_by issued_at sent_at paid_at cancelled_at created_at updated_at "
        "pay_link_opened_at credited_minor returned_minor supply_date eur_exchange_rate"
    ),
    "invoice_line": _names(
        "id invoice_id position description quantity unit unit_price_minor vat_rate "
        "net_minor vat_minor gross_minor vat_category vat_exemption_reason vat_exemption_code"
    ),
    "payment_attempt": _names(
        "id payment_reference channel_id invoice_id order_reference state is_final "
        "initial_amount_minor standing_amount_minor booked_minor currency payment_method "
        "card_brand card_last4 payer_name payer_email processing_error gateway_created_at "
        "transaction_time last_api_answer last_checked_at next_check_at created_at updated_at "
        "in_bank_at payout_id"
    ),
    "ledger_entry": _names(
        "id entry_key invoice_id customer_id kind source amount_minor currency value_date "
        "payment_attempt_id received_payment_id reverses_entry_id credit_note_id reference "
        "note actor booked_at"
    ),
    "payment_state_change": _names("id attempt_id from_state to_state source changed_at"),
    "callback_event": _names(
        "id channel_id received_at http_method params payment_reference order_reference "
        "event_name remote_addr status attempts next_attempt_at claimed_by claimed_until "
        "last_error outcome payment_attempt_id invoice_id processed_at request_id claimed_at "
        "answered_at"
    ),
    "review_item": _names(
        "id kind status dedupe_key reason invoice_id payment_attempt_id callback_event_id "
        "channel_id amount_minor currency resolution resolved_by resolved_at created_at"
    ),
    "message_log": _names(
        "id invoice_id channel recipients subject status error attempts dedupe_key "
        "message_id raw_message sent_by created_at sent_at einvoice_attached"
    ),
    "funnel_event": _names("id invoice_id step detail at"),
    "audit_log": _names("id at actor action entity_type entity_id outcome details"),
    "invoice_number_sequence": _names("id series year last_number"),
}
BULK_TABLES = tuple(COLUMNS)

CATALOGUE = (
    ("Consulting, hours", 6500, 21, "h"),
    ("Software licence, monthly", 4990, 21, "pcs"),
    ("Installation and set-up", 25000, 21, ""),
    ("Support package", 12000, 21, ""),
    ("Training day", 48000, 21, "day"),
    ("Printed catalogues", 335, 12, "pcs"),
    ("Delivery", 1500, 21, ""),
    ("Books", 2450, 5, "pcs"),
    ("Export service (0% VAT)", 30000, 0, ""),
)
QUANTITIES = (1, 1, 1, 1, 2, 2, 3, 5, 10)
LINE_COUNTS = (1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3)  # mean 2.0
CARD_BRANDS = ("visa", "master_card")
BANK_METHODS = ("swedbank_ob_lv", "seb_ob_lv", "lhv_ob_ee", "citadele_ob_lv", "luminor_ob_lv")
FAILURE_STATES = ("failed", "failed", "failed", "abandoned", "abandoned", "voided")
IN_FLIGHT_STATES = (
    "initial",
    "waiting_for_sca",
    "waiting_for_3ds_response",
    "sent_for_processing",
    "authorised",
)
FINAL_STATES = frozenset({"settled", "failed", "abandoned", "voided", "refunded"})
# Reminders are on for invoices that were sent and are still open.
REMINDED_STATUSES = ("sent", "partially_paid")
# Scenarios that happen too rarely to show up in a small run by chance: each is given to
# at least one invoice, so every status and state exists at any size.
RARE_SCENARIOS = (
    "refund_partial",
    "refund_full",
    "chargeback",
    "amount_mismatch",
    "overpayment",
    "currency_mismatch",
    "paid_not_booked",
    "unknown_state",
    "payout_difference",
    "lost_payment",
    "cancelled",
    "partial",
    "open",
    "draft",
)
RECENT_SCENARIOS = (*(f"in_flight:{state}" for state in IN_FLIGHT_STATES), "stuck", "issued")
CALLBACK_EXTRAS = ("cb_not_ours", "cb_rejected", "cb_needs_attention", "cb_pending")

NAME_PARTS = (
    ("SIA", "AS", "OÜ", "UAB", "AB"),
    (
        "Kurzemes", "Rīgas", "Tallinna", "Vilniaus", "Daugavas", "Zemgales", "Latgales",
        "Vidzemes", "Kauno", "Tartu", "Nordic", "Baltic", "Jūrmalas", "Pärnu", "Liepājas",
    ),
    (
        "Koks", "Piens", "Tarkvara", "Baldai", "Loģistika", "Maize", "Keramika", "Enerģija",
        "Statyba", "Dizains", "Serviss", "Tehnika", "Būve", "Tekstils", "Zivis", "Sēklas",
    ),
)  # fmt: skip


@dataclass
class GenerationReport:
    invoices: int
    rows: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    index_seconds: float = 0.0
    channel_id: int = 0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        parts = ", ".join(f"{table} {count:,}" for table, count in sorted(self.rows.items()))
        return (
            f"{self.total_rows:,} rows in {self.seconds:.1f} s "
            f"({self.rows_per_second:,.0f} rows/s, of which {self.index_seconds:.1f} s "
            f"re-creating indexes): {parts}"
        )


def check_columns() -> None:
    """Fails when the models gained or lost a column the generator does not know about."""
    for table, columns in COLUMNS.items():
        expected = {column.name for column in SQLModel.metadata.tables[table].columns}
        if set(columns) != expected:
            raise RuntimeError(
                f"benchmarks/generate.py is out of date for table {table}: "
                f"missing {sorted(expected - set(columns))}, unknown "
                f"{sorted(set(columns) - expected)}"
            )


# --- writers ---------------------------------------------------------------------------


def _quoted(name: str) -> str:
    return f'"{name}"'


def _next_id(conn, table: str) -> int:
    """Rows the product itself wrote (audit entries of the set-up) come first."""
    return conn.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {_quoted(table)}").fetchone()[0]


class SqliteWriter:
    """Raw sqlite3 with the durability a one-off bulk load can do without."""

    ts_suffix = ""

    def __init__(self, url: str) -> None:
        self.path = make_url(url).database
        self.conn = sqlite3.connect(self.path, isolation_level=None)
        for pragma in (
            "synchronous = OFF",
            "cache_size = -524288",  # 512 MiB of page cache for the index builds
            "temp_store = MEMORY",
            "foreign_keys = OFF",
        ):
            self.conn.execute(f"PRAGMA {pragma}")
        self.index_ddl = self._drop_secondary_indexes()
        self.conn.execute("BEGIN")

    def _drop_secondary_indexes(self) -> list[str]:
        marks = ",".join("?" * len(BULK_TABLES))
        rows = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks})",
            BULK_TABLES,
        ).fetchall()
        for name, _sql in rows:
            self.conn.execute(f"DROP INDEX {_quoted(name)}")
        return [sql for _name, sql in rows]

    def write(self, table: str, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        columns = COLUMNS[table]
        marks = ",".join("?" * len(columns))
        names = ",".join(_quoted(c) for c in columns)
        self.conn.executemany(f"INSERT INTO {_quoted(table)} ({names}) VALUES ({marks})", rows)

    def next_ids(self) -> Counter:
        return Counter({table: _next_id(self.conn, table) for table in BULK_TABLES})

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.execute("BEGIN")

    def finish(self) -> float:
        self.conn.execute("COMMIT")
        started = time.perf_counter()
        for sql in self.index_ddl:
            self.conn.execute(sql)
        elapsed = time.perf_counter() - started
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.close()
        return elapsed


class PostgresWriter:
    """psycopg COPY; VACUUM ANALYZE at the end stands in for the autovacuum a real server
    runs on freshly inserted rows: statistics, and the visibility map without which no
    index-only scan pays off (the received-per-month report: 340 ms without, 60 ms with)."""

    ts_suffix = "+00"

    def __init__(self, url: str) -> None:
        import psycopg

        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.conn = psycopg.connect(conninfo)
        self.index_ddl = self._drop_secondary_indexes()

    def _drop_secondary_indexes(self) -> list[str]:
        rows = self.conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            "AND tablename = ANY(%s) AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            (list(BULK_TABLES),),
        ).fetchall()
        for name, _ddl in rows:
            self.conn.execute(f"DROP INDEX {_quoted(name)}")
        return [ddl for _name, ddl in rows]

    def write(self, table: str, rows: Sequence[tuple]) -> None:
        if not rows:
            return
        names = ",".join(_quoted(c) for c in COLUMNS[table])
        with (
            self.conn.cursor() as cursor,
            cursor.copy(f"COPY {_quoted(table)} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def next_ids(self) -> Counter:
        return Counter({table: _next_id(self.conn, table) for table in BULK_TABLES})

    def commit(self) -> None:
        self.conn.commit()

    def finish(self) -> float:
        self.conn.commit()
        started = time.perf_counter()
        for ddl in self.index_ddl:
            self.conn.execute(ddl)
        # Explicit ids were copied in: move each serial sequence past them.
        for table in BULK_TABLES:
            self.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"GREATEST((SELECT MAX(id) FROM {_quoted(table)}), 1))"
            )
        self.conn.commit()
        self.conn.autocommit = True
        self.conn.execute("VACUUM ANALYZE")
        elapsed = time.perf_counter() - started
        self.conn.close()
        return elapsed


def make_writer(url: str) -> SqliteWriter | PostgresWriter:
    if make_url(url).get_backend_name() == "sqlite":
        return SqliteWriter(url)
    return PostgresWriter(url)


# --- time as text ------------------------------------------------------------------------


class Clock:
    """Seconds since ``origin`` midnight UTC → the text each backend stores, from lookups
    (strftime for tens of millions of values would dominate the run)."""

    def __init__(self, origin: date, days: int, suffix: str) -> None:
        self.origin = origin
        self.days = [(origin + timedelta(days=d)).isoformat() for d in range(days)]
        self.times = [
            f" {s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.000000{suffix}" for s in range(DAY)
        ]

    def ts(self, moment: int) -> str:
        return self.days[moment // DAY] + self.times[moment % DAY]

    def day(self, moment: int) -> str:
        return self.days[moment // DAY]

    def seconds(self, when: datetime) -> int:
        start = datetime(self.origin.year, self.origin.month, self.origin.day, tzinfo=UTC)
        return int((when - start).total_seconds())


# --- the product's base records ------------------------------------------------------------


def seed_base(url: str, *, seed: int) -> int:
    """Company, users, bank accounts and the LinkPay channel; returns the channel's id."""
    rng = random.Random(seed)
    with Session(get_engine(url)) as session:
        session.add(Company(name=COMPANY_NAME, registration_number="40103123445"))
        for username, password, role in BENCH_USERS:
            create_user(
                session, actor=SYSTEM_ACTOR, username=username, password=password, role=role
            )
        account = create_bank_account(
            session,
            actor=SYSTEM_ACTOR,
            name="LinkPay merchant account EUR",
            account_type=AccountType.MERCHANT,
            bank_name="Swedbank",
        )
        channel = save_linkpay_channel(
            session,
            actor=SYSTEM_ACTOR,
            bank_account_id=account.id,
            data=ChannelInput(
                environment=Environment.CUSTOM,
                linkpay_prefix=PLACEHOLDER_PREFIX,
                api_base=PLACEHOLDER_API_BASE,
                link_token=f"bench{rng.getrandbits(48):012x}",
                api_username=f"bench{rng.getrandbits(32):08x}",
                api_secret=f"{rng.getrandbits(128):032x}",
                url_fields=["customer_name", "customer_email"],
            ),
        )
        session.commit()
        channel_id = channel.id
    dispose_engines()
    return channel_id


# --- the bulk rows ---------------------------------------------------------------------------


@dataclass
class Ids:
    """Next primary key of each bulk table."""

    next: Counter

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


def _money_text(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


@dataclass
class Attempt:
    state: str
    amount: int
    booked: int = 0
    standing: int | None = None
    currency: str = "EUR"
    review: str | None = None  # review kind raised by this attempt
    payment_reference: str = ""


class Generator:
    """Makes the rows of one batch of invoices at a time; ids and numbering carry over."""

    def __init__(
        self,
        *,
        invoices: int,
        customers: int,
        years: int,
        seed: int,
        now: datetime,
        channel_id: int,
        ts_suffix: str,
        next_ids: Counter,
    ) -> None:
        self.rng = random.Random(seed)
        self.invoices = invoices
        self.customers = customers
        self.channel_id = channel_id
        today = now.date()
        self.span_days = 365 * years
        first_day = today - timedelta(days=self.span_days)
        origin = first_day - timedelta(days=60)
        self.clock = Clock(origin, self.span_days + 200, ts_suffix)
        self.now = self.clock.seconds(now)
        self.today = self.now // DAY
        self.first_day = self.today - self.span_days
        self.ids = Ids(next_ids)
        self.numbers: Counter = Counter()
        self.overrides = self._rare_overrides()
        self.customer_emails: list[str] = []

    def _rare_overrides(self) -> dict[int, tuple[str, str | None]]:
        """Invoice index → (scenario, callback extra) for the cases chance may miss."""
        n = self.invoices
        overrides: dict[int, tuple[str, str | None]] = {}
        for k, scenario in enumerate(RARE_SCENARIOS):
            overrides[(n // 3 + k * 7) % n] = (scenario, None)
        for k, extra in enumerate(CALLBACK_EXTRAS):
            overrides[(n // 2 + k * 5) % n] = ("paid", extra)
        for k, scenario in enumerate(RECENT_SCENARIOS):
            overrides[n - 1 - k] = (scenario, None)
        return overrides

    # customers

    def customer_rows(self) -> list[tuple]:
        rng = self.rng
        rows = []
        created = self.clock.ts((self.first_day - 30) * DAY + 9 * 3600)
        for cid in range(1, self.customers + 1):
            legal, place, trade = (rng.choice(part) for part in NAME_PARTS)
            name = f"{legal} {place} {trade} {cid}"
            domain = f"{place}-{trade}".lower().encode("ascii", "ignore").decode()
            email = f"accounts{cid}@{domain}.example"
            self.customer_emails.append(email)
            rows.append(
                (
                    cid,
                    name,
                    search_key(name),
                    f"4000{cid:07d}",
                    f"LV4000{cid:07d}",
                    email,
                    "",
                    f"{place} iela {cid % 150 + 1}, LV-{1000 + cid % 4000}",
                    "lv" if legal in ("SIA", "AS") else "en",
                    created,
                    created,
                    14,
                    "",
                    "",
                    SendingMethod.EMAIL.value,
                    "LV",
                )
            )
        return rows

    # invoices

    def batch(self, start: int, stop: int) -> dict[str, list[tuple]]:
        rows: dict[str, list[tuple]] = {table: [] for table in COLUMNS}
        for index in range(start, stop):
            self._invoice(index, rows)
        return rows

    def _scenario(self, index: int, age: int) -> tuple[str, str | None]:
        if index in self.overrides:
            return self.overrides[index]
        r = self.rng.random()
        if age <= 30:
            table = ((0.12, "draft"), (0.13, "cancelled"), (0.60, "open"), (0.63, "partial"))
        else:
            table = (
                (0.002, "draft"),
                (0.027, "cancelled"),
                (0.047, "open"),
                (0.057, "partial"),
                (0.061, "refund_partial"),
                (0.0625, "refund_full"),
                (0.0635, "chargeback"),
                (0.0645, "amount_mismatch"),
                (0.065, "overpayment"),
                (0.0652, "currency_mismatch"),
                (0.0655, "paid_not_booked"),
                (0.0657, "lost_payment"),
            )
        for threshold, scenario in table:
            if r < threshold:
                return scenario, self._callback_extra()
        return "paid", self._callback_extra()

    def _callback_extra(self) -> str | None:
        r = self.rng.random()
        if r < 0.03:
            return "cb_duplicate"
        if r < 0.04:
            return "cb_not_ours"
        if r < 0.042:
            return "cb_rejected"
        return None

    def _invoice(self, index: int, rows: dict[str, list[tuple]]) -> None:
        rng = self.rng
        invoice_id = self.ids.take("invoice")
        # Invoices are spread evenly over the years up to yesterday; ids grow with time.
        day = self.first_day + (index * self.span_days) // self.invoices
        age = self.today - day
        scenario, extra = self._scenario(index, age)
        customer_id = int(self.customers * rng.random() ** 2) + 1  # a few big customers
        created = day * DAY + 8 * 3600 + rng.randrange(7200)
        subtotal, vat = self._lines(invoice_id, rows["invoice_line"])
        total = subtotal + vat
        draft = scenario == "draft"
        issued = None if draft else created + 60 + rng.randrange(600)
        number = None if draft else self._number(day)
        send = not draft and scenario not in ("issued", "cancelled") and rng.random() < 0.97
        # A lost payment needs a pay link the customer was sent and opened.
        send = send or scenario == "lost_payment"
        sent = issued + 1800 if send else None
        no_attempts = draft or scenario in ("cancelled", "issued", "lost_payment")
        plan = [] if no_attempts else self._plan(scenario, total)
        attempts = self._attempts(invoice_id, number, customer_id, issued, plan, rows)
        paid = sum(a.booked for a in plan)
        settled = sum(1 for a in plan if a.booked)
        open_minor = 0 if scenario == "cancelled" else max(total - paid, 0)
        status = self._status(scenario, paid, open_minor, sent)
        paid_at = attempts[-1] if status == "paid" and attempts else None
        cancelled = issued + 3 * DAY if scenario == "cancelled" else None
        due = None if draft else day + (30 if customer_id % 5 == 0 else 14)
        ts = self.clock.ts
        updated = max(t for t in (created, issued, sent, paid_at, cancelled) if t is not None)
        rows["invoice"].append(
            (
                invoice_id,
                number,
                "INV",
                customer_id,
                self.channel_id,
                "EUR",
                None if draft else self.clock.days[day],
                None if due is None else self.clock.days[due],
                status,
                subtotal,
                vat,
                total,
                paid,
                open_minor,
                settled,
                *seal_token(f"{rng.getrandbits(128):032x}"),
                "",
                "Issued to the wrong customer" if cancelled else "",
                status in REMINDED_STATUSES and sent is not None,
                "finance",
                None if issued is None else ts(issued),
                None if sent is None else ts(sent),
                None if paid_at is None else ts(paid_at),
                None if cancelled is None else ts(cancelled),
                ts(created),
                ts(min(updated, self.now)),
                # The lost-payment watch has looked at every generated opening already.
                None,
                0,
                0,
                None,  # supplied on the issue date
                "",  # in EUR: no exchange rate
            )
        )
        self._audit(invoice_id, number, total, created, issued, cancelled, rows["audit_log"])
        if sent is not None:
            self._messages(invoice_id, number, customer_id, sent, due, status, rows)
        if scenario == "lost_payment":
            self._lost_payment(invoice_id, total, sent, rows)
        self._callback_extras(extra, invoice_id, number, issued or created, rows)

    def _lost_payment(
        self, invoice_id: int, total: int, sent: int, rows: dict[str, list[tuple]]
    ) -> None:
        """The pay link opened and no payment heard of: the lost-payment check's item."""
        opened = min(sent + DAY, self.now - 2 * DAY)
        rows["funnel_event"].append(
            (self.ids.take("funnel_event"), invoice_id, "link_opened", "pay", self.clock.ts(opened))
        )
        lost = Attempt("initial", total, review="lost_payment")
        self._review(lost, invoice_id, None, None, opened + DAY, rows)

    def _number(self, day: int) -> str:
        year = int(self.clock.days[day][:4])
        self.numbers[year] += 1
        return f"INV-{year}-{self.numbers[year]:04d}"

    @staticmethod
    def _status(scenario: str, paid: int, open_minor: int, sent: int | None) -> str:
        if scenario in ("draft", "cancelled"):
            return scenario
        if open_minor <= 0:
            return "paid"
        if paid > 0:
            return "partially_paid"
        return "sent" if sent is not None else "issued"

    def _lines(self, invoice_id: int, out: list[tuple]) -> tuple[int, int]:
        rng = self.rng
        count = rng.choice(LINE_COUNTS)
        subtotal = vat_total = 0
        for position in range(1, count + 1):
            description, price, rate, unit = rng.choice(CATALOGUE)
            quantity = rng.choice(QUANTITIES)
            net = quantity * price
            vat = (net * rate + 50) // 100  # half up, as shared/money.py rounds
            subtotal += net
            vat_total += vat
            out.append(
                (
                    self.ids.take("invoice_line"),
                    invoice_id,
                    position,
                    description,
                    str(quantity),
                    unit,
                    price,
                    str(rate),
                    net,
                    vat,
                    net + vat,
                    "S" if rate > 0 else "Z",
                    "",
                    "",
                )
            )
        return subtotal, vat_total

    def _failures(self, weights: tuple[float, ...]) -> list[Attempt]:
        r = self.rng.random()
        count = 0
        for threshold in weights:
            if r < threshold:
                break
            count += 1
        return [Attempt(self.rng.choice(FAILURE_STATES), 0) for _ in range(count)]

    def _plan(self, scenario: str, total: int) -> list[Attempt]:
        """The invoice's payment attempts, oldest first; amounts filled in here."""
        if scenario == "open":
            plan = self._failures((0.4, 0.7, 0.9))
        elif scenario.startswith("in_flight:"):
            plan = [*self._failures((0.5,)), Attempt(scenario.split(":")[1], total)]
        elif scenario == "stuck":
            plan = [Attempt("confirmed_3ds", total, review="stuck_pending")]
        else:
            plan = [*self._failures((0.3, 0.7, 0.88)), self._final_attempt(scenario, total)]
        for attempt in plan:
            attempt.amount = attempt.amount or total
        return plan

    @staticmethod
    def _final_attempt(scenario: str, total: int) -> Attempt:
        match scenario:
            case "partial":
                return Attempt("settled", total // 2, booked=total // 2)
            case "refund_partial":
                return Attempt("refunded", total, booked=total // 2, standing=total // 2)
            case "refund_full":
                return Attempt("refunded", total, booked=0, standing=0, review="refund")
            case "chargeback":
                return Attempt("chargebacked", total, booked=0, standing=0, review="chargeback")
            case "amount_mismatch":
                return Attempt("settled", max(total - 1000, 1), review="amount_mismatch")
            case "overpayment":
                return Attempt("settled", total + 1000, review="overpayment")
            case "currency_mismatch":
                return Attempt("settled", total, currency="USD", review="currency_mismatch")
            case "paid_not_booked":
                return Attempt("settled", total, review="paid_not_booked")
            case "payout_difference":
                # Paid, and the EveryPay payout holding it did not add up.
                return Attempt("settled", total, booked=total, review="payout_difference")
            case "unknown_state":
                # EveryPay named a state the app does not know; it stays as last understood.
                return Attempt("authorised", total, review="unknown_state")
        return Attempt("settled", total, booked=total)

    def _attempts(
        self,
        invoice_id: int,
        number: str | None,
        customer_id: int,
        issued: int | None,
        plan: list[Attempt],
        rows: dict[str, list[tuple]],
    ) -> list[int]:
        """Writes the attempts with their state change, callback, funnel step and review;
        returns their transaction times."""
        if not plan or issued is None or number is None:
            return []
        rng = self.rng
        moment = issued + 3600 + rng.randrange(14 * DAY)
        times = []
        opened = min(moment - 180, self.now - 600)
        rows["funnel_event"].append(
            (self.ids.take("funnel_event"), invoice_id, "link_opened", "", self.clock.ts(opened))
        )
        settled_before = 0
        for attempt in plan:
            moment = min(moment + 60 + rng.randrange(600), self.now - 300)
            reference = number if settled_before == 0 else f"{number}-{settled_before + 1}"
            attempt_id = self._attempt_row(
                attempt, invoice_id, reference, customer_id, moment, rows["payment_attempt"]
            )
            if attempt.booked:
                settled_before += 1
                self._ledger_row(attempt, invoice_id, attempt_id, customer_id, moment, rows)
            self._state_change(attempt_id, attempt.state, moment, rows["payment_state_change"])
            callback_id = self._callback_row(
                invoice_id, attempt_id, attempt, reference, moment, rows["callback_event"]
            )
            if attempt.review:
                self._review(attempt, invoice_id, attempt_id, callback_id, moment, rows)
            times.append(moment)
        return times

    def _ledger_row(
        self,
        attempt: Attempt,
        invoice_id: int,
        attempt_id: int,
        customer_id: int,
        moment: int,
        rows: dict[str, list[tuple]],
    ) -> None:
        """The booking's ledger entry, under the key the booking path gives it."""
        reference = attempt.payment_reference
        rows["ledger_entry"].append(
            (
                self.ids.take("ledger_entry"),
                f"linkpay:{reference}:in",
                invoice_id,
                customer_id,
                "payment",
                "linkpay",
                attempt.booked,
                "EUR",
                self.clock.day(moment),
                attempt_id,
                None,
                None,
                None,
                reference,
                "",
                "system",
                self.clock.ts(moment),
            )
        )

    def _attempt_row(
        self,
        attempt: Attempt,
        invoice_id: int,
        reference: str,
        customer_id: int,
        moment: int,
        out: list[tuple],
    ) -> int:
        rng = self.rng
        attempt_id = self.ids.take("payment_attempt")
        attempt.payment_reference = f"{rng.getrandbits(256):064x}"
        final = attempt.state in FINAL_STATES
        method = None
        brand = last4 = None
        if attempt.state != "initial":
            if attempt.state in ("sent_for_processing", "waiting_for_sca"):
                method = rng.choice(BANK_METHODS)
            elif attempt.state in ("authorised", "waiting_for_3ds_response", "confirmed_3ds"):
                method = "card"
            else:
                method = "card" if rng.random() < 0.65 else rng.choice(BANK_METHODS)
        if method == "card":
            brand = rng.choice(CARD_BRANDS)
            last4 = f"{rng.randrange(10000):04d}"
        standing = attempt.amount if attempt.standing is None else attempt.standing
        ts = self.clock.ts
        email = self.customer_emails[customer_id - 1]
        answer = (
            f'{{"payment_reference": "{attempt.payment_reference}", "order_reference": '
            f'"{reference}", "payment_state": "{attempt.state}", "initial_amount": '
            f'{_money_text(attempt.amount)}, "standing_amount": {_money_text(standing)}, '
            f'"currency": "{attempt.currency}", "payment_method": '
            f'{"null" if method is None else chr(34) + method + chr(34)}, "email": "{email}", '
            f'"transaction_time": "{self.clock.day(moment)}"}}'
        )
        out.append(
            (
                attempt_id,
                attempt.payment_reference,
                self.channel_id,
                invoice_id,
                reference,
                attempt.state,
                final,
                attempt.amount,
                standing,
                attempt.booked,
                attempt.currency,
                method,
                brand,
                last4,
                None,
                email if attempt.state != "initial" else None,
                "4033 Payment declined by the card issuer" if attempt.state == "failed" else None,
                ts(moment - 120),
                ts(moment),
                answer,
                ts(moment + 2),
                # Not due during a run: the reconciler's slowing schedule has pushed it out.
                None if final else ts(self.now + 6 * 3600),
                ts(moment - 120),
                ts(moment + 2),
                None,
                None,
            )
        )
        return attempt_id

    def _state_change(self, attempt_id: int, state: str, moment: int, out: list[tuple]) -> None:
        change_id = self.ids.take("payment_state_change")
        out.append((change_id, attempt_id, None, state, "callback", self.clock.ts(moment)))

    def _callback_row(
        self,
        invoice_id: int,
        attempt_id: int,
        attempt: Attempt,
        reference: str,
        moment: int,
        out: list[tuple],
        *,
        status: str = "done",
        outcome: str | None = None,
    ) -> int:
        callback_id = self.ids.take("callback_event")
        received = moment + 2
        params = (
            f'{{"payment_reference": "{attempt.payment_reference}", "order_reference": '
            f'"{reference}", "event_name": "status_updated"}}'
        )
        ts = self.clock.ts
        out.append(
            (
                callback_id,
                self.channel_id,
                ts(received),
                "GET",
                params,
                attempt.payment_reference,
                reference,
                "status_updated",
                "127.0.0.1",
                status,
                1,
                None,
                None,
                None,
                None,
                outcome or f"payment {attempt.state}",
                attempt_id,
                invoice_id,
                ts(received + 1),
                None,
                ts(received),
                ts(received + 1),
            )
        )
        return callback_id

    def _review(
        self,
        attempt: Attempt,
        invoice_id: int | None,
        attempt_id: int | None,
        callback_id: int | None,
        moment: int,
        rows: dict[str, list[tuple]],
    ) -> None:
        review_id = self.ids.take("review_item")
        resolved = self.now - moment > 30 * DAY
        ts = self.clock.ts
        if attempt_id is not None:
            key_owner = str(attempt_id)
        else:
            key_owner = f"cb{callback_id}" if callback_id is not None else f"invoice{invoice_id}"
        rows["review_item"].append(
            (
                review_id,
                attempt.review,
                "resolved" if resolved else "open",
                f"{attempt.review}:{key_owner}",
                f"{attempt.review.replace('_', ' ').capitalize()}: a person must look.",
                invoice_id,
                attempt_id,
                callback_id,
                self.channel_id,
                attempt.amount,
                attempt.currency,
                "Checked with the customer." if resolved else "",
                "finance" if resolved else None,
                ts(moment + 2 * DAY) if resolved else None,
                ts(moment + 3),
            )
        )
        if resolved:
            rows["audit_log"].append(
                (
                    self.ids.take("audit_log"),
                    ts(moment + 2 * DAY),
                    "finance",
                    "review.resolve",
                    "review_item",
                    str(review_id),
                    "ok",
                    '{"comment": "Checked with the customer."}',
                )
            )

    def _callback_extras(
        self,
        extra: str | None,
        invoice_id: int,
        number: str | None,
        moment: int,
        rows: dict[str, list[tuple]],
    ) -> None:
        """Duplicates, other payments of the merchant, bad input, failures to verify."""
        if extra is None:
            return
        callbacks = rows["callback_event"]
        moment = min(moment + 3 * DAY, self.now - 300)
        stranger = Attempt("settled", 1000)
        stranger.payment_reference = f"{self.rng.getrandbits(256):064x}"
        if extra == "cb_duplicate" and rows["payment_attempt"]:
            last = rows["payment_attempt"][-1]
            if last[3] == invoice_id:
                again = Attempt(last[5], last[7])
                again.payment_reference = last[1]
                self._callback_row(
                    invoice_id, last[0], again, last[4], moment, callbacks, outcome="no change"
                )
        elif extra == "cb_not_ours":
            callback_id = self._callback_row(
                None, None, stranger, f"SHOP-{invoice_id}", moment, callbacks, status="not_ours",
                outcome="not ours: another payment of the merchant",
            )  # fmt: skip
            stranger.review = "not_ours"
            self._review(stranger, None, None, callback_id, moment, rows)
        elif extra == "cb_rejected":
            self._rejected_callback(moment, callbacks)
        elif extra in ("cb_needs_attention", "cb_pending"):
            self._unverified_callback(extra, stranger, number, moment, rows)

    def _rejected_callback(self, moment: int, out: list[tuple]) -> None:
        ts = self.clock.ts
        out.append(
            (
                self.ids.take("callback_event"), self.channel_id, ts(moment), "GET",
                '{"payment_reference": "not-a-reference"}', None, None, None, "127.0.0.1",
                "rejected", 0, None, None, None, "payment_reference is not 64 hex characters",
                "rejected: bad input", None, None, ts(moment), None, None, None,
            )
        )  # fmt: skip

    def _unverified_callback(
        self,
        extra: str,
        stranger: Attempt,
        number: str | None,
        moment: int,
        rows: dict[str, list[tuple]],
    ) -> None:
        ts = self.clock.ts
        pending = extra == "cb_pending"
        moment = self.now - 300 if pending else moment
        callback_id = self.ids.take("callback_event")
        rows["callback_event"].append(
            (
                callback_id, self.channel_id, ts(moment), "GET",
                f'{{"payment_reference": "{stranger.payment_reference}", '
                f'"order_reference": "{number}", "event_name": "status_updated"}}',
                stranger.payment_reference, number, "status_updated", "127.0.0.1",
                "pending" if pending else "needs_attention", 3 if pending else 12,
                ts(self.now + 600) if pending else None, None, None,
                "TRANSIENT: API timed out", None, None, None, None, None, ts(moment), None,
            )
        )  # fmt: skip
        if not pending:
            stranger.review = "unverified_callback"
            self._review(stranger, None, None, callback_id, moment, rows)

    def _audit(
        self,
        invoice_id: int,
        number: str | None,
        total: int,
        created: int,
        issued: int | None,
        cancelled: int | None,
        out: list[tuple],
    ) -> None:
        ts = self.clock.ts
        take = self.ids.take
        entity = str(invoice_id)
        out.append(
            (take("audit_log"), ts(created), "finance", "invoice.create_draft", "invoice", entity,
             "ok", f'{{"total_minor": {total}, "currency": "EUR"}}')
        )  # fmt: skip
        if issued is not None:
            out.append(
                (take("audit_log"), ts(issued), "finance", "invoice.issue", "invoice", entity,
                 "ok", f'{{"number": "{number}"}}')
            )  # fmt: skip
        if cancelled is not None:
            out.append(
                (take("audit_log"), ts(cancelled), "finance", "invoice.cancel", "invoice", entity,
                 "ok", f'{{"number": "{number}", "reason": "Issued to the wrong customer"}}')
            )  # fmt: skip

    def _messages(
        self,
        invoice_id: int,
        number: str | None,
        customer_id: int,
        sent: int,
        due: int | None,
        status: str,
        rows: dict[str, list[tuple]],
    ) -> None:
        ts = self.clock.ts
        email = self.customer_emails[customer_id - 1]
        out = rows["message_log"]
        out.append(
            (self.ids.take("message_log"), invoice_id, "email", email,
             f"Invoice {number} from {COMPANY_NAME}", "sent", None, 1, None,
             f"<{invoice_id}.{sent}@linkpay.example>", None, "finance", ts(sent), ts(sent + 1),
             False)
        )  # fmt: skip
        if status not in REMINDED_STATUSES or due is None:
            return
        # Every reminder stage already due has gone out (as shared/reminders.py keys them),
        # so a run starts from the steady state instead of a flood of old reminders.
        for stage in REMINDER_DAYS:
            if due + stage > self.today:
                break
            moment = min((due + stage) * DAY + 7 * 3600, self.now - 600)
            out.append(
                (self.ids.take("message_log"), invoice_id, "reminder", email,
                 f"Reminder: invoice {number} is overdue", "sent", None, 1,
                 reminder_key(invoice_id=invoice_id, day=stage), None, None, "system",
                 ts(moment), ts(moment + 1), False)
            )  # fmt: skip

    def sequence_rows(self) -> list[tuple]:
        return [
            (k, "INV", year, last) for k, (year, last) in enumerate(sorted(self.numbers.items()), 1)
        ]


# --- driver ----------------------------------------------------------------------------------


def generate(
    url: str,
    *,
    invoices: int,
    customers: int = 20_000,
    years: int = 5,
    seed: int = 20261128,
    batch_size: int = 10_000,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> GenerationReport:
    """Migrates ``url`` (which must be empty) and fills it; returns counts and speed."""
    check_columns()
    started = time.perf_counter()
    upgrade_to_head(url)
    channel_id = seed_base(url, seed=seed)
    writer = make_writer(url)
    generator = Generator(
        invoices=invoices,
        customers=min(customers, max(invoices // 2, 10)),
        years=years,
        seed=seed,
        now=now or datetime.now(UTC),
        channel_id=channel_id,
        ts_suffix=writer.ts_suffix,
        next_ids=writer.next_ids(),
    )
    report = GenerationReport(invoices=invoices, channel_id=channel_id)
    _write(writer, "customer", generator.customer_rows(), report)
    for start in range(0, invoices, batch_size):
        rows = generator.batch(start, min(start + batch_size, invoices))
        for table in COLUMNS:
            _write(writer, table, rows[table], report)
        writer.commit()
        if progress:
            done = min(start + batch_size, invoices)
            elapsed = time.perf_counter() - started
            progress(f"{done:,}/{invoices:,} invoices, {report.total_rows / elapsed:,.0f} rows/s")
    _write(writer, "invoice_number_sequence", generator.sequence_rows(), report)
    report.index_seconds = writer.finish()
    report.seconds = time.perf_counter() - started
    return report


def _write(writer, table: str, rows: Iterable[tuple], report: GenerationReport) -> None:
    rows = list(rows)
    writer.write(table, rows)
    report.rows[table] += len(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__)
    parser.add_argument("--url", required=True, help="empty SQLite file or PostgreSQL database")
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args(argv)
    report = generate(
        args.url,
        invoices=args.invoices,
        customers=args.customers,
        years=args.years,
        seed=args.seed,
        progress=print,
    )
    print(report.summary())


if __name__ == "__main__":
    main()
