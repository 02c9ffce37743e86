"""Reports: received per period and channel, receivables aging, outstanding per customer,
days to pay, the sales ledger and the VAT summary. Each table downloads as CSV and XLSX with
exactly its rows and columns, and a totals row per currency where amounts are summed."""

from datetime import timedelta

import streamlit as st

from dashboard import data, ui
from shared import reports
from shared.exports import with_totals
from shared.views import sales_ledger

user = ui.require("view")
today, tz = ui.today(), ui.tz()
st.title("Reports")

left, middle, right = st.columns(3)
date_from = left.date_input(
    "From", value=(today - timedelta(days=90)).replace(day=1), key="rep_from"
)
date_to = middle.date_input("To", value=today, key="rep_to")
granularity = right.segmented_control(
    "Period",
    ["week", "month", "quarter"],
    default="month",
    format_func=str.capitalize,
    key="rep_period",
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
    rows=lambda: with_totals(received.columns, received.rows),
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
    rows=lambda: with_totals(aging.columns, aging.rows),
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
    rows=lambda: with_totals(outstanding.columns, reports.outstanding_rows(today=today)),
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

st.subheader("Sales ledger")
st.caption(
    "Every invoice and credit note issued in the period, net and VAT per rate; paid and "
    "open as of now. A cancelled invoice keeps its number and counts nothing."
)
ledger_offset, ledger_limit = ui.paging("rep_ledger", (date_from, date_to))
ledger = data.sales_ledger_page(
    date_from=date_from, date_to=date_to, tz=tz, offset=ledger_offset, limit=ledger_limit
)
ui.show_table(
    ledger,
    key="rep_ledger_table",
    empty="No invoices or credit notes were issued in this period.",
    badge_columns=("Status",),
)
if ledger.total:
    ui.pager("rep_ledger", ledger)
ui.export_buttons(
    key="rep_ledger_export",
    columns=ledger.columns,
    rows=lambda: sales_ledger.sales_ledger_export(date_from=date_from, date_to=date_to, tz=tz),
    total=ledger.total,
    file_stem=f"sales-ledger-{date_from}-{date_to}",
    user=user,
)

st.subheader("VAT summary")
# VAT is declared per month or per quarter; a week is no period to file.
vat_period = granularity if granularity in sales_ledger.VAT_GRANULARITIES else "month"
st.caption(
    f"Sales and credit notes per {vat_period}, currency and VAT rate, by issue date; "
    "cancelled invoices count nothing."
)
vat = data.vat_summary(date_from=date_from, date_to=date_to, tz=tz, granularity=vat_period)
ui.show_table(vat, key="rep_vat", empty="No sales or credit notes in this period.")
ui.export_buttons(
    key="rep_vat_export",
    columns=vat.columns,
    rows=lambda: vat.rows,
    total=vat.total,
    file_stem=f"vat-summary-{date_from}-{date_to}",
    user=user,
)
