"""Reports: received per period and channel, receivables aging, outstanding per customer,
days to pay, the sales ledger and the VAT summary. One report at a time, picked from the
list at the top and kept in the address (``?report=sales-ledger``), so a link or a reload
opens the same report; each table downloads as CSV and XLSX with exactly its rows and
columns, and a totals row per currency where amounts are summed."""

from datetime import date

import streamlit as st

from dashboard import data, i18n, ui
from dashboard.i18n import date_input_format, t
from shared import reports
from shared.exports import TOTAL_LABEL, with_totals
from shared.views import sales_ledger

PERIOD_NAMES = {"week": "Week", "month": "Month", "quarter": "Quarter"}
# The reports in the order of the picker, by the name the address carries.
REPORT_NAMES = {
    "received": "Received per period and channel",
    "aging": "Accounts receivable aging",
    "outstanding": "Outstanding per customer",
    "days-to-pay": "Days to pay",
    "sales-ledger": "Sales ledger",
    "vat-summary": "VAT summary",
}
DEFAULT_REPORT = "received"
# Aging and outstanding are as of today: the period does not change them.
AS_OF_TODAY = {"aging", "outstanding"}
# Per week / month / quarter; the others list the whole period.
PER_PERIOD = {"received", "vat-summary"}


def _known_report(raw: str) -> str:
    """A report named in the address; anything else leaves the default."""
    if raw not in REPORT_NAMES:
        raise ValueError(raw)
    return raw


def _channel_text(channel: str) -> str:
    """A way of paying (bank transfer, cash, …) in the reader's language; a channel's own
    name as it is."""
    return t(channel) if channel in reports.SOURCE_NAMES else channel


def _vat_rate_text(rate: str) -> str:
    """ "21 %" as it is; "0 % Reverse charge (AE)" and "all rates" in the reader's language."""
    if rate == sales_ledger.ALL_RATES:
        return t(rate)
    percent, _, category = rate.partition(" % ")
    return f"{percent} % {t(category)}" if category else rate


def _period_text(period: str) -> str:
    """A month or quarter ("2026-05", "2026 Q2") as it is; the totals row's label translated."""
    return t(period) if period == TOTAL_LABEL else period


user = ui.require("view")
today, tz = ui.today(), ui.tz()
st.title(t("Reports"))
total_label = t(TOTAL_LABEL)

ui.filter_from_url("rep_report", "report", _known_report)
st.session_state.setdefault("rep_report", DEFAULT_REPORT)
# Names made now, in the reader's language: a test may call format_func outside a run.
report_names = {report: t(name) for report, name in REPORT_NAMES.items()}
report = st.segmented_control(
    t("Report"),
    list(REPORT_NAMES),
    format_func=report_names.__getitem__,
    required=True,
    key="rep_report",
)
ui.filter_to_url("report", "" if report == DEFAULT_REPORT else report)

left, middle, right = st.columns(3)
default_from, default_to = data.reports_default_period(today)
date_from: date = left.date_input(
    t("From"),
    value=default_from,
    key="rep_from",
    format=date_input_format(),
    disabled=report in AS_OF_TODAY,
)
date_to: date = middle.date_input(
    t("To"),
    value=default_to,
    key="rep_to",
    format=date_input_format(),
    disabled=report in AS_OF_TODAY,
)
granularity = right.segmented_control(
    t("Period"),
    list(PERIOD_NAMES),
    default="month",
    format_func=lambda code: t(PERIOD_NAMES[code]),
    key="rep_period",
    disabled=report not in PER_PERIOD,
)
if report in AS_OF_TODAY:
    st.caption(t("This report is as of today: the dates above do not apply to it."))
elif date_from > date_to:
    st.error(t("“From” must be on or before “To”."))
    st.stop()

