"""Every status and state LinkPay Desk stores, each with its group, labels and badge colour.

The values are what the database holds: they never change. Code decides by group ("is this
payment still pending?"), so a state added here is handled everywhere it should be, and
the groups of each enum partition it (tests/unit/test_states.py). Labels come in English,
which the finance team's screens show today, and Latvian, for the Latvian screens.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    ISSUED = "issued"
    SENT = "sent"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    # Settled by credit notes for its whole total; closed like a paid invoice.
    CREDITED = "credited"
    CANCELLED = "cancelled"


# Shown, never stored: an open invoice past its due date (invoicing.is_overdue).
OVERDUE = "overdue"


class PaymentState(StrEnum):
    """EveryPay's ``payment_state``, as its API v4 documents it."""

    INITIAL = "initial"
    WAITING_FOR_SCA = "waiting_for_sca"
    WAITING_FOR_3DS = "waiting_for_3ds_response"
    CONFIRMED_3DS = "confirmed_3ds"
    SENT_FOR_PROCESSING = "sent_for_processing"
    AUTHORISED = "authorised"
    SETTLED = "settled"
    FAILED = "failed"
    ABANDONED = "abandoned"
    VOIDED = "voided"
    REFUNDED = "refunded"
    CHARGEBACKED = "chargebacked"


class CallbackStatus(StrEnum):
    PENDING = "pending"  # waiting for (another) try
    PROCESSING = "processing"  # claimed by a worker under a lease
    DONE = "done"  # applied (whatever the payment's state was)
    NOT_OURS = "not_ours"  # authentic API answer about a payment that is not ours
    REJECTED = "rejected"  # bad input, never sent to the API
    NEEDS_ATTENTION = "needs_attention"  # retries exhausted; a person must look


class ReviewKind(StrEnum):
    AMOUNT_MISMATCH = "amount_mismatch"
    CURRENCY_MISMATCH = "currency_mismatch"
    OVERPAYMENT = "overpayment"
    CHARGEBACK = "chargeback"
    REFUND = "refund"
    STUCK_PENDING = "stuck_pending"
    UNVERIFIED_CALLBACK = "unverified_callback"
    NOT_OURS = "not_ours"
    PAID_NOT_BOOKED = "paid_not_booked"
    UNKNOWN_STATE = "unknown_state"
    LOST_PAYMENT = "lost_payment"
    # An EveryPay payout on the bank statement that the known settled payments, less the
    # fee, do not add up to (shared.bank.payouts).
    PAYOUT_DIFFERENCE = "payout_difference"


class ReviewStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class MatchState(StrEnum):
    """Where a bank-statement transaction stands against the invoices (shared.bank.matching)."""

    NEW = "new"  # imported, not matched yet
    BOOKED_AUTO = "booked_auto"  # an exact match, booked by the matcher
    BOOKED_MANUAL = "booked_manual"  # booked by a person: a suggestion accepted, a manual match
    SUGGESTED = "suggested"  # a probable match waiting for one click
    UNMATCHED = "unmatched"  # nothing found: a person matches it or sets it aside
    NOT_CUSTOMER = "not_customer"  # a person said it is not a customer payment, with a note
    PAYOUT = "payout"  # EveryPay paying settled LinkPay money out: the payout match explains it
    OUTGOING = "outgoing"  # money going out that is not a customer's credit paid back
    REVERSED = "reversed"  # a bank reversal and the booking it cancels: nothing is booked


class Group(StrEnum):
    # Invoices
    DRAFT = "draft"
    OPEN = "open"  # issued and not fully paid: the customer owes money
    PAID = "paid"  # nothing left to pay: paid, or settled by credit notes
    CANCELLED = "cancelled"
    # Payments; callbacks and exceptions use the ones that fit them
    PENDING = "pending"  # may still become paid; the reconciler asks again
    NEEDS_A_PERSON = "needs_a_person"  # will not move on by itself
    UNSUCCESSFUL = "unsuccessful"  # no money was taken
    MONEY_STAYS = "money_stays"  # the standing amount stays paid (refunded: what is left)
    MONEY_BACK = "money_back"  # money received and then taken back
    FINISHED = "finished"  # nothing left to do
    # Exceptions
    MONEY_UNBOOKED = "money_unbooked"  # money received that is not in the books
    CUSTOMER_CREDIT = "customer_credit"  # booked, and more than was owed: the customer's credit
    UNCLEAR = "unclear"  # what happened to a payment is not known yet
    NOT_OURS = "not_ours"


