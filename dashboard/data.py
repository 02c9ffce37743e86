"""Cached reads for the pages. Results are plain values; writes call ``ui.after_write``.

Lists and reports are shared between sessions for a short while, so ten people looking
at the Overview cost the database one query. Payments are live, so their cache is short.
Reports are refreshed in the background once they are older than REPORT_TTL
(``dashboard.refreshing``): their queries are the slowest, and no visitor should wait for them
because a cache expired.
"""

from datetime import date, timedelta

import streamlit as st

from dashboard.refreshing import clear_all, refreshed_in_background
from shared import reports
from shared.views import (
    audit_log,
    bank_accounts,
    callbacks,
    customers,
    exceptions,
    invoices,
    number_series,
    payments,
    sales_ledger,
    users,
)
from shared.views import invoice_detail as detail

LIST_TTL = 30
LIVE_TTL = 2
REPORT_TTL = 120
# How far back the Overview's received chart looks (dashboard/warm_up.py fills it too).
OVERVIEW_WEEKS = 12


def reports_default_period(today: date) -> tuple[date, date]:
    """The period Reports opens with: from the first of the month three months back to
    today (dashboard/warm_up.py fills its received report too)."""
    return (today - timedelta(days=90)).replace(day=1), today


_list = st.cache_data(ttl=LIST_TTL, show_spinner=False)
_live = st.cache_data(ttl=LIVE_TTL, show_spinner=False)
_report = refreshed_in_background(ttl=REPORT_TTL)

invoice_page = _list(invoices.invoice_page)
customer_page = _list(customers.customer_page)
customer_options = _list(customers.customer_options)
channel_options = _list(bank_accounts.channel_options)
review_page = _list(exceptions.review_page)
audit_page = _list(audit_log.audit_page)
user_table = _list(users.user_table)
number_series_rows = _list(number_series.number_series)
series_choices = _list(number_series.series_choices)
payment_page = _live(payments.payment_page)
callback_page = _live(callbacks.callback_page)
invoice_detail = _live(detail.invoice_detail)
invoice_ledger = _live(detail.invoice_ledger)
customer_credit_page = _list(customers.customer_credit_page)

kpis = _report(reports.kpis)
open_exceptions = _list(reports.open_exceptions)
received_per_period = _report(reports.received_per_period)
aging = _report(reports.aging)
outstanding_per_customer = _report(reports.outstanding_per_customer)
days_to_pay = _report(reports.days_to_pay)
sales_ledger_page = _report(sales_ledger.sales_ledger)
vat_summary = _report(sales_ledger.vat_summary)


def clear_caches() -> None:
    """After a write: every list and report reads the database again at its next call."""
    st.cache_data.clear()
    clear_all()