st.subheader(report_names[report])
if report == "received":
    received = reports.with_cells_shown(
        data.received_per_period(
            date_from=date_from, date_to=date_to, tz=tz, granularity=granularity or "month"
        ),
        label="Channel",
        shown=_channel_text,
    )
    ui.show_table(received, key="rep_received", empty=t("No payments received in this period."))
    ui.export_buttons(
        key="rep_received_export",
        columns=received.columns,
        rows=lambda: with_totals(received.columns, received.rows, label=total_label),
        total=received.total,
        file_stem=f"received-{date_from}-{date_to}",
        user=user,
    )

elif report == "aging":
    st.caption(t("Open invoices by days past their due date, on {day}.", day=i18n.date_text(today)))
    aging = reports.with_cells_shown(data.aging(today=today), label="Days past due", shown=t)
    ui.show_table(aging, key="rep_aging", empty=t("Nothing outstanding."))
    ui.export_buttons(
        key="rep_aging_export",
        columns=aging.columns,
        rows=lambda: with_totals(aging.columns, aging.rows, label=total_label),
        total=aging.total,
        file_stem=f"aging-{today}",
        user=user,
    )

elif report == "outstanding":
    offset, limit = ui.paging("rep_outstanding", today)
    outstanding = data.outstanding_per_customer(today=today, offset=offset, limit=limit)
    ui.show_table(outstanding, key="rep_outstanding_table", empty=t("Nothing outstanding."))
    if outstanding.total:
        ui.pager("rep_outstanding", outstanding)
    ui.export_buttons(
        key="rep_outstanding_export",
        columns=outstanding.columns,
        rows=lambda: with_totals(
            outstanding.columns, reports.outstanding_rows(today=today), label=total_label
        ),
        total=outstanding.total,
        file_stem=f"outstanding-{today}",
        user=user,
    )

elif report == "days-to-pay":
    st.caption(t("Invoices fully paid in the period, per customer, slowest payers first."))
    days = data.days_to_pay(date_from=date_from, date_to=date_to, tz=tz)
    ui.show_table(days, key="rep_days", empty=t("No invoices were paid in this period."))
    ui.export_buttons(
        key="rep_days_export",
        columns=days.columns,
        rows=lambda: days.rows,
        total=len(days.rows),
        file_stem=f"days-to-pay-{date_from}-{date_to}",
        user=user,
    )

elif report == "sales-ledger":
    st.caption(
        t(
            "Every invoice and credit note issued in the period, net and VAT per rate; paid "
            "and open as of now. A cancelled invoice keeps its number and counts nothing."
        )
    )
    ledger_offset, ledger_limit = ui.paging("rep_ledger", (date_from, date_to))
    ledger = data.sales_ledger_page(
        date_from=date_from, date_to=date_to, tz=tz, offset=ledger_offset, limit=ledger_limit
    )
    ui.show_table(
        ledger,
        key="rep_ledger_table",
        empty=t("No invoices or credit notes were issued in this period."),
        badge_columns=("Status",),
        label_columns=("Type",),
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
        label_columns=("Status", "Type"),
    )

else:
    # VAT is declared per month or per quarter; a week is no period to file.
    vat_period = granularity if granularity in sales_ledger.VAT_GRANULARITIES else "month"
    st.caption(
        t(
            "Sales and credit notes per quarter, currency and VAT rate, by issue date; "
            "cancelled invoices count nothing."
        )
        if vat_period == "quarter"
        else t(
            "Sales and credit notes per month, currency and VAT rate, by issue date; "
            "cancelled invoices count nothing."
        )
    )
    vat = data.vat_summary(date_from=date_from, date_to=date_to, tz=tz, granularity=vat_period)
    vat = reports.with_cells_shown(vat, label="Period", shown=_period_text)
    vat = reports.with_cells_shown(vat, label="VAT rate", shown=_vat_rate_text)
    ui.show_table(vat, key="rep_vat", empty=t("No sales or credit notes in this period."))
    ui.export_buttons(
        key="rep_vat_export",
        columns=vat.columns,
        rows=lambda: vat.rows,
        total=vat.total,
        file_stem=f"vat-summary-{date_from}-{date_to}",
        user=user,
    )