# Streamlit's badge colours that dashboard/ui.py can also paint a table cell with.
BADGE_COLOURS = ("gray", "blue", "orange", "green", "red", "violet")


@dataclass(frozen=True)
class StateInfo:
    group: Group
    en: str
    lv: str
    colour: str


INVOICE_STATUSES: dict[str, StateInfo] = {
    InvoiceStatus.DRAFT: StateInfo(Group.DRAFT, "Draft", "Melnraksts", "gray"),
    InvoiceStatus.ISSUED: StateInfo(Group.OPEN, "Issued", "Izrakstīts", "blue"),
    InvoiceStatus.SENT: StateInfo(Group.OPEN, "Sent", "Nosūtīts", "blue"),
    InvoiceStatus.PARTIALLY_PAID: StateInfo(
        Group.OPEN, "Partially paid", "Daļēji apmaksāts", "orange"
    ),
    InvoiceStatus.PAID: StateInfo(Group.PAID, "Paid", "Apmaksāts", "green"),
    InvoiceStatus.CREDITED: StateInfo(Group.PAID, "Credited", "Kreditēts", "violet"),
    InvoiceStatus.CANCELLED: StateInfo(Group.CANCELLED, "Cancelled", "Atcelts", "gray"),
}
# What the invoice lists show: the stored statuses and the derived "overdue".
SHOWN_INVOICE_STATUSES: dict[str, StateInfo] = {
    **INVOICE_STATUSES,
    OVERDUE: StateInfo(Group.OPEN, "Overdue", "Kavēts", "red"),
}

PAYMENT_STATES: dict[str, StateInfo] = {
    PaymentState.INITIAL: StateInfo(Group.PENDING, "Initial", "Sākts", "blue"),
    PaymentState.WAITING_FOR_SCA: StateInfo(Group.PENDING, "Waiting for SCA", "Gaida SCA", "blue"),
    PaymentState.WAITING_FOR_3DS: StateInfo(Group.PENDING, "Waiting for 3DS", "Gaida 3DS", "blue"),
    PaymentState.CONFIRMED_3DS: StateInfo(
        Group.NEEDS_A_PERSON, "3DS confirmed", "3DS apstiprināts", "orange"
    ),
    PaymentState.SENT_FOR_PROCESSING: StateInfo(
        Group.PENDING, "Sent for processing", "Nosūtīts apstrādei", "blue"
    ),
    PaymentState.AUTHORISED: StateInfo(Group.PENDING, "Authorised", "Autorizēts", "blue"),
    PaymentState.SETTLED: StateInfo(Group.MONEY_STAYS, "Settled", "Norēķināts", "green"),
    PaymentState.FAILED: StateInfo(Group.UNSUCCESSFUL, "Failed", "Neizdevās", "red"),
    PaymentState.ABANDONED: StateInfo(Group.UNSUCCESSFUL, "Abandoned", "Pārtraukts", "gray"),
    PaymentState.VOIDED: StateInfo(Group.UNSUCCESSFUL, "Voided", "Anulēts", "gray"),
    PaymentState.REFUNDED: StateInfo(Group.MONEY_STAYS, "Refunded", "Atmaksāts", "violet"),
    PaymentState.CHARGEBACKED: StateInfo(Group.MONEY_BACK, "Charged back", "Apstrīdēts", "red"),
}

CALLBACK_STATUSES: dict[str, StateInfo] = {
    CallbackStatus.PENDING: StateInfo(Group.PENDING, "Waiting", "Gaida", "blue"),
    CallbackStatus.PROCESSING: StateInfo(Group.PENDING, "Processing", "Apstrādē", "blue"),
    CallbackStatus.DONE: StateInfo(Group.FINISHED, "Done", "Apstrādāts", "green"),
    CallbackStatus.NOT_OURS: StateInfo(Group.FINISHED, "Not ours", "Nav mūsu", "gray"),
    CallbackStatus.REJECTED: StateInfo(Group.FINISHED, "Rejected", "Noraidīts", "gray"),
    CallbackStatus.NEEDS_ATTENTION: StateInfo(
        Group.NEEDS_A_PERSON, "Needs attention", "Jāpārbauda", "orange"
    ),
}

