"""Payments → Payments: every EveryPay payment attempt, refreshed every few seconds."""

import streamlit as st

from dashboard import data, ui
from shared.models import PaymentState
from shared.queries import PaymentFilter
from shared.states import PAYMENT_STATE_LABELS

REFRESH_SECONDS = 3

user = ui.require("view")
tz = ui.tz()
st.title("Payments")

left, middle, right = st.columns(3)
states = left.multiselect(
    "State", [s.value for s in PaymentState], format_func=PAYMENT_STATE_LABELS.get, key="pay_state"
)
channels = {c[0]: c[1] for c in data.channel_options()}
channel_id = middle.selectbox(
    "Channel",
    [None, *channels],
    format_func=lambda i: "All channels" if i is None else channels[i],
    key="pay_channel",
)
reference = right.text_input(
    "Invoice number or payment reference", key="pay_reference", placeholder="INV-2026-…"
)
left, right, live = st.columns([1, 1, 1], vertical_alignment="bottom")
date_from = left.date_input("Created from", value=None, key="pay_from")
date_to = right.date_input("Created to", value=None, key="pay_to")
auto = live.toggle("Live", value=True, key="pay_live", help=f"Refresh every {REFRESH_SECONDS} s")

flt = PaymentFilter(
    states=tuple(states),
    channel_id=channel_id,
    date_from=date_from,
    date_to=date_to,
    reference=reference,
)
offset, limit = ui.paging("payments", flt)


@st.fragment(run_every=REFRESH_SECONDS if auto else None)
def payments_table() -> None:
    ui.follow_session()
    table = data.payment_page(flt, tz=tz, offset=offset, limit=limit)
    ui.show_table(
        table,
        key="payments_table",
        empty="No payments match these filters."
        if flt != PaymentFilter()
        else "No payments yet — they appear here as soon as a customer opens a pay link and pays.",
        badge_columns=("State",),
    )
    if table.total:
        ui.pager("payments", table)


payments_table()
