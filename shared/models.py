"""Every table of LinkPay Desk, in one place.

Money is stored as integer minor units next to an ISO 4217 currency code; times are stored
in UTC and always come back timezone-aware. Enumerations are plain strings so that the
same migrations run on SQLite and PostgreSQL without native enum types.
"""

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    text,
)
from sqlmodel import Field, SQLModel

# The stored states are defined, with their groups and labels, in shared.states; code
# that reads them along with the tables imports them from here as well.
from shared.states import CallbackStatus as CallbackStatus
from shared.states import InvoiceStatus as InvoiceStatus
from shared.states import MatchState as MatchState
from shared.states import PaymentState as PaymentState
from shared.states import ReviewKind as ReviewKind
from shared.states import ReviewStatus as ReviewStatus
from shared.text import search_key


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(*, nullable: bool = True, index: bool = False, default_now: bool = False) -> Any:
    if default_now:
        return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


class MinorUnits(TypeDecorator):
    """Money in minor units: BIGINT on PostgreSQL, whose ``integer`` ends at 21 474 836.47
    EUR; INTEGER on SQLite, which stores 64 bits in it already (and whose tables are not
    rebuilt just to rename the type, see migration 0003). shared.money bounds every amount
    far below 64 bits, so sums of them fit as well.

    Values come back as ``int`` even from aggregates: PostgreSQL's ``sum(bigint)`` is
    ``numeric``, which would otherwise reach the code as Decimal."""

    impl = BigInteger
    cache_ok = True

    def load_dialect_impl(self, dialect) -> Any:
        return dialect.type_descriptor(Integer() if dialect.name == "sqlite" else BigInteger())

    def process_result_value(self, value: Any, dialect) -> int | None:
        return None if value is None else int(value)


def _money(*, index: bool = False) -> Any:
    return Field(default=0, sa_type=MinorUnits, nullable=False, index=index)


class Role(StrEnum):
    ADMIN = "admin"
    FINANCE = "finance"
    MANAGER = "manager"


class AccountType(StrEnum):
    REGULAR = "regular"
    MERCHANT = "merchant"


class Environment(StrEnum):
    SANDBOX = "sandbox"
    DEMO = "everypay_demo"
    LIVE = "everypay_live"
    CUSTOM = "custom"


class MessageChannel(StrEnum):
    EMAIL = "email"
    LINK = "link"
    PDF = "pdf"
    REMINDER = "reminder"
    CREDIT_NOTE = "credit_note"
    EINVOICE = "einvoice"  # the e-invoice XML downloaded to be passed on


class SendingMethod(StrEnum):
    """How a customer's invoices go out by default; the sending panel preselects it."""

    EMAIL = "email"  # e-mail with the PDF
    EMAIL_EINVOICE = "email_einvoice"  # e-mail with the PDF and the e-invoice XML
    EINVOICE = "einvoice"  # the e-invoice XML downloaded (for the customer's own portal)


class MessageStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class FunnelStep(StrEnum):
    SENT = "sent"
    LINK_OPENED = "link_opened"
    ATTEMPT = "attempt"
    SETTLED = "settled"
    FAILED = "failed"


class Company(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    registration_number: str = Field(default="", max_length=50)
    vat_number: str = Field(default="", max_length=50)
    address: str = Field(default="", max_length=500)
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=50)
    website: str = Field(default="", max_length=200)
    logo: bytes | None = Field(default=None, sa_type=LargeBinary)
    logo_mime: str | None = Field(default=None, max_length=50)
    timezone: str = Field(default="Europe/Riga", max_length=64)
    default_currency: str = Field(default="EUR", max_length=3)
    # Print the amount due in words on documents (Latvian "… eiro, 58 centi"); off by default.
    amount_in_words: bool = False
    # The dashboard's language for users who have not chosen one ("lv" or "en").
    ui_language: str = Field(default="en", max_length=2)
    updated_at: datetime = _ts(default_now=True)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    full_name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)
    # The dashboard's language this user chose; None: the company's.
    language: str | None = Field(default=None, max_length=2)
    active: bool = True
    failed_logins: int = 0
    locked_until: datetime | None = _ts()
    last_login_at: datetime | None = _ts()
    created_at: datetime = _ts(default_now=True)


