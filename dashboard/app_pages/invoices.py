"""Invoicing → Invoices: the list (filtered, sorted and paged by the database) and new drafts."""

import dataclasses
from collections.abc import Callable
from datetime import date

import streamlit as st

from dashboard import data, ui
from dashboard.app_pages.sending import render_bulk_send
from dashboard.i18n import date_input_format, t
from dashboard.invoice_editor import invoice_editor, reset_editor
from shared.exports import Table
from shared.states import INVOICE_STATUS_LABELS
from shared.views.invoices import (
    DRAFT_NUMBER,
    INVOICE_SORTS,
    INVOICE_STATUS_FILTERS,
    InvoiceFilter,
    invoice_csv_chunks,
    invoice_rows,
)

DETAIL_PAGE = "app_pages/invoice_detail.py"
EDITOR = "new_invoice"


def _with_draft_numbers_translated(table: Table) -> Table:
    """A draft has no number yet; the list says so in the reader's language."""
    draft = t(DRAFT_NUMBER)
    rows = tuple(
        row._replace(number=draft) if row.number == DRAFT_NUMBER else row for row in table.rows
    )
    return dataclasses.replace(table, rows=rows)


user = ui.require("view")
today = ui.today()
st.title(t("Invoices"))


def _open(invoice_id: int) -> None:
    st.session_state["invoice_id"] = invoice_id
    st.switch_page(DETAIL_PAGE, query_params={"invoice": str(invoice_id)})


def _open_saved(invoice_id: int) -> None:
    reset_editor(EDITOR)
    st.session_state["invoice_editor_open"] = False
    _open(invoice_id)


if user.can("edit"):
    if st.button(t("Create invoice"), key="invoice_new", icon=":material/add:", type="primary"):
        st.session_state["invoice_editor_open"] = True
    if st.session_state.get("invoice_editor_open"):
        with st.container(border=True):
            st.subheader(t("New invoice"))
            invoice_editor(key=EDITOR, username=user.username, then=_open_saved)
            if st.button(t("Close"), key="invoice_new_close"):
                st.session_state["invoice_editor_open"] = False
                reset_editor(EDITOR)
                st.rerun()


def _statuses(raw: str) -> list[str]:
    chosen = raw.split(",")
    if not set(chosen) <= set(INVOICE_STATUS_FILTERS):
        raise ValueError(raw)
    return chosen


def _one_of(options) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(raw)
        return raw

    return parse


# Filters a link may carry; not "invoice" or "customer", which open a record.
ui.filter_from_url("inv_status", "status", _statuses)
ui.filter_from_url("inv_customer", "name")
ui.filter_from_url("inv_number", "number")
ui.filter_from_url("inv_from", "from", date.fromisoformat)
ui.filter_from_url("inv_to", "to", date.fromisoformat)
ui.filter_from_url("inv_sort", "sort", _one_of(INVOICE_SORTS))
ui.filter_from_url("inv_desc", "desc", {"1": True, "0": False}.__getitem__)

with st.expander(t("Filters"), expanded=True):
    left, middle, right = st.columns(3)
    statuses = left.multiselect(
        t("Status"),
        INVOICE_STATUS_FILTERS,
        format_func={
            status: t(INVOICE_STATUS_LABELS[status]) for status in INVOICE_STATUS_FILTERS
        }.get,
        key="inv_status",
        placeholder=t("Choose options"),
    )
    customer = middle.text_input(
        t("Customer"), key="inv_customer", placeholder=t("Part of the name")
    )
    number = right.text_input(t("Number"), key="inv_number", placeholder=t("INV-2026-00…"))
    # Labels made now, in the reader's language: a test may call format_func outside a run.
    channels = {None: t("All channels"), **{c.id: c.label for c in data.channel_options()}}
    channel_id = left.selectbox(
        t("Channel"),
        list(channels),
        format_func=channels.__getitem__,
        key="inv_channel",
    )
    date_from = middle.date_input(
        t("Issued from"), value=None, key="inv_from", format=date_input_format()
    )
    date_to = right.date_input(t("Issued to"), value=None, key="inv_to", format=date_input_format())
    sort_left, sort_right = st.columns([2, 1])
    sort = sort_left.selectbox(
        t("Sort by"),
        list(INVOICE_SORTS),
        format_func={sort: t(shown) for sort, shown in INVOICE_SORTS.items()}.__getitem__,
        key="inv_sort",
    )
    descending = sort_right.toggle(t("Descending"), value=True, key="inv_desc")

for param, shown in (
    ("status", ",".join(statuses)),
    ("name", customer),
    ("number", number),
    ("from", date_from.isoformat() if date_from else ""),
    ("to", date_to.isoformat() if date_to else ""),
    ("sort", "" if sort == "newest" else sort),
    ("desc", "" if descending else "0"),
):
    ui.filter_to_url(param, shown)

flt = InvoiceFilter(
    statuses=tuple(statuses),
    customer=customer,
    channel_id=channel_id,
    date_from=date_from,
    date_to=date_to,
    number=number,
)
offset, limit = ui.paging("invoices", (flt, sort, descending))
table = data.invoice_page(
    flt, today=today, sort=sort, descending=descending, offset=offset, limit=limit
)
filtered = flt != InvoiceFilter()
shown = _with_draft_numbers_translated(table)
clicked = ui.show_table(
    shown,
    key="invoices_table",
    empty=t("No invoices match these filters.")
    if filtered
    else t("No invoices yet — create one with **Create invoice**."),
    badge_columns=("Status",),
    clickable=True,
)
if clicked is not None:
    _open(table.ids[clicked])
if not table.rows:
    st.stop()
ui.pager("invoices", table)

labels = {
    invoice_id: f"{row.number} — {row.customer}"
    for invoice_id, row in zip(shown.ids, shown.rows, strict=True)
}
# A click on a row opens its invoice; this picker is the same from the keyboard. Made only
# once opened: otherwise every visit, filter and page turn builds and lays out a pick-list
# of the page's invoices that is rarely used.
with ui.lazy_expander(t("Open an invoice"), key="inv_open_panel") as opened:
    if opened:
        pick, go = st.columns([3, 1], vertical_alignment="bottom")
        chosen = pick.selectbox(t("Invoice"), list(labels), format_func=labels.get, key="inv_pick")
        if go.button(t("Open invoice"), key="inv_open", icon=":material/open_in_new:"):
            _open(chosen)

if user.can("edit"):
    with ui.lazy_expander(t("E-mail invoices"), key="inv_email") as opened:
        if opened:
            bulk = st.multiselect(
                t("Invoices on this page"),
                list(labels),
                format_func=labels.get,
                key="inv_bulk",
                placeholder=t("Choose options"),
            )
            render_bulk_send(bulk, username=user.username, role=user.role)

# Headed in the reader's language, read now: the file is made outside this run.
csv_columns = [dataclasses.replace(column, label=t(column.label)) for column in table.columns]
ui.export_buttons(
    key="invoices_export",
    columns=table.columns,
    rows=lambda: invoice_rows(flt, today=today, sort=sort, descending=descending),
    total=table.total,
    file_stem="invoices",
    user=user,
    label_columns=("Status",),
    csv_chunks=lambda: invoice_csv_chunks(
        flt,
        today=today,
        sort=sort,
        descending=descending,
        columns=csv_columns,
    ),
)
