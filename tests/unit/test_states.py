"""The one table of states: each enum split into groups with nothing left over, every value
labelled in English and Latvian with a badge colour, EveryPay's spellings read right."""

from decimal import Decimal

import pytest

from dashboard import ui
from shared import states
from shared.linkpay.client import MalformedAnswer, parse_payment
from shared.states import (
    CallbackStatus,
    Group,
    InvoiceStatus,
    MatchState,
    PaymentState,
    ReviewKind,
    ReviewStatus,
    payment_group,
    payment_state_from_gateway,
)

# Written out a second time on purpose: moving a state to another group changes what
# happens to money, and must be a decision seen in this file too.
EXPECTED_GROUPS = {
    InvoiceStatus: {
        Group.DRAFT: {"draft"},
        Group.OPEN: {"issued", "sent", "partially_paid"},
        Group.PAID: {"paid", "credited"},
        Group.CANCELLED: {"cancelled"},
    },
    PaymentState: {
        Group.PENDING: {
            "initial",
            "waiting_for_sca",
            "waiting_for_3ds_response",
            "sent_for_processing",
            "authorised",
        },
        Group.NEEDS_A_PERSON: {"confirmed_3ds"},
        Group.UNSUCCESSFUL: {"failed", "abandoned", "voided"},
        Group.MONEY_STAYS: {"settled", "refunded"},
        Group.MONEY_BACK: {"chargebacked"},
    },
    CallbackStatus: {
        Group.PENDING: {"pending", "processing"},
        Group.FINISHED: {"done", "not_ours", "rejected"},
        Group.NEEDS_A_PERSON: {"needs_attention"},
    },
    ReviewKind: {
        Group.MONEY_UNBOOKED: {
            "amount_mismatch",
            "currency_mismatch",
            "paid_not_booked",
            "payout_difference",
        },
        Group.CUSTOMER_CREDIT: {"overpayment"},
        Group.MONEY_BACK: {"chargeback", "refund"},
        Group.UNCLEAR: {"stuck_pending", "unverified_callback", "unknown_state", "lost_payment"},
        Group.NOT_OURS: {"not_ours"},
    },
    ReviewStatus: {
        Group.NEEDS_A_PERSON: {"open"},
        Group.FINISHED: {"resolved"},
    },
    MatchState: {
        Group.PENDING: {"new"},
        Group.FINISHED: {"booked_auto", "booked_manual", "payout", "reversed"},
        Group.NEEDS_A_PERSON: {"suggested", "unmatched"},
        Group.NOT_OURS: {"not_customer", "outgoing"},
    },
}
TABLES = {
    InvoiceStatus: states.INVOICE_STATUSES,
    PaymentState: states.PAYMENT_STATES,
    CallbackStatus: states.CALLBACK_STATUSES,
    ReviewKind: states.REVIEW_KINDS,
    ReviewStatus: states.REVIEW_STATUSES,
    MatchState: states.MATCH_STATES,
}


@pytest.mark.parametrize("enum", list(TABLES), ids=lambda enum: enum.__name__)
def test_the_groups_partition_each_enum(enum: type) -> None:
    table = TABLES[enum]
    assert set(table) == {member.value for member in enum}, "a value without its entry"
    found = {group: set(states.in_group(table, group)) for group in Group}
    assert {group: values for group, values in found.items() if values} == EXPECTED_GROUPS[enum]


def test_the_named_groups_code_decides_by() -> None:
    assert set(states.OPEN_STATUSES) == {"issued", "sent", "partially_paid"}
    assert set(states.PENDING_PAYMENT_STATES) == EXPECTED_GROUPS[PaymentState][Group.PENDING]
    assert set(states.UNSUCCESSFUL_PAYMENT_STATES) == {"failed", "abandoned", "voided"}
    assert set(states.FINISHED_CALLBACK_STATUSES) == {"done", "not_ours", "rejected"}
    # Final: EveryPay will not change it by itself. Never a pending state, never one that
    # still needs a person or may change with a dispute.
    final = {"settled", "failed", "abandoned", "voided", "refunded"}
    assert set(states.FINAL_PAYMENT_STATES) == final


