"""Overview: what is owed, what came in, what needs a person."""

from datetime import timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import data, i18n, ui
from dashboard.i18n import t
from shared import reports

user = ui.require("view")
today, tz = ui.today(), ui.tz()
st.title(t("Overview"))

figures = data.kpis(today=today, tz=tz)
exceptions = data.open_exceptions()
if not figures:
    st.info(t("No invoices yet — create one under Invoicing → Invoices."))
    if user.can("edit"):
        st.page_link("app_pages/invoices.py", label=t("Create an invoice"), icon=":material/add:")
for kpi in figures:
    if len(figures) > 1:
        st.subheader(kpi.currency)
    # Two rows of three: amounts with their currency do not fit six abreast.
    cols = [*st.columns(3), *st.columns(3)]
    cols[0].metric(
        t("Outstanding"),
        ui.money(kpi.outstanding, kpi.currency),
        help=t("{count} open invoices", count=i18n.number_text(kpi.open_invoices)),
    )
    cols[1].metric(
        t("Overdue"),
        ui.money(kpi.overdue, kpi.currency),
        help=t(
            "{count} invoices past their due date", count=i18n.number_text(kpi.overdue_invoices)
        ),
    )
    cols[2].metric(t("Received this month"), ui.money(kpi.received_this_month, kpi.currency))
    cols[3].metric(
        t("Share paid online"),
        "—" if kpi.share_paid_online is None else f"{kpi.share_paid_online} %",
        help=t("Invoices issued in the last 90 days that got a payment through their pay link."),
    )
    cols[4].metric(
        t("Average days to pay"),
        "—" if kpi.average_days_to_pay is None else str(kpi.average_days_to_pay),
        help=t("From issue date to payment, invoices paid in the last 90 days."),
    )
    cols[5].metric(t("Open exceptions"), i18n.number_text(exceptions))


def _channel_text(channel: str) -> str:
    """A way of paying (bank transfer, cash, …) in the reader's language; a channel's own
    name as it is."""
    return t(channel) if channel in reports.SOURCE_NAMES else channel


def _chart_frame(rows, columns: list[str]) -> pd.DataFrame:
    """The table under its English column names: the chart refers to them, and shows each
    field under a translated title."""
    return pd.DataFrame(list(rows), columns=columns)


left, right = st.columns(2)
with left:
    st.subheader(t("Received per week"))
    weekly = data.received_per_period(
        date_from=today - timedelta(weeks=data.OVERVIEW_WEEKS),
        date_to=today,
        tz=tz,
        granularity="week",
    )
    if weekly.rows:
        frame = _chart_frame(weekly.rows, weekly.labels)
        frame["Received"] = frame["Received"].astype(float)  # chart axis only
        frame["Channel"] = frame["Channel"].map(_channel_text)
        st.altair_chart(
            alt.Chart(frame)
            .mark_bar()
            .encode(
                x=alt.X("yearmonthdate(Period from):O", title=t("Week from")),
                y=alt.Y("sum(Received):Q", title=t("Received")),
                color=alt.Color("Channel:N", title=t("Channel")),
                tooltip=[
                    alt.Tooltip("Period from:T", title=t("Period from")),
                    alt.Tooltip("Channel:N", title=t("Channel")),
                    alt.Tooltip("Currency:N", title=t("Currency")),
                    alt.Tooltip("Payments:Q", title=t("Payments")),
                    alt.Tooltip("Received:Q", title=t("Received")),
                ],
            ),
            width="stretch",
        )
    else:
        st.info(
            t(
                "No payments received in the last {weeks} weeks.",
                weeks=i18n.number_text(data.OVERVIEW_WEEKS),
            )
        )
with right:
    st.subheader(t("Receivables by days past due"))
    aging = data.aging(today=today)
    if aging.rows:
        frame = _chart_frame(aging.rows, aging.labels)
        frame["Open balance"] = frame["Open balance"].astype(float)  # chart axis only
        frame["Days past due"] = frame["Days past due"].map(t)
        st.altair_chart(
            alt.Chart(frame)
            .mark_bar()
            .encode(
                x=alt.X(
                    "Days past due:N",
                    sort=list(dict.fromkeys(frame["Days past due"])),
                    title=t("Days past due"),
                ),
                y=alt.Y("Open balance:Q", title=t("Open balance")),
                color=alt.Color("Currency:N", title=t("Currency")),
                tooltip=[
                    alt.Tooltip("Days past due:N", title=t("Days past due")),
                    alt.Tooltip("Currency:N", title=t("Currency")),
                    alt.Tooltip("Invoices:Q", title=t("Invoices")),
                    alt.Tooltip("Open balance:Q", title=t("Open balance")),
                ],
            ),
            width="stretch",
        )
    else:
        st.info(t("Nothing outstanding."))