class LoginSession(SQLModel, table=True):
    """A browser's sign-in to the dashboard, behind its cookie (see shared/login_sessions.py).

    Only hashes are stored: a copied database lets nobody in. ``ticket_hash`` is set from the
    login form until the browser exchanges the ticket for its cookie, once."""

    __tablename__ = "login_session"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    ticket_hash: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = _ts(nullable=False)
    last_seen_at: datetime = _ts(nullable=False)
    expires_at: datetime = _ts(nullable=False, index=True)


class BankAccount(SQLModel, table=True):
    __tablename__ = "bank_account"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    bank_name: str = Field(default="", max_length=200)
    iban: str = Field(default="", max_length=34)
    # ISO 9362 business identifier code of the bank ("HABALV22"); optional, since a SEPA
    # transfer needs the IBAN only, but printed with it and put into the EPC QR code.
    bic: str = Field(default="", max_length=11)
    currency: str = Field(default="EUR", max_length=3)
    account_type: str = Field(default=AccountType.REGULAR, max_length=16)
    active: bool = True
    created_at: datetime = _ts(default_now=True)


class PaymentChannel(SQLModel, table=True):
    """A LinkPay channel on a merchant account: one EveryPay link, one currency."""

    __tablename__ = "payment_channel"

    id: int | None = Field(default=None, primary_key=True)
    bank_account_id: int = Field(foreign_key="bank_account.id", index=True)
    provider: str = Field(default="linkpay", max_length=32)
    name: str = Field(default="LinkPay", max_length=200)
    environment: str = Field(default=Environment.SANDBOX, max_length=32)
    linkpay_prefix: str = Field(max_length=500)
    api_base: str = Field(max_length=500)
    link_token: str = Field(default="", max_length=200)
    api_username: str = Field(default="", max_length=200, index=True)
    api_secret_encrypted: str = Field(default="", sa_type=Text)
    api_secret_last4: str = Field(default="", max_length=4)
    currency: str = Field(default="EUR", max_length=3)
    url_fields: list[str] = Field(default_factory=list, sa_type=JSON)
    # The callback token is a secret: looked up by its SHA-256, shown from its ciphertext.
    callback_token_hash: str = Field(max_length=64, unique=True)
    callback_token_encrypted: str = Field(sa_type=Text)
    previous_token_hash: str | None = Field(default=None, max_length=64, index=True)
    previous_token_valid_until: datetime | None = _ts()
    active: bool = True
    connection_tested_at: datetime | None = _ts()
    connection_test_ok: bool | None = None
    connection_test_message: str = Field(default="", max_length=500)
    first_callback_at: datetime | None = _ts()
    first_settled_at: datetime | None = _ts()
    created_at: datetime = _ts(default_now=True)
    updated_at: datetime = _ts(default_now=True)
    # EveryPay's fee per payment from the merchant contract ("1.5" percent of the amount,
    # plus a fixed amount in minor units). Unset: a payout's fee is taken to be whatever
    # the payments exceed it by (shared.bank.payouts).
    payout_fee_percent: str | None = Field(default=None, max_length=8)
    payout_fee_fixed_minor: int | None = Field(default=None, sa_type=MinorUnits)