@pytest.mark.parametrize("table", [states.SHOWN_INVOICE_STATUSES, *TABLES.values()])
def test_every_value_has_both_labels_and_a_colour_the_dashboard_can_paint(table: dict) -> None:
    for value, info in table.items():
        assert info.en.strip() and info.lv.strip(), value
        assert info.colour in states.BADGE_COLOURS, value
        assert info.colour in ui._CELL_COLORS, value


def test_the_english_labels_are_the_ones_the_screens_show() -> None:
    assert states.INVOICE_STATUS_LABELS == {
        "draft": "Draft",
        "issued": "Issued",
        "sent": "Sent",
        "partially_paid": "Partially paid",
        "paid": "Paid",
        "credited": "Credited",
        "cancelled": "Cancelled",
        "overdue": "Overdue",
    }
    assert states.PAYMENT_STATE_LABELS["chargebacked"] == "Charged back"
    assert states.PAYMENT_STATE_LABELS["waiting_for_3ds_response"] == "Waiting for 3DS"
    assert states.REVIEW_KIND_LABELS["paid_not_booked"] == "Paid at EveryPay, not in the books"
    assert states.REVIEW_STATUS_LABELS == {"open": "Open", "resolved": "Resolved"}


def test_latvian_labels_keep_their_diacritics() -> None:
    assert states.labels(states.SHOWN_INVOICE_STATUSES, language="lv") == {
        "draft": "Melnraksts",
        "issued": "Izrakstīts",
        "sent": "Nosūtīts",
        "partially_paid": "Daļēji apmaksāts",
        "paid": "Apmaksāts",
        "credited": "Kreditēts",
        "cancelled": "Atcelts",
        "overdue": "Kavēts",
    }


def test_no_label_stands_for_two_colours() -> None:
    """Table cells hold labels, so a label shared by two states must share their colour."""
    seen: dict[str, set[str]] = {}
    for table in (states.SHOWN_INVOICE_STATUSES, *TABLES.values()):
        for info in table.values():
            for label in (info.en, info.lv):
                seen.setdefault(label, set()).add(info.colour)
    assert {label: colours for label, colours in seen.items() if len(colours) > 1} == {}
    assert ui.STATUS_COLORS["Overdue"] == "red"
    assert ui.STATUS_COLORS["Settled"] == "green"
    assert ui.STATUS_COLORS["Kavēts"] == "red"


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("settled", "settled"),
        (" SETTLED ", "settled"),
        ("charged_back", "chargebacked"),
        ("Charged_Back", "chargebacked"),
        ("3ds_confirmed", "confirmed_3ds"),
        ("3DS_CONFIRMED\n", "confirmed_3ds"),
        ("chargebacked", "chargebacked"),
        ("partially_settled", "partially_settled"),
        (" Partially_Settled ", "Partially_Settled"),
    ],
)
def test_gateway_spellings_are_read_as_the_documented_states(sent: str, read: str) -> None:
    assert payment_state_from_gateway(sent) == read


def test_a_state_nobody_knows_has_no_group() -> None:
    assert payment_group("partially_settled") is None
    assert payment_group("settled") == Group.MONEY_STAYS
    assert payment_group("chargebacked") == Group.MONEY_BACK


def _body(state: object) -> dict:
    return {
        "payment_reference": "ref-1",
        "order_reference": "INV-1",
        "api_username": "user",
        "payment_state": state,
        "initial_amount": "10.00",
    }


def test_the_client_passes_a_new_state_on_and_reads_aliases() -> None:
    fresh = parse_payment(_body("partially_settled"), default_currency="EUR")
    assert (fresh.payment_state, fresh.is_final) == ("partially_settled", False)
    alias = parse_payment(_body("3ds_confirmed"), default_currency="EUR")
    assert (alias.payment_state, alias.initial_amount) == ("confirmed_3ds", Decimal("10.00"))
    assert parse_payment(_body("REFUNDED"), default_currency="EUR").is_final


@pytest.mark.parametrize("garbled", ["", "   ", "settled; drop", "x" * 33, "stāvoklis"])
def test_the_client_refuses_what_is_not_a_state_name(garbled: str) -> None:
    """Not a state EveryPay added but a garbled answer: retried, and never stored cut."""
    with pytest.raises(MalformedAnswer):
        parse_payment(_body(garbled), default_currency="EUR")
