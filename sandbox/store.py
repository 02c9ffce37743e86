"""The sandbox's own small SQLite store: merchants, links, payments, callbacks, fault switches.

It is separate from the product's database on purpose: the sandbox plays EveryPay, and the
product must only learn about payments the way it would in production (callbacks + API).
Every state change and the callbacks it causes are written in one transaction, so a crash
never loses a callback that a payer's action promised.
"""

import hashlib
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from urllib.parse import urlencode

from shared.states import PaymentState

URL_FIELDS = (
    "transaction_amount",
    "order_reference",
    "customer_name",
    "customer_email",
    "invoice_number",
    "reference_number",
    "custom_field_1",
    "custom_field_2",
    # Where the hosted page sends the payer after paying, with payment_reference and
    # order_reference in the query (as EveryPay does for API payments' customer_url).
    "customer_url",
)
DEFAULT_URL_FIELDS = URL_FIELDS[:4]

# EveryPay's own rules, kept here rather than taken from shared.states' groups: the
# simulator plays EveryPay, so the product's reading of the states must not shape it.
# States that make an order reference "taken": EveryPay accepts one successful payment per
# order reference, and a bank payment still waiting for its bank would become one.
PAID_STATES = (PaymentState.SETTLED, PaymentState.REFUNDED, PaymentState.CHARGEBACKED)
IN_PROGRESS_STATES = (PaymentState.SENT_FOR_PROCESSING,)
# States whose standing amount can still be refunded or charged back.
REFUNDABLE_STATES = (PaymentState.SETTLED, PaymentState.REFUNDED)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS merchants (
    api_username TEXT PRIMARY KEY,
    api_secret TEXT NOT NULL,
    name TEXT NOT NULL,
    currency TEXT NOT NULL,
    logo BLOB,
    logo_mime TEXT,
    callback_url TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS links (
    link_token TEXT PRIMARY KEY,
    api_username TEXT NOT NULL REFERENCES merchants(api_username),
    name TEXT NOT NULL,
    url_fields TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payments (
    payment_reference TEXT PRIMARY KEY,
    api_username TEXT NOT NULL REFERENCES merchants(api_username),
    link_token TEXT NOT NULL REFERENCES links(link_token),
    order_reference TEXT NOT NULL,
    invoice_number TEXT NOT NULL DEFAULT '',
    currency TEXT NOT NULL,
    initial_minor INTEGER NOT NULL,
    standing_minor INTEGER NOT NULL,
    state TEXT NOT NULL,
    payment_method TEXT,
    customer_name TEXT NOT NULL DEFAULT '',
    customer_email TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    transaction_time TEXT,
    settle_at TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS payments_one_success_per_order
    ON payments(api_username, order_reference) WHERE state IN ('settled', 'sent_for_processing');
CREATE INDEX IF NOT EXISTS payments_by_merchant ON payments(api_username, created_at);
CREATE INDEX IF NOT EXISTS payments_settle_due ON payments(settle_at) WHERE settle_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS callbacks (
    id INTEGER PRIMARY KEY,
    payment_reference TEXT NOT NULL REFERENCES payments(payment_reference),
    event_name TEXT NOT NULL,
    url TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS callbacks_due ON callbacks(next_attempt_at) WHERE status = 'pending';
CREATE TABLE IF NOT EXISTS delivery_attempts (
    id INTEGER PRIMARY KEY,
    callback_id INTEGER NOT NULL REFERENCES callbacks(id),
    attempt INTEGER NOT NULL,
    attempted_at TEXT NOT NULL,
    url TEXT NOT NULL,
    status_code INTEGER,
    error TEXT
);
CREATE INDEX IF NOT EXISTS delivery_attempts_by_callback ON delivery_attempts(callback_id);
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    api_status INTEGER,
    api_delay_seconds REAL NOT NULL DEFAULT 0,
    callbacks TEXT NOT NULL DEFAULT 'normal',
    duplicate_count INTEGER NOT NULL DEFAULT 2
);
INSERT OR IGNORE INTO faults (id) VALUES (1);
CREATE TABLE IF NOT EXISTS payout_terms (
    api_username TEXT PRIMARY KEY REFERENCES merchants(api_username),
    fee_percent TEXT NOT NULL,
    fee_fixed_minor INTEGER NOT NULL,
    bank_iban TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS payouts (
    id INTEGER PRIMARY KEY,
    api_username TEXT NOT NULL REFERENCES merchants(api_username),
    settlement_day TEXT NOT NULL,
    value_date TEXT NOT NULL,
    currency TEXT NOT NULL,
    gross_minor INTEGER NOT NULL,
    fee_minor INTEGER NOT NULL,
    net_minor INTEGER NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payouts_by_merchant ON payouts(api_username, value_date);
CREATE TABLE IF NOT EXISTS payout_payments (
    payment_reference TEXT PRIMARY KEY REFERENCES payments(payment_reference),
    payout_id INTEGER NOT NULL REFERENCES payouts(id),
    amount_minor INTEGER NOT NULL,
    fee_minor INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS payout_payments_by_payout ON payout_payments(payout_id);
CREATE TABLE IF NOT EXISTS bank_transfers (
    id INTEGER PRIMARY KEY,
    api_username TEXT NOT NULL REFERENCES merchants(api_username),
    booking_date TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    payer_name TEXT NOT NULL,
    payer_iban TEXT NOT NULL,
    remittance TEXT NOT NULL,
    creditor_reference TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bank_transfers_by_merchant ON bank_transfers(api_username, booking_date);
"""

_CENT = Decimal("0.01")


class OrderAlreadyPaid(Exception):
    """The order reference already has a successful (or still processing) payment."""

    def __init__(self, order_reference: str, *, in_progress: bool) -> None:
        super().__init__(order_reference)
        self.in_progress = in_progress


@dataclass(frozen=True)
class Merchant:
    api_username: str
    api_secret: str
    name: str
    currency: str
    logo: bytes | None
    logo_mime: str | None
    callback_url: str
    created_at: datetime

    @property
    def account_name(self) -> str:
        return f"{self.currency}3D1"


@dataclass(frozen=True)
class Link:
    link_token: str
    api_username: str
    name: str
    url_fields: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class Payment:
    payment_reference: str
    api_username: str
    link_token: str
    order_reference: str
    invoice_number: str
    currency: str
    initial_amount: Decimal
    standing_amount: Decimal
    state: str
    payment_method: str | None
    customer_name: str
    customer_email: str
    created_at: datetime
    transaction_time: datetime | None
    settle_at: datetime | None


@dataclass(frozen=True)
class CallbackJob:
    id: int
    payment_reference: str
    event_name: str
    url: str
    attempts: int


@dataclass(frozen=True)
class Delivery:
    """One delivery attempt of one callback (or the record that it was not sent)."""

    callback_id: int
    payment_reference: str
    event_name: str
    attempt: int
    attempted_at: datetime
    url: str
    status_code: int | None
    error: str | None
    callback_status: str


@dataclass(frozen=True)
class PayoutTerms:
    """EveryPay's fee per payment (a percentage plus a fixed amount) and the merchant's
    own bank account, where payouts are paid to."""

    fee_percent: Decimal
    fee_fixed_minor: int
    bank_iban: str


@dataclass(frozen=True)
class Payout:
    id: int
    api_username: str
    settlement_day: date
    value_date: date
    currency: str
    gross_minor: int
    fee_minor: int
    net_minor: int
    payment_references: tuple[str, ...]

    @property
    def reference(self) -> str:
        return f"EVERYPAY PAYOUT {self.api_username} {self.settlement_day} {self.id}"


@dataclass(frozen=True)
class BankTransfer:
    id: int
    api_username: str
    booking_date: date
    amount_minor: int
    payer_name: str
    payer_iban: str
    remittance: str
    creditor_reference: str


@dataclass(frozen=True)
class Faults:
    api_status: int | None = None
    api_delay_seconds: float = 0.0
    callbacks: str = "normal"
    duplicate_count: int = 2


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(moment: datetime) -> str:
    # Fixed width (always microseconds, always +00:00) so text order is time order in SQL.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def to_minor(amount: Decimal) -> int:
    if amount != amount.quantize(_CENT):
        raise ValueError(f"amount {amount} has more than two decimals")
    return int(amount.scaleb(2))


def from_minor(minor: int) -> Decimal:
    return Decimal(minor).scaleb(-2).quantize(_CENT)


def iban_with_check_digits(country: str, bban: str) -> str:
    """An IBAN whose ISO 13616 check digits are right for ``bban``."""
    digits = "".join(str(int(char, 36)) for char in f"{bban}{country}00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def default_bank_iban(api_username: str) -> str:
    """An invented Latvian IBAN, the same for a merchant every time (demo reruns)."""
    number = int(hashlib.sha256(api_username.encode()).hexdigest(), 16) % 10**13
    return iban_with_check_digits("LV", f"HABA{number:013d}")


def payout_fee(amount_minor: int, terms: PayoutTerms) -> int:
    # EveryPay's rule as the sandbox plays it, kept apart from the product's reading of it.
    share = (Decimal(amount_minor) * terms.fee_percent / 100).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    return int(share) + terms.fee_fixed_minor


def new_payment_reference() -> str:
    return secrets.token_hex(32)


def callback_url_with_query(base_url: str, params: dict[str, str]) -> str:
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}{urlencode(params)}"


def _merchant(row: sqlite3.Row) -> Merchant:
    return Merchant(
        api_username=row["api_username"],
        api_secret=row["api_secret"],
        name=row["name"],
        currency=row["currency"],
        logo=row["logo"],
        logo_mime=row["logo_mime"],
        callback_url=row["callback_url"],
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def _link(row: sqlite3.Row) -> Link:
    return Link(
        link_token=row["link_token"],
        api_username=row["api_username"],
        name=row["name"],
        url_fields=tuple(field for field in row["url_fields"].split(",") if field),
        created_at=datetime.fromisoformat(row["created_at"]),
    )


def _payment(row: sqlite3.Row) -> Payment:
    return Payment(
        payment_reference=row["payment_reference"],
        api_username=row["api_username"],
        link_token=row["link_token"],
        order_reference=row["order_reference"],
        invoice_number=row["invoice_number"],
        currency=row["currency"],
        initial_amount=from_minor(row["initial_minor"]),
        standing_amount=from_minor(row["standing_minor"]),
        state=row["state"],
        payment_method=row["payment_method"],
        customer_name=row["customer_name"],
        customer_email=row["customer_email"],
        created_at=datetime.fromisoformat(row["created_at"]),
        transaction_time=_dt(row["transaction_time"]),
        settle_at=_dt(row["settle_at"]),
    )


def _delivery(row: sqlite3.Row) -> Delivery:
    return Delivery(
        callback_id=row["callback_id"],
        payment_reference=row["payment_reference"],
        event_name=row["event_name"],
        attempt=row["attempt"],
        attempted_at=datetime.fromisoformat(row["attempted_at"]),
        url=row["url"],
        status_code=row["status_code"],
        error=row["error"],
        callback_status=row["callback_status"],
    )


class SandboxStore:
    """All reads and writes of the sandbox, thread-safe: one connection per store, used by
    one caller at a time. The server calls it on its event loop (a call takes tens of
    microseconds on the local file) and from the portal's worker threads. Opening a
    connection and setting its pragmas for every call cost more than the queries, and
    callers queueing on a lock is cheaper than connections polling SQLite's busy handler."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser().resolve()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Holds merchants' API secrets: owner only. SQLite gives -wal and -shm the same mode.
        os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self, *, write: bool = False) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            try:
                if write:
                    # IMMEDIATE: another process (demo data) may write to the same file, and
                    # a read-then-write transaction would otherwise fail on contention.
                    conn.execute("BEGIN IMMEDIATE")
                yield conn
                if write:
                    conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    # Merchants and links

    def create_merchant(
        self,
        *,
        name: str,
        logo: bytes | None = None,
        logo_mime: str | None = None,
        currency: str = "EUR",
        api_username: str | None = None,
        api_secret: str | None = None,
    ) -> Merchant:
        """Create a merchant, or update the one with this API username (demo data reruns)."""
        username = api_username or secrets.token_hex(4)
        with self._connect(write=True) as conn:
            existing = conn.execute(
                "SELECT * FROM merchants WHERE api_username = ?", (username,)
            ).fetchone()
            if existing is None:
                conn.execute(
                    "INSERT INTO merchants (api_username, api_secret, name, currency, logo,"
                    " logo_mime, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        username,
                        api_secret or secrets.token_hex(16),
                        name,
                        currency.upper(),
                        logo,
                        logo_mime if logo else None,
                        _ts(utcnow()),
                    ),
                )
            else:
                keep_logo = logo is None
                conn.execute(
                    "UPDATE merchants SET name = ?, currency = ?, api_secret = ?, logo = ?,"
                    " logo_mime = ? WHERE api_username = ?",
                    (
                        name,
                        currency.upper(),
                        api_secret or existing["api_secret"],
                        existing["logo"] if keep_logo else logo,
                        existing["logo_mime"] if keep_logo else logo_mime,
                        username,
                    ),
                )
            row = conn.execute(
                "SELECT * FROM merchants WHERE api_username = ?", (username,)
            ).fetchone()
        return _merchant(row)

    def get_merchant(self, api_username: str) -> Merchant | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT * FROM merchants WHERE api_username = ?", (api_username,)
            ).fetchone()
        return _merchant(row) if row else None

    def list_merchants(self) -> list[Merchant]:
        with self._connect() as conn:
            rows = conn.execute("SELECT * FROM merchants ORDER BY created_at, name").fetchall()
        return [_merchant(row) for row in rows]

    def set_callback_url(self, *, api_username: str, url: str) -> None:
        with self._connect(write=True) as conn:
            updated = conn.execute(
                "UPDATE merchants SET callback_url = ? WHERE api_username = ?",
                (url.strip(), api_username),
            ).rowcount
        if not updated:
            raise KeyError(api_username)

    def add_link(
        self,
        *,
        api_username: str,
        name: str = "Invoice Payment",
        link_token: str | None = None,
        url_fields: list[str] | None = None,
    ) -> Link:
        """Create a link, or update the one with this token when it belongs to this merchant."""
        fields = list(DEFAULT_URL_FIELDS if url_fields is None else url_fields)
        unknown = set(fields) - set(URL_FIELDS)
        if unknown:
            raise ValueError(f"unknown URL fields: {', '.join(sorted(unknown))}")
        token = link_token or secrets.token_hex(10)
        with self._connect(write=True) as conn:
            owner = conn.execute(
                "SELECT api_username FROM links WHERE link_token = ?", (token,)
            ).fetchone()
            if owner is not None and owner["api_username"] != api_username:
                raise ValueError("this link token belongs to another merchant")
            conn.execute(
                "INSERT INTO links (link_token, api_username, name, url_fields, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (link_token) DO UPDATE SET"
                " name = excluded.name, url_fields = excluded.url_fields",
                (token, api_username, name, ",".join(fields), _ts(utcnow())),
            )
            row = conn.execute("SELECT * FROM links WHERE link_token = ?", (token,)).fetchone()
        return _link(row)

    def get_link(self, link_token: str) -> Link | None:
        with self._connect() as conn:
            row = conn.execute("SELECT * FROM links WHERE link_token = ?", (link_token,)).fetchone()
        return _link(row) if row else None

    def list_links(self, api_username: str) -> list[Link]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM links WHERE api_username = ? ORDER BY created_at DESC, rowid DESC",
                (api_username,),
            ).fetchall()
        return [_link(row) for row in rows]

    def merchant_by_link_token(self, link_token: str) -> Merchant | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT merchants.* FROM merchants JOIN links USING (api_username)"
                " WHERE links.link_token = ?",
                (link_token,),
            ).fetchone()
        return _merchant(row) if row else None

    # Payments

    def record_payment(
        self,
        *,
        link_token: str,
        order_reference: str,
        amount: Decimal,
        state: str,
        created_at: datetime | None = None,
        transaction_time: datetime | None = None,
        payment_method: str = "card",
        customer_name: str = "",
        customer_email: str = "",
        standing_amount: Decimal | None = None,
    ) -> str:
        """Insert a payment as history, without callbacks (demo data); returns its reference."""
        created = created_at or utcnow()
        with self._connect(write=True) as conn:
            merchant = self._merchant_of_link(conn, link_token)
            reference = new_payment_reference()
            conn.execute(
                "INSERT INTO payments (payment_reference, api_username, link_token,"
                " order_reference, currency, initial_minor, standing_minor, state,"
                " payment_method, customer_name, customer_email, created_at, transaction_time)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    reference,
                    merchant["api_username"],
                    link_token,
                    order_reference,
                    merchant["currency"],
                    to_minor(amount),
                    to_minor(amount if standing_amount is None else standing_amount),
                    state,
                    None if state == "initial" else payment_method,
                    customer_name,
                    customer_email,
                    _ts(created),
                    None if state == "initial" else _ts(transaction_time or created),
                ),
            )
        return reference

    @staticmethod
    def _merchant_of_link(conn: sqlite3.Connection, link_token: str) -> sqlite3.Row:
        row = conn.execute(
            "SELECT merchants.* FROM merchants JOIN links USING (api_username)"
            " WHERE links.link_token = ?",
            (link_token,),
        ).fetchone()
        if row is None:
            raise KeyError(link_token)
        return row

    def order_status(self, *, api_username: str, order_reference: str) -> str | None:
        """``"paid"``, ``"in_progress"`` or None: whether a new attempt may be made."""
        with self._connect() as conn:
            return self._order_status(conn, api_username, order_reference)

    @staticmethod
    def _order_status(
        conn: sqlite3.Connection, api_username: str, order_reference: str
    ) -> str | None:
        states = {
            row["state"]
            for row in conn.execute(
                "SELECT DISTINCT state FROM payments"
                " WHERE api_username = ? AND order_reference = ?",
                (api_username, order_reference),
            )
        }
        if states & set(PAID_STATES):
            return "paid"
        if states & set(IN_PROGRESS_STATES):
            return "in_progress"
        return None

    def create_attempt(
        self,
        *,
        link_token: str,
        order_reference: str,
        invoice_number: str,
        amount: Decimal,
        state: str,
        payment_method: str,
        customer_name: str,
        customer_email: str,
        event_name: str,
        settle_at: datetime | None = None,
    ) -> Payment:
        """One payer attempt and its callbacks, refused if the order is already taken."""
        now = utcnow()
        with self._connect(write=True) as conn:
            merchant = self._merchant_of_link(conn, link_token)
            status = self._order_status(conn, merchant["api_username"], order_reference)
            if status is not None:
                raise OrderAlreadyPaid(order_reference, in_progress=status == "in_progress")
            reference = new_payment_reference()
            conn.execute(
                "INSERT INTO payments (payment_reference, api_username, link_token,"
                " order_reference, invoice_number, currency, initial_minor, standing_minor,"
                " state, payment_method, customer_name, customer_email, created_at,"
                " transaction_time, settle_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    reference,
                    merchant["api_username"],
                    link_token,
                    order_reference,
                    invoice_number,
                    merchant["currency"],
                    to_minor(amount),
                    to_minor(amount),
                    state,
                    payment_method,
                    customer_name,
                    customer_email,
                    _ts(now),
                    _ts(now),
                    _ts(settle_at) if settle_at else None,
                ),
            )
            self._enqueue_callbacks(conn, reference, event_name, now)
            row = self._payment_row(conn, reference)
        return _payment(row)

    @staticmethod
    def _payment_row(conn: sqlite3.Connection, payment_reference: str) -> sqlite3.Row:
        return conn.execute(
            "SELECT * FROM payments WHERE payment_reference = ?", (payment_reference,)
        ).fetchone()

    def get_payment(self, payment_reference: str) -> Payment | None:
        with self._connect() as conn:
            row = self._payment_row(conn, payment_reference)
        return _payment(row) if row else None

    def list_payments(self, api_username: str | None = None, *, limit: int = 500) -> list[Payment]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM payments WHERE ? IS NULL OR api_username = ?"
                " ORDER BY created_at DESC, rowid DESC LIMIT ?",
                (api_username, api_username, limit),
            ).fetchall()
        return [_payment(row) for row in rows]

    def refund(self, *, payment_reference: str, amount: Decimal) -> Payment:
        """Reduce the standing amount; the state becomes ``refunded`` even when partial."""
        with self._connect(write=True) as conn:
            row = self._payment_row(conn, payment_reference)
            if row is None:
                raise KeyError(payment_reference)
            if row["state"] not in REFUNDABLE_STATES:
                raise ValueError(f"a {row['state']} payment cannot be refunded")
            minor = to_minor(amount)
            if minor <= 0 or minor > row["standing_minor"]:
                standing = from_minor(row["standing_minor"])
                raise ValueError(f"refund must be more than 0 and at most {standing}")
            conn.execute(
                "UPDATE payments SET state = 'refunded', standing_minor = standing_minor - ?"
                " WHERE payment_reference = ?",
                (minor, payment_reference),
            )
            self._enqueue_callbacks(conn, payment_reference, "refunded", utcnow())
            row = self._payment_row(conn, payment_reference)
        return _payment(row)

    def chargeback(self, *, payment_reference: str) -> Payment:
        """The card holder won a dispute: the money still standing goes back to them."""
        with self._connect(write=True) as conn:
            row = self._payment_row(conn, payment_reference)
            if row is None:
                raise KeyError(payment_reference)
            if row["state"] not in REFUNDABLE_STATES:
                raise ValueError(f"a {row['state']} payment cannot be charged back")
            conn.execute(
                "UPDATE payments SET state = 'chargebacked', standing_minor = 0"
                " WHERE payment_reference = ?",
                (payment_reference,),
            )
            self._enqueue_callbacks(conn, payment_reference, "chargebacked", utcnow())
            row = self._payment_row(conn, payment_reference)
        return _payment(row)

    def settle_due_bank_payments(self, now: datetime) -> int:
        """Let every bank payment whose bank has "answered" by now become settled."""
        with self._connect(write=True) as conn:
            due = [
                row["payment_reference"]
                for row in conn.execute(
                    "SELECT payment_reference FROM payments"
                    " WHERE settle_at IS NOT NULL AND settle_at <= ?",
                    (_ts(now),),
                )
            ]
            for reference in due:
                conn.execute(
                    "UPDATE payments SET state = 'settled', settle_at = NULL, transaction_time = ?"
                    " WHERE payment_reference = ?",
                    (_ts(now), reference),
                )
                self._enqueue_callbacks(conn, reference, "status_updated", now)
        return len(due)

    # Callbacks

    def _enqueue_callbacks(
        self, conn: sqlite3.Connection, payment_reference: str, event_name: str, now: datetime
    ) -> None:
        payment = self._payment_row(conn, payment_reference)
        merchant = conn.execute(
            "SELECT callback_url FROM merchants WHERE api_username = ?",
            (payment["api_username"],),
        ).fetchone()
        faults = self._faults(conn)
        params = {
            "payment_reference": payment_reference,
            "order_reference": payment["order_reference"],
            "event_name": event_name,
        }
        base_url = merchant["callback_url"]
        url = callback_url_with_query(base_url, params) if base_url else ""
        if not url:
            self._insert_unsent(conn, payment_reference, event_name, url, "no_url", now)
        elif faults.callbacks == "drop":
            self._insert_unsent(conn, payment_reference, event_name, url, "dropped", now)
        else:
            copies = faults.duplicate_count if faults.callbacks == "duplicate" else 1
            for _ in range(copies):
                conn.execute(
                    "INSERT INTO callbacks (payment_reference, event_name, url, status,"
                    " next_attempt_at, created_at) VALUES (?, ?, ?, 'pending', ?, ?)",
                    (payment_reference, event_name, url, _ts(now), _ts(now)),
                )

    @staticmethod
    def _insert_unsent(
        conn: sqlite3.Connection,
        payment_reference: str,
        event_name: str,
        url: str,
        status: str,
        now: datetime,
    ) -> None:
        # Recorded as an attempt so the portal and tests can see why nothing arrived.
        reason = {
            "no_url": "not sent: no Callback Notification URL is set",
            "dropped": "dropped by the sandbox fault switch",
        }[status]
        callback_id = conn.execute(
            "INSERT INTO callbacks (payment_reference, event_name, url, status, attempts,"
            " created_at) VALUES (?, ?, ?, ?, 1, ?)",
            (payment_reference, event_name, url, status, _ts(now)),
        ).lastrowid
        conn.execute(
            "INSERT INTO delivery_attempts (callback_id, attempt, attempted_at, url, error)"
            " VALUES (?, 1, ?, ?, ?)",
            (callback_id, _ts(now), url, reason),
        )

    def claim_due_callbacks(self, now: datetime, *, lease_seconds: float) -> list[CallbackJob]:
        """Due callbacks, each pushed ``lease_seconds`` ahead so no one else sends it meanwhile.

        If the sender dies mid-delivery, the lease expires and the callback is sent again.
        """
        with self._connect(write=True) as conn:
            rows = conn.execute(
                "SELECT id, payment_reference, event_name, url, attempts FROM callbacks"
                " WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at",
                (_ts(now),),
            ).fetchall()
            conn.executemany(
                "UPDATE callbacks SET next_attempt_at = ? WHERE id = ?",
                [(_ts(now + timedelta(seconds=lease_seconds)), row["id"]) for row in rows],
            )
        return [CallbackJob(**dict(row)) for row in rows]

    def next_wakeup(self) -> datetime | None:
        """When the next pending callback or bank settlement falls due."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT min(due) AS due FROM ("
                " SELECT min(next_attempt_at) AS due FROM callbacks WHERE status = 'pending'"
                " UNION ALL SELECT min(settle_at) FROM payments WHERE settle_at IS NOT NULL)"
            ).fetchone()
        return _dt(row["due"])

    def record_delivery(
        self,
        *,
        job: CallbackJob,
        attempted_at: datetime,
        status_code: int | None,
        error: str | None,
        retry_in: float | None,
    ) -> None:
        """Log one attempt; schedule the next (``retry_in`` seconds) or close the callback."""
        attempt = job.attempts + 1
        delivered = status_code is not None and 200 <= status_code < 300
        if delivered:
            status, next_at = "delivered", None
        elif retry_in is None:
            status, next_at = "given_up", None
        else:
            status, next_at = "pending", _ts(attempted_at + timedelta(seconds=retry_in))
        with self._connect(write=True) as conn:
            conn.execute(
                "INSERT INTO delivery_attempts (callback_id, attempt, attempted_at, url,"
                " status_code, error) VALUES (?, ?, ?, ?, ?, ?)",
                (job.id, attempt, _ts(attempted_at), job.url, status_code, error),
            )
            conn.execute(
                "UPDATE callbacks SET status = ?, attempts = ?, next_attempt_at = ? WHERE id = ?",
                (status, attempt, next_at, job.id),
            )

    def list_deliveries(
        self,
        *,
        payment_reference: str | None = None,
        api_username: str | None = None,
        limit: int = 200,
    ) -> list[Delivery]:
        """Delivery attempts, newest first."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT d.callback_id, c.payment_reference, c.event_name, d.attempt,"
                " d.attempted_at, d.url, d.status_code, d.error, c.status AS callback_status"
                " FROM delivery_attempts d JOIN callbacks c ON c.id = d.callback_id"
                " JOIN payments p ON p.payment_reference = c.payment_reference"
                " WHERE (:ref IS NULL OR c.payment_reference = :ref)"
                " AND (:user IS NULL OR p.api_username = :user)"
                " ORDER BY d.attempted_at DESC, d.id DESC LIMIT :limit",
                {"ref": payment_reference, "user": api_username, "limit": limit},
            ).fetchall()
        return [_delivery(row) for row in rows]

    # Fault switches

    @staticmethod
    def _faults(conn: sqlite3.Connection) -> Faults:
        row = conn.execute(
            "SELECT api_status, api_delay_seconds, callbacks, duplicate_count FROM faults"
        ).fetchone()
        return Faults(**dict(row))

    def get_faults(self) -> Faults:
        with self._connect() as conn:
            return self._faults(conn)

    def set_faults(self, faults: Faults) -> None:
        with self._connect(write=True) as conn:
            conn.execute(
                "UPDATE faults SET api_status = ?, api_delay_seconds = ?, callbacks = ?,"
                " duplicate_count = ? WHERE id = 1",
                (
                    faults.api_status,
                    faults.api_delay_seconds,
                    faults.callbacks,
                    faults.duplicate_count,
                ),
            )

    # Payouts and the merchant's bank account

    def get_payout_terms(self, api_username: str) -> PayoutTerms:
        with self._connect() as conn:
            return self._payout_terms(conn, api_username)

    @staticmethod
    def _payout_terms(conn: sqlite3.Connection, api_username: str) -> PayoutTerms:
        row = conn.execute(
            "SELECT * FROM payout_terms WHERE api_username = ?", (api_username,)
        ).fetchone()
        if row is None:
            return PayoutTerms(Decimal(0), 0, default_bank_iban(api_username))
        return PayoutTerms(Decimal(row["fee_percent"]), row["fee_fixed_minor"], row["bank_iban"])

    def set_payout_terms(self, api_username: str, terms: PayoutTerms) -> PayoutTerms:
        """Terms apply to payouts made from now on; payouts made keep their fee."""
        with self._connect(write=True) as conn:
            conn.execute(
                "INSERT INTO payout_terms (api_username, fee_percent, fee_fixed_minor,"
                " bank_iban) VALUES (?, ?, ?, ?) ON CONFLICT (api_username) DO UPDATE SET"
                " fee_percent = excluded.fee_percent,"
                " fee_fixed_minor = excluded.fee_fixed_minor, bank_iban = excluded.bank_iban",
                (api_username, str(terms.fee_percent), terms.fee_fixed_minor, terms.bank_iban),
            )
            return self._payout_terms(conn, api_username)

    def make_payouts(self, api_username: str, *, through: date, today: date) -> list[Payout]:
        """Pay out, one payout per settlement day up to ``through`` (UTC), every payment
        settled that day and not paid out yet, with what still stands after refunds, less
        the fee. A payout's value date is the next day, or today for a day closed early.
        Refunds and chargebacks after a payout are not taken back from later payouts."""
        with self._connect(write=True) as conn:
            merchant = conn.execute(
                "SELECT currency FROM merchants WHERE api_username = ?", (api_username,)
            ).fetchone()
            if merchant is None:
                raise KeyError(api_username)
            terms = self._payout_terms(conn, api_username)
            due = conn.execute(
                "SELECT payment_reference, standing_minor, substr(transaction_time, 1, 10) AS day"
                " FROM payments WHERE api_username = ? AND state IN ('settled', 'refunded')"
                " AND standing_minor > 0 AND transaction_time IS NOT NULL"
                " AND substr(transaction_time, 1, 10) <= ? AND payment_reference NOT IN"
                " (SELECT payment_reference FROM payout_payments)"
                " ORDER BY transaction_time, payment_reference",
                (api_username, through.isoformat()),
            ).fetchall()
            by_day: dict[str, list[sqlite3.Row]] = {}
            for row in due:
                by_day.setdefault(row["day"], []).append(row)
            made = []
            for day, rows in sorted(by_day.items()):
                fees = [payout_fee(row["standing_minor"], terms) for row in rows]
                gross = sum(row["standing_minor"] for row in rows)
                if gross - sum(fees) <= 0:
                    continue  # nothing to pay: the fees eat it; EveryPay keeps it for later
                settled_on = date.fromisoformat(day)
                value_date = min(settled_on + timedelta(days=1), today)
                payout_id = conn.execute(
                    "INSERT INTO payouts (api_username, settlement_day, value_date, currency,"
                    " gross_minor, fee_minor, net_minor, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        api_username,
                        day,
                        value_date.isoformat(),
                        merchant["currency"],
                        gross,
                        sum(fees),
                        gross - sum(fees),
                        _ts(utcnow()),
                    ),
                ).lastrowid
                conn.executemany(
                    "INSERT INTO payout_payments (payment_reference, payout_id, amount_minor,"
                    " fee_minor) VALUES (?, ?, ?, ?)",
                    [
                        (row["payment_reference"], payout_id, row["standing_minor"], fee)
                        for row, fee in zip(rows, fees, strict=True)
                    ],
                )
                made.append(payout_id)
            return [self._payout(conn, payout_id) for payout_id in made]

    @staticmethod
    def _payout(conn: sqlite3.Connection, payout_id: int) -> Payout:
        row = conn.execute("SELECT * FROM payouts WHERE id = ?", (payout_id,)).fetchone()
        references = tuple(
            item["payment_reference"]
            for item in conn.execute(
                "SELECT payment_reference FROM payout_payments WHERE payout_id = ?"
                " ORDER BY payment_reference",
                (payout_id,),
            )
        )
        return Payout(
            id=row["id"],
            api_username=row["api_username"],
            settlement_day=date.fromisoformat(row["settlement_day"]),
            value_date=date.fromisoformat(row["value_date"]),
            currency=row["currency"],
            gross_minor=row["gross_minor"],
            fee_minor=row["fee_minor"],
            net_minor=row["net_minor"],
            payment_references=references,
        )

    def list_payouts(
        self, api_username: str, *, start: date | None = None, end: date | None = None
    ) -> list[Payout]:
        """Payouts by value date (oldest first), optionally within [start, end]."""
        with self._connect() as conn:
            ids = [
                row["id"]
                for row in conn.execute(
                    "SELECT id FROM payouts WHERE api_username = :user"
                    " AND (:start IS NULL OR value_date >= :start)"
                    " AND (:end IS NULL OR value_date <= :end) ORDER BY value_date, id",
                    {
                        "user": api_username,
                        "start": start.isoformat() if start else None,
                        "end": end.isoformat() if end else None,
                    },
                )
            ]
            return [self._payout(conn, payout_id) for payout_id in ids]

    def add_bank_transfer(
        self,
        *,
        api_username: str,
        booking_date: date,
        amount_minor: int,
        payer_name: str,
        payer_iban: str,
        remittance: str = "",
        creditor_reference: str = "",
    ) -> BankTransfer:
        """A customer's transfer to the merchant's bank account, for its statement."""
        with self._connect(write=True) as conn:
            transfer_id = conn.execute(
                "INSERT INTO bank_transfers (api_username, booking_date, amount_minor,"
                " payer_name, payer_iban, remittance, creditor_reference, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    api_username,
                    booking_date.isoformat(),
                    amount_minor,
                    payer_name,
                    payer_iban,
                    remittance,
                    creditor_reference,
                    _ts(utcnow()),
                ),
            ).lastrowid
        return BankTransfer(
            id=transfer_id,
            api_username=api_username,
            booking_date=booking_date,
            amount_minor=amount_minor,
            payer_name=payer_name,
            payer_iban=payer_iban,
            remittance=remittance,
            creditor_reference=creditor_reference,
        )

    def list_bank_transfers(
        self, api_username: str, *, start: date | None = None, end: date | None = None
    ) -> list[BankTransfer]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT * FROM bank_transfers WHERE api_username = :user"
                " AND (:start IS NULL OR booking_date >= :start)"
                " AND (:end IS NULL OR booking_date <= :end) ORDER BY booking_date, id",
                {
                    "user": api_username,
                    "start": start.isoformat() if start else None,
                    "end": end.isoformat() if end else None,
                },
            ).fetchall()
        return [
            BankTransfer(
                id=row["id"],
                api_username=row["api_username"],
                booking_date=date.fromisoformat(row["booking_date"]),
                amount_minor=row["amount_minor"],
                payer_name=row["payer_name"],
                payer_iban=row["payer_iban"],
                remittance=row["remittance"],
                creditor_reference=row["creditor_reference"],
            )
            for row in rows
        ]