REVIEW_KINDS: dict[str, StateInfo] = {
    ReviewKind.AMOUNT_MISMATCH: StateInfo(
        Group.MONEY_UNBOOKED, "Amount mismatch", "Summa nesakrīt", "orange"
    ),
    ReviewKind.CURRENCY_MISMATCH: StateInfo(
        Group.MONEY_UNBOOKED, "Currency mismatch", "Valūta nesakrīt", "orange"
    ),
    ReviewKind.OVERPAYMENT: StateInfo(Group.CUSTOMER_CREDIT, "Overpayment", "Pārmaksa", "orange"),
    ReviewKind.CHARGEBACK: StateInfo(Group.MONEY_BACK, "Chargeback", "Apstrīdēts maksājums", "red"),
    ReviewKind.REFUND: StateInfo(Group.MONEY_BACK, "Refund", "Atmaksa", "violet"),
    ReviewKind.STUCK_PENDING: StateInfo(
        Group.UNCLEAR, "Stuck pending", "Iestrēdzis maksājums", "orange"
    ),
    ReviewKind.UNVERIFIED_CALLBACK: StateInfo(
        Group.UNCLEAR, "Callback not verified", "Paziņojums nav pārbaudīts", "orange"
    ),
    ReviewKind.NOT_OURS: StateInfo(Group.NOT_OURS, "Not our payment", "Nav mūsu maksājums", "gray"),
    ReviewKind.PAID_NOT_BOOKED: StateInfo(
        Group.MONEY_UNBOOKED,
        "Paid at EveryPay, not in the books",
        "Samaksāts EveryPay, nav grāmatots",
        "orange",
    ),
    ReviewKind.UNKNOWN_STATE: StateInfo(
        Group.UNCLEAR, "Unknown payment state", "Nezināms maksājuma statuss", "orange"
    ),
    ReviewKind.LOST_PAYMENT: StateInfo(
        Group.UNCLEAR, "Lost payment?", "Pazudis maksājums?", "orange"
    ),
    ReviewKind.PAYOUT_DIFFERENCE: StateInfo(
        Group.MONEY_UNBOOKED, "Payout difference", "Izmaksas starpība", "orange"
    ),
}

# A payment finance recorded by hand (shared.ledger.received): standing, or taken back off
# its invoices. Not stored as a status: derived from the payment's reversal.
RECEIVED_PAYMENT_STATES: dict[str, StateInfo] = {
    "received": StateInfo(Group.MONEY_STAYS, "Received", "Saņemts", "green"),
    "reversed": StateInfo(Group.MONEY_BACK, "Reversed", "Stornēts", "gray"),
}

MATCH_STATES: dict[str, StateInfo] = {
    MatchState.NEW: StateInfo(Group.PENDING, "Not matched yet", "Vēl nav salīdzināts", "blue"),
    MatchState.BOOKED_AUTO: StateInfo(
        Group.FINISHED, "Booked automatically", "Grāmatots automātiski", "green"
    ),
    MatchState.BOOKED_MANUAL: StateInfo(
        Group.FINISHED, "Booked by hand", "Grāmatots manuāli", "green"
    ),
    MatchState.SUGGESTED: StateInfo(
        Group.NEEDS_A_PERSON, "Suggested match", "Ieteikta sasaiste", "orange"
    ),
    MatchState.UNMATCHED: StateInfo(Group.NEEDS_A_PERSON, "Unmatched", "Nav sasaistīts", "red"),
    MatchState.NOT_CUSTOMER: StateInfo(
        Group.NOT_OURS, "Not a customer payment", "Nav klienta maksājums", "gray"
    ),
    MatchState.PAYOUT: StateInfo(Group.FINISHED, "EveryPay payout", "EveryPay izmaksa", "violet"),
    MatchState.OUTGOING: StateInfo(Group.NOT_OURS, "Outgoing payment", "Izejošs maksājums", "gray"),
    MatchState.REVERSED: StateInfo(
        Group.FINISHED, "Reversed by the bank", "Bankas stornēts", "gray"
    ),
}

