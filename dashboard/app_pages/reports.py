"""Reports: received per period and channel, receivables aging, outstanding per customer,
days to pay. Each table downloads as CSV and XLSX with exactly its rows and columns."""

from datetime import timedelta

import streamlit as st

from dashboard import data, ui
from shared import reports

user = ui.require("view")
today, tz = ui.today(), ui.tz()
st.title("Reports")

left, middle, right = st.columns(3)
date_from = left.date_input(
    "From", value=(today - timedelta(days=90)).replace(day=1), key="rep_from"
)
date_to = middle.date_input("To", value=today, key="rep_to")
granularity = right.segmented_control(
    "Period", ["week", "month"], default="month", format_func=str.capitalize, key="rep_period"
)
if date_from > date_to:
    st.error("“From” must be on or before “To”.")
    st.stop()

st.subheader("Received per period and channel")
received = data.received_per_period(
    date_from=date_from, date_to=date_to, tz=tz, granularity=granularity or "month"
)
ui.show_table(received, key="rep_received", empty="No payments received in this period.")
ui.export_buttons(
    key="rep_received_export",
    columns=received.columns,
    rows=lambda: received.rows,
    total=received.total,
    file_stem=f"received-{date_from}-{date_to}",
    user=user,
)

st.subheader("Accounts receivable aging")
st.caption(f"Open invoices by days past their due date, on {today}.")
aging = data.aging(today=today)
ui.show_table(aging, key="rep_aging", empty="Nothing outstanding.")
ui.export_buttons(
    key="rep_aging_export",
    columns=aging.columns,
    rows=lambda: aging.rows,
    total=aging.total,
    file_stem=f"aging-{today}",
    user=user,
)

st.subheader("Outstanding per customer")
offset, limit = ui.paging("rep_outstanding", today)
outstanding = data.outstanding_per_customer(today=today, offset=offset, limit=limit)
ui.show_table(outstanding, key="rep_outstanding_table", empty="Nothing outstanding.")
if outstanding.total:
    ui.pager("rep_outstanding", outstanding)
ui.export_buttons(
    key="rep_outstanding_export",
    columns=outstanding.columns,
    rows=lambda: reports.outstanding_rows(today=today),
    total=outstanding.total,
    file_stem=f"outstanding-{today}",
    user=user,
)

st.subheader("Days to pay")
st.caption("Invoices fully paid in the period, per customer, slowest payers first.")
days = data.days_to_pay(date_from=date_from, date_to=date_to, tz=tz)
ui.show_table(days, key="rep_days", empty="No invoices were paid in this period.")
ui.export_buttons(
    key="rep_days_export",
    columns=days.columns,
    rows=lambda: days.rows,
    total=len(days.rows),
    file_stem=f"days-to-pay-{date_from}-{date_to}",
    user=user,
)
