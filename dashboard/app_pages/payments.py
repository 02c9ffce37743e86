"""Payments → Payments: every EveryPay payment attempt and every payment recorded by hand,
refreshed every few seconds; finance records and reverses payments received outside
LinkPay here."""

import streamlit as st

from dashboard import data, i18n, ui
from dashboard.i18n import date_input_format, t
from dashboard.payment_forms import record_payment_form
from shared.exports import with_totals
from shared.ledger.received import (
    METHOD_LABELS,
    SOURCE_LABELS,
    LedgerResult,
    reverse_received_payment,
)
from shared.models import PaymentState
from shared.money import from_minor
from shared.states import PAYMENT_STATE_LABELS, RECEIVED_STATE_LABELS
from shared.views.payments import (
    PAYMENT_COLUMNS,
    PAYMENT_SOURCES,
    PaymentFilter,
    PaymentOption,
    payment_rows,
    reversible_payments,
)

REFRESH_SECONDS = 3

user = ui.require("view")
tz = ui.tz()
st.title(t("Payments"))

ui.show_flash()


def _record_payment_section() -> None:
    with ui.lazy_expander(
        t("Record payment"), key="pay_record", icon=":material/add_card:"
    ) as opened:
        if opened:
            record_payment_form(key="rp", username=user.username, today=ui.today())


def _moved_text(result: LedgerResult) -> str:
    """What an action moved on which invoice (LedgerResult.describe in the reader's
    language)."""
    text = ", ".join(
        t(
            "{amount} on {number}",
            amount=ui.money(from_minor(booking.amount_minor, result.currency), result.currency),
            number=booking.number,
        )
        for booking in result.bookings
    )
    if result.credit_minor:
        credit = ui.money(from_minor(result.credit_minor, result.currency), result.currency)
        text += t(" ({amount} customer credit)", amount=credit)
    return text


def _payment_label(payment: PaymentOption) -> str:
    """Number, day, method, amount, customer and bank reference of a recorded payment."""
    return " · ".join(
        part
        for part in (
            f"#{payment.id}",
            i18n.date_text(payment.received_on),
            t(METHOD_LABELS.get(payment.method, payment.method)),
            ui.money(from_minor(payment.amount_minor, payment.currency), payment.currency),
            payment.customer,
            payment.bank_reference,
        )
        if part
    )


def _forget_reversal(_: LedgerResult) -> None:
    for name in ("payrev_reason", "payrev_confirm"):
        st.session_state.pop(name, None)


def _reverse_payment_section() -> None:
    with ui.lazy_expander(
        t("Reverse a recorded payment"), key="pay_reverse", icon=":material/undo:"
    ) as opened:
        if not opened:
            return
        search = st.text_input(
            t("Find payment"), key="payrev_find", placeholder=t("Customer or reference")
        )
        choices = {payment.id: _payment_label(payment) for payment in reversible_payments(search)}
        if not choices:
            st.caption(t("No recorded payment to reverse."))
            return
        payment_id = st.selectbox(
            t("Payment"), list(choices), format_func=choices.get, key="payrev_payment"
        )
        reason = st.text_input(t("Reason"), key="payrev_reason", placeholder=t("Why it was wrong"))
        confirm = st.checkbox(
            t("Take this payment back off its invoices (they ask for the money again)."),
            key="payrev_confirm",
        )
        if st.button(t("Reverse"), key="payrev_go", disabled=not confirm):
            ui.page_action(
                lambda session: reverse_received_payment(
                    session, actor=user.username, received_payment_id=payment_id, reason=reason
                ),
                permission="edit",
                action="payment.reverse",
                then=_forget_reversal,
                success=lambda result: t(
                    "Payment #{id} reversed: {what}.", id=payment_id, what=_moved_text(result)
                ),
            )


if user.can("edit"):
    _record_payment_section()
    _reverse_payment_section()

left, middle, right = st.columns(3)
states = left.multiselect(
    t("State"),
    [*(s.value for s in PaymentState), *RECEIVED_STATE_LABELS],
    format_func=lambda s: t(PAYMENT_STATE_LABELS.get(s) or RECEIVED_STATE_LABELS[s]),
    key="pay_state",
    placeholder=t("Choose options"),
)
channels = {c.id: c.label for c in data.channel_options()}
channel_id = middle.selectbox(
    t("Channel"),
    [None, *channels],
    format_func=lambda i: t("All channels") if i is None else channels[i],
    key="pay_channel",
)
reference = right.text_input(
    t("Invoice number or payment reference"), key="pay_reference", placeholder=t("INV-2026-…")
)
left, middle, right, live = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
date_from = left.date_input(
    t("Created from"), value=None, key="pay_from", format=date_input_format()
)
date_to = middle.date_input(t("Created to"), value=None, key="pay_to", format=date_input_format())
sources = right.multiselect(
    t("Source"),
    list(PAYMENT_SOURCES),
    format_func=lambda source: t(SOURCE_LABELS[source]),
    key="pay_source",
    placeholder=t("Choose options"),
)
auto = live.toggle(
    t("Live"),
    value=True,
    key="pay_live",
    help=t("Refresh every {seconds} s", seconds=REFRESH_SECONDS),
)

flt = PaymentFilter(
    states=tuple(states),
    channel_id=channel_id,
    date_from=date_from,
    date_to=date_to,
    reference=reference,
    sources=tuple(sources),
)
offset, limit = ui.paging("payments", flt)


@st.fragment(run_every=REFRESH_SECONDS if auto else None)
def payments_table() -> None:
    ui.follow_session()
    table = data.payment_page(flt, tz=tz, offset=offset, limit=limit)
    clicked = ui.show_table(
        table,
        key="payments_table",
        empty=t("No payments match these filters.")
        if flt != PaymentFilter()
        else t(
            "No payments yet — they appear here as soon as a customer pays through a pay "
            "link, or finance records a payment."
        ),
        badge_columns=("State",),
        label_columns=("Source", "Method"),
        clickable=True,
    )
    # A click on a payment opens its invoice; the lowest, "INV-2026-0007 +2", for a
    # payment over several.
    if clicked is not None and table.rows[clicked].invoice:
        number = table.rows[clicked].invoice.split()[0]
        st.switch_page("app_pages/invoice_detail.py", query_params={"invoice": number})
    if table.total:
        ui.pager("payments", table)


payments_table()
ui.export_buttons(
    key="payments_export",
    columns=PAYMENT_COLUMNS,
    rows=lambda: with_totals(PAYMENT_COLUMNS, payment_rows(flt, tz=tz)),
    total=data.payment_page(flt, tz=tz, offset=offset, limit=limit).total,
    file_stem="payments",
    user=user,
    label_columns=("State", "Source", "Method"),
)