class Customer(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    # The name as searches compare it (shared.text.search_key), kept in step with the name on
    # every ORM write by the mapper events below. A stored column rather than a SQL function:
    # SQLite's LIKE/lower() fold ASCII only, and PostgreSQL's lower()/ILIKE follow the
    # database's ctype (the C locale folds ASCII only too); folding once in Python gives both
    # backends the same answer, and a plain LIKE on it scans 20 k short values in milliseconds.
    # Casefolding can triple a character's length ("ΐ"), hence 3 x 200.
    search_name: str = Field(default="", max_length=600)
    # Indexed: saving a customer looks for another one with the same number.
    registration_number: str = Field(default="", max_length=50, index=True)
    vat_number: str = Field(default="", max_length=50)
    email: str = Field(default="", max_length=254)
    cc_emails: str = Field(default="", max_length=1000)
    address: str = Field(default="", max_length=500)
    language: str = Field(default="en", max_length=2)
    # ISO 3166-1 alpha-2 country the customer is established in: a Latvian one's registration
    # number is checked with the Latvian checksum, and the e-invoice names it as the buyer's.
    country: str = Field(default="LV", max_length=2)
    # Peppol participant id (EAS scheme + id) e-invoices are addressed to; empty: derived
    # from the registration or VAT number (shared.einvoice.participants).
    peppol_scheme: str = Field(default="", max_length=4)
    peppol_id: str = Field(default="", max_length=50)
    sending_method: str = Field(default=SendingMethod.EMAIL, max_length=16)
    # Days from issue to due date; an invoice without a due date gets it from these.
    payment_terms_days: int = 14
    created_at: datetime = _ts(default_now=True)
    updated_at: datetime = _ts(default_now=True)


@event.listens_for(Customer, "before_insert")
@event.listens_for(Customer, "before_update")
def _fill_search_name(_mapper, _connection, customer: Customer) -> None:
    customer.search_name = search_key(customer.name)


class NumberSeries(SQLModel, table=True):
    """A numbering series of one document type ("invoice", "credit_note"): its prefix,
    format and whether it is the type's default; shared.numbering holds the rules."""

    __tablename__ = "number_series"
    __table_args__ = (
        # At most one default per document type.
        Index(
            "uq_number_series_default",
            "document_type",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    document_type: str = Field(max_length=20)
    prefix: str = Field(max_length=20, unique=True)
    yearly_reset: bool = True
    digits: int = 4
    is_default: bool = False
    active: bool = True
    created_at: datetime = _ts(default_now=True)


class InvoiceNumberSequence(SQLModel, table=True):
    """The counter of one series (its prefix) and year; year 0 for a series without a
    yearly reset."""

    __tablename__ = "invoice_number_sequence"
    __table_args__ = (UniqueConstraint("series", "year", name="uq_sequence_series_year"),)

    id: int | None = Field(default=None, primary_key=True)
    series: str = Field(max_length=20)
    year: int
    last_number: int = 0


class Invoice(SQLModel, table=True):
    __table_args__ = (
        Index("ix_invoice_status_due", "status", "due_date"),
        Index("ix_invoice_customer_status", "customer_id", "status"),
        Index("ix_invoice_issue_date_id", "issue_date", "id"),
        # The dashboard's invoice list: a status filter shown newest first, and the
        # sortable columns, each with the id as tie-breaker so pages never overlap.
        Index("ix_invoice_status_id", "status", "id"),
        Index("ix_invoice_due_date_id", "due_date", "id"),
        Index("ix_invoice_total_id", "total_minor", "id"),
        # Average days to pay over recently paid invoices.
        Index("ix_invoice_status_paid_at", "status", "paid_at"),
        # A status filter with an issue-date range (e.g. paid invoices of last year).
        Index("ix_invoice_status_issue_date", "status", "issue_date"),
        # The lost-payment watch reads only invoices whose pay link waits to be looked at.
        Index("ix_invoice_pay_link_opened", "pay_link_opened_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str | None = Field(default=None, max_length=40, unique=True)
    series: str = Field(default="INV", max_length=20)
    customer_id: int = Field(foreign_key="customer.id")
    channel_id: int | None = Field(default=None, foreign_key="payment_channel.id", index=True)
    currency: str = Field(default="EUR", max_length=3)
    issue_date: date | None = Field(default=None)
    # When the goods or services were supplied; documents print the issue date when empty.
    supply_date: date | None = Field(default=None)
    due_date: date | None = Field(default=None)
    # A non-EUR invoice's rate as currency units per 1 EUR ("1.0512": 1 EUR = 1.0512 USD),
    # up to 6 decimals; its documents state the VAT in EUR too. Empty for EUR invoices.
    eur_exchange_rate: str = Field(default="", max_length=20)
    status: str = Field(default=InvoiceStatus.DRAFT, max_length=16)
    subtotal_minor: int = _money()
    vat_minor: int = _money()
    total_minor: int = _money()
    # The invoice's ledger totals (shared.ledger keeps them, entry by entry):
    # open = total - paid - credited + returned. Below zero, the customer has paid more
    # than is owed here: that surplus is the customer's credit.
    paid_minor: int = _money()
    credited_minor: int = _money()
    returned_minor: int = _money()
    open_minor: int = _money(index=True)
    # Counts settled partial payments; the next pay link's order reference gets "-N+1".
    settled_payments: int = 0
    # The customer's link /i/{token} is a bearer credential: looked up by its SHA-256,
    # printed again (e-mails, reminders, "copy link") from its ciphertext.
    public_token_hash: str = Field(max_length=64, unique=True)
    public_token_encrypted: str = Field(sa_type=Text)
    notes: str = Field(default="", max_length=2000)
    cancellation_reason: str = Field(default="", max_length=500)
    reminders_enabled: bool = False
    created_by: str = Field(default="", max_length=64)
    issued_at: datetime | None = _ts()
    sent_at: datetime | None = _ts()
    paid_at: datetime | None = _ts()
    cancelled_at: datetime | None = _ts()
    created_at: datetime = _ts(default_now=True)
    updated_at: datetime = _ts(default_now=True)
    # The first opening of the pay link that the lost-payment watch has not looked at yet
    # (shared.callbacks.lost_payments); empty when there is nothing to watch.
    pay_link_opened_at: datetime | None = _ts()


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_line"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    position: int = 0
    description: str = Field(max_length=500)
    quantity: str = Field(max_length=32, description="Decimal as text, e.g. '1.5'")
    unit: str = Field(default="", max_length=16)
    unit_price_minor: int = Field(sa_type=MinorUnits)
    vat_rate: str = Field(default="0", max_length=8, description="Percent as text, e.g. '21'")
    # UNCL 5305 code (shared.vat): S, Z, E, AE, K or G; E names its exemption.
    vat_category: str = Field(default="S", max_length=2)
    vat_exemption_reason: str = Field(default="", max_length=300)
    vat_exemption_code: str = Field(default="", max_length=30)
    net_minor: int = _money()
    vat_minor: int = _money()
    gross_minor: int = _money()


class PaymentAttempt(SQLModel, table=True):
    """One EveryPay payment (one ``payment_reference``), as the API last described it."""

    __tablename__ = "payment_attempt"
    __table_args__ = (
        Index("ix_attempt_final_next_check", "is_final", "next_check_at"),
        # The payments table filtered by state, newest first, without sorting the matches.
        # Channel alone gets no index: one channel often holds every row, and SQLite would
        # still pick it over a selective one.
        Index("ix_attempt_state_created", "state", "created_at", "id"),
        # Money received per period: reports read booked attempts by transaction time,
        # covered so the grouping never visits the table.
        Index(
            "ix_attempt_transaction_time",
            "transaction_time",
            "booked_minor",
            "channel_id",
            "currency",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    payment_reference: str = Field(max_length=64, unique=True)
    channel_id: int = Field(foreign_key="payment_channel.id")
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    order_reference: str = Field(default="", max_length=120, index=True)
    state: str = Field(max_length=32)
    is_final: bool = False
    initial_amount_minor: int = _money()
    standing_amount_minor: int = _money()
    # What this attempt has in its invoice now: booked when settled, less what went back
    # (refund, chargeback); the ledger's entries for the attempt add up to it.
    booked_minor: int = _money()
    currency: str = Field(default="EUR", max_length=3)
    payment_method: str | None = Field(default=None, max_length=64)
    card_brand: str | None = Field(default=None, max_length=32)
    card_last4: str | None = Field(default=None, max_length=4)
    payer_name: str | None = Field(default=None, max_length=200)
    payer_email: str | None = Field(default=None, max_length=254)
    processing_error: str | None = Field(default=None, max_length=500)
    gateway_created_at: datetime | None = _ts()
    transaction_time: datetime | None = _ts()
    last_api_answer: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    last_checked_at: datetime | None = _ts()
    next_check_at: datetime | None = _ts()
    created_at: datetime = _ts(default_now=True, index=True)
    updated_at: datetime = _ts(default_now=True)
    # The EveryPay payout that brought this payment's money to the bank account
    # (shared.bank.payouts): empty until a bank statement shows it.
    in_bank_at: datetime | None = _ts()
    payout_id: int | None = Field(default=None, foreign_key="everypay_payout.id", index=True)


class PaymentStateChange(SQLModel, table=True):
    __tablename__ = "payment_state_change"

    id: int | None = Field(default=None, primary_key=True)
    attempt_id: int = Field(foreign_key="payment_attempt.id", index=True)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str = Field(max_length=32)
    source: str = Field(default="callback", max_length=32)
    changed_at: datetime = _ts(default_now=True)


class CallbackEvent(SQLModel, table=True):
    """The raw inbox: every callback as received, kept before anything is done with it."""

    __tablename__ = "callback_event"
    __table_args__ = (
        Index("ix_callback_status_next", "status", "next_attempt_at", "id"),
        # Duplicates of one payment are found by reference; with channel_id in the same
        # index SQLite never falls back to scanning a whole channel's callbacks.
        Index("ix_callback_reference_channel", "payment_reference", "channel_id"),
        Index("ix_callback_received", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int | None = Field(default=None, foreign_key="payment_channel.id")
    received_at: datetime = _ts(default_now=True)
    http_method: str = Field(default="GET", max_length=8)
    params: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    payment_reference: str | None = Field(default=None, max_length=64)
    order_reference: str | None = Field(default=None, max_length=120)
    event_name: str | None = Field(default=None, max_length=64)
    remote_addr: str | None = Field(default=None, max_length=64)
    # The X-Request-ID it was received under: the worker's log lines about it repeat it.
    request_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default=CallbackStatus.PENDING, max_length=20)
    attempts: int = 0
    next_attempt_at: datetime | None = _ts()
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = _ts()
    last_error: str | None = Field(default=None, max_length=1000)
    outcome: str | None = Field(default=None, max_length=1000)
    payment_attempt_id: int | None = Field(default=None, foreign_key="payment_attempt.id")
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    processed_at: datetime | None = _ts()
    # With received_at and processed_at: where the time between callback and booking went
    # (waiting for a worker, EveryPay's answer, the booking). Of the last try.
    claimed_at: datetime | None = _ts()
    answered_at: datetime | None = _ts()


class ReviewItem(SQLModel, table=True):
    """The exceptions queue: something a person must look at, with its reason."""

    __tablename__ = "review_item"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32, index=True)
    status: str = Field(default=ReviewStatus.OPEN, max_length=16, index=True)
    # One open item per cause: the same problem seen twice is not two problems.
    dedupe_key: str = Field(max_length=200, unique=True)
    reason: str = Field(max_length=1000)
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    payment_attempt_id: int | None = Field(default=None, foreign_key="payment_attempt.id")
    callback_event_id: int | None = Field(default=None, foreign_key="callback_event.id", index=True)
    channel_id: int | None = Field(default=None, foreign_key="payment_channel.id")
    amount_minor: int | None = Field(default=None, sa_type=MinorUnits)
    currency: str | None = Field(default=None, max_length=3)
    resolution: str = Field(default="", max_length=1000)
    resolved_by: str | None = Field(default=None, max_length=64)
    resolved_at: datetime | None = _ts()
    created_at: datetime = _ts(default_now=True)


class MessageLog(SQLModel, table=True):
    """Each sending of an invoice: e-mail, online link copied, PDF made, reminder."""

    __tablename__ = "message_log"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    channel: str = Field(max_length=16)
    recipients: str = Field(default="", max_length=2000)
    subject: str = Field(default="", max_length=500)
    status: str = Field(default=MessageStatus.QUEUED, max_length=16)
    error: str | None = Field(default=None, max_length=1000)
    attempts: int = 0
    # Reminders carry "reminder:<invoice>:<day>" so one day's reminder is sent once.
    dedupe_key: str | None = Field(default=None, max_length=100, unique=True)
    message_id: str | None = Field(default=None, max_length=255)
    # The e-mail carries the e-invoice XML next to the PDF; a retry attaches it again.
    einvoice_attached: bool = False
    raw_message: str | None = Field(default=None, sa_type=Text)
    sent_by: str = Field(default="", max_length=64)
    created_at: datetime = _ts(default_now=True)
    sent_at: datetime | None = _ts()


class FunnelEvent(SQLModel, table=True):
    """Steps of an invoice's payment funnel that no other table records (link opened)."""

    __tablename__ = "funnel_event"

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    step: str = Field(max_length=20)
    detail: str = Field(default="", max_length=500)
    at: datetime = _ts(default_now=True)


class AuditLog(SQLModel, table=True):
    """Append-only: who did what, when, with what outcome. Never holds a secret value."""

    __tablename__ = "audit_log"
    # An invoice's timeline reads the entries about it.
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(default_now=True, index=True)
    actor: str = Field(max_length=64, index=True)
    action: str = Field(max_length=64, index=True)
    entity_type: str = Field(default="", max_length=32)
    entity_id: str = Field(default="", max_length=64)
    outcome: str = Field(default="ok", max_length=32)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class WorkerHeartbeat(SQLModel, table=True):
    """One row per callback worker process: lets /health tell whether a worker is alive and
    /metrics what each has done."""

    __tablename__ = "worker_heartbeat"

    name: str = Field(primary_key=True, max_length=64)
    beat_at: datetime = _ts(default_now=True)
    detail: str = Field(default="", max_length=500)
    # What this worker process has done since it started (shared/callbacks/counters.py),
    # so /metrics in another process can report it.
    counters: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class ReconcilerRun(SQLModel, table=True):
    """One pass of the reconciler: what it re-checked, what changed and what failed, for
    the Reconciler panel on Callbacks. Only the latest runs are kept
    (shared.callbacks.reconciler.RUNS_KEPT); the changes themselves stay in
    payment_state_change and the audit log."""

    __tablename__ = "reconciler_run"

    id: int | None = Field(default=None, primary_key=True)
    started_at: datetime = _ts(default_now=True)
    finished_at: datetime = _ts(default_now=True)
    # "due": the timer's pass over payments whose next check has come; "all": every
    # unfinished payment (``linkpay-desk reconcile``).
    scope: str = Field(default="due", max_length=8)
    callbacks_processed: int = 0
    payments_checked: int = 0
    changed_count: int = 0
    problem_count: int = 0
    lost_flagged: int = 0
    lost_resolved: int = 0
    # The report's own lines, the first few of each kind.
    changes: list[str] = Field(default_factory=list, sa_type=JSON)
    problems: list[str] = Field(default_factory=list, sa_type=JSON)


class BankStatementFile(SQLModel, table=True):
    """An imported statement file, kept byte for byte: the evidence behind its entries."""

    __tablename__ = "bank_statement_file"

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True)
    filename: str = Field(max_length=255)
    message: str = Field(max_length=40, description="camt.053.001.02, FiDAViSta 1.01, …")
    size_bytes: int
    content: bytes = Field(sa_type=LargeBinary)
    imported_by: str = Field(max_length=64)
    imported_at: datetime = _ts(default_now=True)


class BankStatement(SQLModel, table=True):
    """One account's statement (or camt.054 notification) for one currency and period.

    Balances are 64-bit minor units: an account's balance may pass 21 million euros.
    """

    __tablename__ = "bank_statement"
    __table_args__ = (
        UniqueConstraint(
            "bank_account_id", "currency", "statement_id", name="uq_bank_statement_account_id"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    bank_account_id: int = Field(foreign_key="bank_account.id")
    file_id: int = Field(foreign_key="bank_statement_file.id", index=True)
    message: str = Field(max_length=40)
    statement_id: str = Field(max_length=140, description="the bank's id of the statement")
    currency: str = Field(max_length=3)
    period_start: date | None = None
    period_end: date | None = None
    opening_balance_minor: int | None = Field(default=None, sa_type=BigInteger)
    closing_balance_minor: int | None = Field(default=None, sa_type=BigInteger)
    # Closing − (opening + booked entries): 0 when the statement adds up.
    balance_difference_minor: int | None = Field(default=None, sa_type=BigInteger)
    entry_count: int = 0
    not_booked_count: int = 0
    warnings: list[str] = Field(default_factory=list, sa_type=JSON)
    imported_at: datetime = _ts(default_now=True)


class BankStatementEntry(SQLModel, table=True):
    """One booking on a company account, once, whatever the number of files showing it.

    ``dedupe_key`` is derived from the bank's own reference (``shared.bank.model``); the
    unique key per account is what keeps a re-import or an overlapping statement from
    adding the same money twice, also when two imports run at once.
    """

    __tablename__ = "bank_statement_entry"
    __table_args__ = (
        UniqueConstraint("bank_account_id", "dedupe_key", name="uq_bank_entry_account_key"),
        Index("ix_bank_entry_account_booking", "bank_account_id", "booking_date", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    bank_account_id: int = Field(foreign_key="bank_account.id")
    statement_id: int = Field(foreign_key="bank_statement.id", index=True)
    dedupe_key: str = Field(max_length=64)
    bank_reference: str = Field(default="", max_length=140)
    amount_minor: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    direction: str = Field(max_length=6, description="credit or debit")
    booking_date: date | None = None
    value_date: date | None = None
    reversal: bool = False
    bank_transaction_code: str = Field(default="", max_length=40)
    batch_reference: str = Field(default="", max_length=140)
    batch_size: int | None = None
    created_at: datetime = _ts(default_now=True)


class BankStatementTransaction(SQLModel, table=True):
    """The details behind an entry: one for a plain transfer, several for a batch.

    Each is matched to invoices once (``shared.bank.matching``): ``match_state`` moves
    only by a conditional UPDATE from the state its mover expects, so two matchers or two
    clicks racing on it book it once. ``received_payment_id`` is the booking it made."""

    __tablename__ = "bank_statement_transaction"
    __table_args__ = (
        UniqueConstraint("entry_id", "position", name="uq_bank_transaction_entry_position"),
        Index("ix_bank_transaction_match_state", "match_state", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="bank_statement_entry.id")
    position: int
    amount_minor: int = Field(sa_type=BigInteger)
    counterparty_name: str = Field(default="", max_length=200)
    counterparty_iban: str = Field(default="", max_length=34, index=True)
    counterparty_bic: str = Field(default="", max_length=11)
    creditor_reference: str = Field(default="", max_length=35, index=True)
    remittance_text: str = Field(default="", sa_type=Text)
    additional_info: str = Field(default="", sa_type=Text)
    bank_reference: str = Field(default="", max_length=140)
    end_to_end_id: str = Field(default="", max_length=140)
    transaction_id: str = Field(default="", max_length=140)
    original_amount_minor: int | None = Field(default=None, sa_type=BigInteger)
    original_currency: str = Field(default="", max_length=3)
    match_state: str = Field(default=MatchState.NEW, max_length=16)
    # Why it stands where it stands, as the statements page shows it; for "not a customer
    # payment" the note finance wrote.
    match_reason: str = Field(default="", max_length=500)
    # A suggestion (or the booking made): whose money, and [invoice id, minor] shares.
    match_customer_id: int | None = Field(default=None, foreign_key="customer.id")
    match_allocations: list[list[int]] = Field(default_factory=list, sa_type=JSON)
    received_payment_id: int | None = Field(
        default=None, foreign_key="received_payment.id", index=True
    )
    matched_by: str = Field(default="", max_length=64)
    matched_at: datetime | None = _ts()


class LedgerEntryKind(StrEnum):
    """How an entry moves an invoice's open balance."""

    PAYMENT = "payment"  # money received (negative: a booking taken back by finance)
    CREDIT_NOTE = "credit_note"  # the amount is no longer owed
    MONEY_BACK = "money_back"  # money paid back to the customer: refund, chargeback


class LedgerSource(StrEnum):
    LINKPAY = "linkpay"
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    SET_OFF = "set_off"
    BANK_STATEMENT = "bank_statement"
    CUSTOMER_CREDIT = "customer_credit"  # credit moved from one invoice to another
    CREDIT_NOTE = "credit_note"
    REFUND = "refund"
    CHARGEBACK = "chargeback"
    REVERSAL = "reversal"


class CreditNoteStatus(StrEnum):
    # A credit note is issued with its number and never changed or deleted afterwards; a
    # mistaken one is corrected by invoicing again.
    ISSUED = "issued"


class CreditNote(SQLModel, table=True):
    """Says that part (or all) of an invoice is no longer owed: its own gapless series
    ("KR-2026-0001"), lines with VAT like the invoice's, one ledger entry. The customer
    sees it on the invoice's public page, whose link already reaches them, so it has no
    link of its own."""

    __tablename__ = "credit_note"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=40, unique=True)
    series: str = Field(default="KR", max_length=20)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    currency: str = Field(max_length=3)
    # Indexed: the sales ledger and VAT summary read credit notes by issue date.
    issue_date: date = Field(index=True)
    reason: str = Field(max_length=500)
    subtotal_minor: int = _money()
    vat_minor: int = _money()
    total_minor: int = _money()
    status: str = Field(default=CreditNoteStatus.ISSUED, max_length=16)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = _ts(default_now=True)


class CreditNoteLine(SQLModel, table=True):
    __tablename__ = "credit_note_line"

    id: int | None = Field(default=None, primary_key=True)
    credit_note_id: int = Field(foreign_key="credit_note.id", index=True)
    position: int = 0
    description: str = Field(max_length=500)
    quantity: str = Field(max_length=32, description="Decimal as text, e.g. '1.5'")
    unit: str = Field(default="", max_length=16)
    unit_price_minor: int = Field(sa_type=MinorUnits)
    vat_rate: str = Field(default="0", max_length=8, description="Percent as text, e.g. '21'")
    # UNCL 5305 code (shared.vat): S, Z, E, AE, K or G; E names its exemption.
    vat_category: str = Field(default="S", max_length=2)
    vat_exemption_reason: str = Field(default="", max_length=300)
    vat_exemption_code: str = Field(default="", max_length=30)
    net_minor: int = _money()
    vat_minor: int = _money()
    gross_minor: int = _money()


class ReceivedPayment(SQLModel, table=True):
    """Money received outside LinkPay (bank transfer, cash, set-off), as finance recorded
    it; its allocations to invoices are ledger entries."""

    __tablename__ = "received_payment"

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    method: str = Field(max_length=32)
    received_on: date
    amount_minor: int = _money()
    currency: str = Field(default="EUR", max_length=3)
    payer: str = Field(default="", max_length=200)
    bank_reference: str = Field(default="", max_length=140)
    note: str = Field(default="", max_length=1000)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = _ts(default_now=True, index=True)
    reversed_at: datetime | None = _ts()
    reversed_by: str | None = Field(default=None, max_length=64)
    reversal_reason: str = Field(default="", max_length=500)


class LedgerEntry(SQLModel, table=True):
    """One movement of an invoice's open balance. Written only by shared.ledger.posting,
    never changed: a correction is a new entry. ``entry_key`` is the exactly-once guard:
    the same movement seen twice (a duplicate callback, a double click) has the same key."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        Index("ix_ledger_customer_booked", "customer_id", "booked_at", "id"),
        Index("ix_ledger_invoice_id", "invoice_id", "id"),
        # Money received per day: the reports read payment entries by value date.
        Index("ix_ledger_value_date", "value_date", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_key: str = Field(max_length=160, unique=True)
    invoice_id: int = Field(foreign_key="invoice.id")
    customer_id: int = Field(foreign_key="customer.id")
    kind: str = Field(max_length=16)
    source: str = Field(max_length=24)
    amount_minor: int = Field(sa_type=MinorUnits)
    currency: str = Field(max_length=3)
    value_date: date
    payment_attempt_id: int | None = Field(
        default=None, foreign_key="payment_attempt.id", index=True
    )
    received_payment_id: int | None = Field(
        default=None, foreign_key="received_payment.id", index=True
    )
    reverses_entry_id: int | None = Field(default=None, foreign_key="ledger_entry.id")
    credit_note_id: int | None = Field(default=None, foreign_key="credit_note.id", index=True)
    reference: str = Field(default="", max_length=140)
    note: str = Field(default="", max_length=500)
    actor: str = Field(default="", max_length=64)
    booked_at: datetime = _ts(default_now=True)


class PayoutStatus(StrEnum):
    EXPLAINED = "explained"  # the covered payments less the fee make exactly the payout
    DIFFERENCE = "difference"  # they do not: an exception holds the difference


class EveryPayPayout(SQLModel, table=True):
    """An EveryPay payout found on a bank statement, with the payments it was explained
    by (``PaymentAttempt.payout_id``). One per statement transaction: the unique key is
    what makes explaining a statement twice, or two imports at once, add nothing twice."""

    __tablename__ = "everypay_payout"

    id: int | None = Field(default=None, primary_key=True)
    statement_transaction_id: int = Field(foreign_key="bank_statement_transaction.id", unique=True)
    bank_account_id: int = Field(foreign_key="bank_account.id", index=True)
    channel_id: int | None = Field(default=None, foreign_key="payment_channel.id", index=True)
    currency: str = Field(max_length=3)
    value_date: date | None = None
    reference: str = Field(default="", max_length=500)
    status: str = Field(max_length=16)
    # net: the credit on the statement; gross: the covered payments' standing amounts;
    # fee: gross - net when explained, else the fee the channel's terms expect.
    net_minor: int = _money()
    gross_minor: int = _money()
    fee_minor: int = _money()
    # net - (gross - fee): above zero, money from payments LinkPay Desk never heard of.
    difference_minor: int = Field(default=0, sa_type=MinorUnits)
    payment_count: int = 0
    # payment_attempt → everypay_payout → review_item → payment_attempt is a cycle; marking
    # this edge lets create_all/drop_all order the tables (SQLite still declares it inline).
    review_item_id: int | None = Field(
        default=None,
        sa_column_args=(ForeignKey("review_item.id", use_alter=True),),
    )
    created_at: datetime = _ts(default_now=True)