REVIEW_STATUSES: dict[str, StateInfo] = {
    ReviewStatus.OPEN: StateInfo(Group.NEEDS_A_PERSON, "Open", "Atvērts", "orange"),
    ReviewStatus.RESOLVED: StateInfo(Group.FINISHED, "Resolved", "Atrisināts", "green"),
}


def in_group(table: Mapping[str, StateInfo], group: Group) -> tuple[str, ...]:
    """The values of ``table`` in ``group``, in the table's order."""
    return tuple(value for value, info in table.items() if info.group == group)


def labels(table: Mapping[str, StateInfo], *, language: str = "en") -> dict[str, str]:
    return {value: info.lv if language == "lv" else info.en for value, info in table.items()}


OPEN_STATUSES = in_group(INVOICE_STATUSES, Group.OPEN)
RECEIVED_STATE_LABELS = labels(RECEIVED_PAYMENT_STATES)
PENDING_PAYMENT_STATES = in_group(PAYMENT_STATES, Group.PENDING)
UNSUCCESSFUL_PAYMENT_STATES = in_group(PAYMENT_STATES, Group.UNSUCCESSFUL)
FINISHED_CALLBACK_STATUSES = in_group(CALLBACK_STATUSES, Group.FINISHED)
# States EveryPay will not change by itself, so the reconciler stops asking. Not a group:
# chargebacked may still change with dispute events, confirmed_3ds needs a person, and a
# state this table does not know is asked about again until it becomes one it knows.
FINAL_PAYMENT_STATES = frozenset(
    {
        PaymentState.SETTLED,
        PaymentState.FAILED,
        PaymentState.ABANDONED,
        PaymentState.VOIDED,
        PaymentState.REFUNDED,
    }
)

INVOICE_STATUS_LABELS = labels(SHOWN_INVOICE_STATUSES)
PAYMENT_STATE_LABELS = labels(PAYMENT_STATES)
CALLBACK_STATUS_LABELS = labels(CALLBACK_STATUSES)
REVIEW_KIND_LABELS = labels(REVIEW_KINDS)
REVIEW_STATUS_LABELS = labels(REVIEW_STATUSES)
MATCH_STATE_LABELS = labels(MATCH_STATES)


def payment_group(state: str) -> Group | None:
    """The group of a stored payment state; None for a state EveryPay added that this
    table does not know yet, which nobody may treat as paid or as failed."""
    info = PAYMENT_STATES.get(state)
    return info.group if info else None


# Spellings seen in public EveryPay integrations besides the ones the API documents.
GATEWAY_ALIASES = {
    "charged_back": PaymentState.CHARGEBACKED,
    "3ds_confirmed": PaymentState.CONFIRMED_3DS,
}


def payment_state_from_gateway(text: str) -> str:
    """The state to store for EveryPay's ``payment_state``: a known state or alias, read
    whatever its case and surrounding spaces; any other text as it came (trimmed), so that
    a state EveryPay adds tomorrow reaches a person instead of being refused forever."""
    cleaned = text.strip()
    key = cleaned.lower()
    if key in PAYMENT_STATES:
        return PaymentState(key)
    return GATEWAY_ALIASES.get(key, cleaned)


def badge_colours_by_label() -> dict[str, str]:
    """Every label of every state (English and Latvian) → its badge colour, for tables
    whose cells hold the label; tests/unit/test_states.py checks no label has two."""
    tables = (
        SHOWN_INVOICE_STATUSES,
        PAYMENT_STATES,
        CALLBACK_STATUSES,
        REVIEW_KINDS,
        REVIEW_STATUSES,
        RECEIVED_PAYMENT_STATES,
        MATCH_STATES,
    )
    return {
        label: info.colour
        for table in tables
        for info in table.values()
        for label in (info.en, info.lv)
    }
