"""Overview: what is owed, what came in, what needs a person."""

from datetime import timedelta

import altair as alt
import streamlit as st

from dashboard import data, ui

user = ui.require("view")
today, tz = ui.today(), ui.tz()
st.title("Overview")

figures = data.kpis(today=today, tz=tz)
exceptions = data.open_exceptions()
if not figures:
    st.info("No invoices yet — create one under Invoicing → Invoices.")
    if user.can("edit"):
        st.page_link("app_pages/invoices.py", label="Create an invoice", icon=":material/add:")
for kpi in figures:
    if len(figures) > 1:
        st.subheader(kpi.currency)
    # Two rows of three: amounts with their currency do not fit six abreast.
    cols = [*st.columns(3), *st.columns(3)]
    cols[0].metric(
        "Outstanding",
        ui.money(kpi.outstanding, kpi.currency),
        help=f"{kpi.open_invoices} open invoices",
    )
    cols[1].metric(
        "Overdue",
        ui.money(kpi.overdue, kpi.currency),
        help=f"{kpi.overdue_invoices} invoices past their due date",
    )
    cols[2].metric("Received this month", ui.money(kpi.received_this_month, kpi.currency))
    cols[3].metric(
        "Share paid online",
        "—" if kpi.share_paid_online is None else f"{kpi.share_paid_online} %",
        help="Invoices issued in the last 90 days that got a payment through their pay link.",
    )
    cols[4].metric(
        "Average days to pay",
        "—" if kpi.average_days_to_pay is None else str(kpi.average_days_to_pay),
        help="From issue date to payment, invoices paid in the last 90 days.",
    )
    cols[5].metric("Open exceptions", exceptions)

left, right = st.columns(2)
with left:
    st.subheader("Received per week")
    weekly = data.received_per_period(
        date_from=today - timedelta(weeks=data.OVERVIEW_WEEKS),
        date_to=today,
        tz=tz,
        granularity="week",
    )
    if weekly.rows:
        frame = ui.frame(weekly)
        frame["Received"] = frame["Received"].astype(float)  # chart axis only
        st.altair_chart(
            alt.Chart(frame)
            .mark_bar()
            .encode(
                x=alt.X("yearmonthdate(Period from):O", title="Week from"),
                y=alt.Y("sum(Received):Q", title="Received"),
                color=alt.Color("Channel:N"),
                tooltip=["Period from:T", "Channel", "Currency", "Payments", "Received"],
            ),
            width="stretch",
        )
    else:
        st.info(f"No payments received in the last {data.OVERVIEW_WEEKS} weeks.")
with right:
    st.subheader("Receivables by days past due")
    aging = data.aging(today=today)
    if aging.rows:
        frame = ui.frame(aging)
        frame["Open balance"] = frame["Open balance"].astype(float)  # chart axis only
        st.altair_chart(
            alt.Chart(frame)
            .mark_bar()
            .encode(
                x=alt.X("Days past due:N", sort=list(dict.fromkeys(frame["Days past due"]))),
                y=alt.Y("Open balance:Q"),
                color=alt.Color("Currency:N"),
                tooltip=["Days past due", "Currency", "Invoices", "Open balance"],
            ),
            width="stretch",
        )
    else:
        st.info("Nothing outstanding.")
