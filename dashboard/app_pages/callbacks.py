"""Payments → Callbacks: every callback EveryPay sent, what the API said, what changed."""

from datetime import datetime

import streamlit as st

from dashboard import data, i18n, ui
from dashboard.i18n import date_input_format, t
from dashboard.stored_texts import stored_text, with_stored_texts
from shared.config import get_settings
from shared.models import CallbackStatus
from shared.states import CALLBACK_STATUS_LABELS
from shared.views.callbacks import CallbackFilter, callback_rows
from shared.views.reconciler import (
    RunFilter,
    reconciler_run_rows,
    reconciler_runs,
    reconciler_status,
)

user = ui.require("view")
tz = ui.tz()
st.title(t("Callbacks"))


def _seconds_text(moment: datetime) -> str:
    """A moment to the second, the reader's way (the last run: a pass takes seconds)."""
    return f"{i18n.datetime_text(moment)}:{moment:%S}"


def reconciler_panel() -> None:
    """The reconciler's latest passes: what it re-checked, what changed, what failed."""
    status = reconciler_status(tz=tz)
    if status.stalled and status.last_run is not None:
        st.warning(
            t(
                "The reconciler has not run since {moment}: is the callback service running?",
                moment=i18n.datetime_text(status.last_run),
            ),
            icon=":material/sync_problem:",
        )
    with ui.lazy_expander(t("Reconciler"), key="rec_panel", icon=":material/sync:") as opened:
        if not opened:
            return
        st.caption(
            t(
                "Re-asks EveryPay about every unfinished payment and every callback still "
                "waiting, every {seconds} s and after a restart of the callback service.",
                seconds=i18n.number_text(get_settings().reconcile_interval_seconds),
            )
        )
        if status.last_run is None:
            st.info(t("The reconciler has not run yet: it runs inside the callback service."))
        else:
            st.caption(t("Last run {moment}.", moment=_seconds_text(status.last_run)))
        eventful = st.toggle(t("Only runs that changed or failed something"), key="rec_eventful")
        flt = RunFilter(eventful_only=eventful)
        offset, limit = ui.paging("reconciler", flt)
        # Not cached: the lines are worded for this reader (a cache would share them).
        runs = reconciler_runs(flt, tz=tz, offset=offset, limit=limit, wording=stored_text)
        ui.show_table(
            runs,
            key="reconciler_table",
            empty=t("No run changed or failed anything.")
            if eventful
            else t("No runs recorded yet."),
            label_columns=("Payments asked about",),
        )
        if runs.total:
            ui.pager("reconciler", runs)
        ui.export_buttons(
            key="reconciler_export",
            columns=runs.columns,
            rows=lambda: reconciler_run_rows(flt, tz=tz, wording=stored_text),
            total=runs.total,
            file_stem="reconciler-runs",
            user=user,
            label_columns=("Payments asked about",),
        )


reconciler_panel()

left, middle, right = st.columns(3)
statuses = left.multiselect(
    t("Processing status"),
    [s.value for s in CallbackStatus],
    format_func=lambda status: t(CALLBACK_STATUS_LABELS[status]),
    key="cb_status",
    placeholder=t("Choose options"),
)
channels = {c.id: c.label for c in data.channel_options()}
channel_id = middle.selectbox(
    t("Channel"),
    [None, *channels],
    format_func=lambda i: t("All channels") if i is None else channels[i],
    key="cb_channel",
)
reference = right.text_input(t("Payment reference"), key="cb_reference")
left, right = st.columns(2)
date_from = left.date_input(
    t("Received from"), value=None, key="cb_from", format=date_input_format()
)
date_to = right.date_input(t("Received to"), value=None, key="cb_to", format=date_input_format())

flt = CallbackFilter(
    statuses=tuple(statuses),
    channel_id=channel_id,
    date_from=date_from,
    date_to=date_to,
    reference=reference,
)
offset, limit = ui.paging("callbacks", flt)
table = data.callback_page(flt, tz=tz, offset=offset, limit=limit)
clicked = ui.show_table(
    with_stored_texts(table, "outcome"),
    key="callbacks_table",
    empty=t("No callbacks match these filters.")
    if flt != CallbackFilter()
    else t(
        "No callbacks yet — paste the Callback URL into the EveryPay portal (Money → Bank "
        "accounts), then pay an invoice."
    ),
    badge_columns=("Processing status",),
    clickable=True,
)
if not table.rows:
    st.stop()
# A click on a callback opens the invoice it was applied to.
if clicked is not None:
    if table.rows[clicked].invoice:
        st.switch_page(
            "app_pages/invoice_detail.py", query_params={"invoice": table.rows[clicked].invoice}
        )
    st.caption(t("This callback is not applied to an invoice (yet), so there is none to open."))
ui.pager("callbacks", table)
ui.export_buttons(
    key="callbacks_export",
    columns=table.columns,
    rows=lambda: callback_rows(flt, tz=tz),
    total=table.total,
    file_stem="callbacks",
    user=user,
    label_columns=("Processing status",),
)


def reprocess_panel() -> None:
    """Re-run one callback of this page through processing (after its channel's credentials
    were fixed, say). Made only once opened, as the Reconciler panel: the closed picker of
    the page's callbacks cost every visit of the list."""
    with ui.lazy_expander(
        t("Reprocess a callback"), key="cb_reprocess_panel", icon=":material/replay:"
    ) as opened:
        if not opened:
            return
        labels = {
            event_id: f"#{event_id} · {i18n.datetime_text(row.received)} · "
            f"{row.payment_reference[:16] or row.order_reference} · {t(row.status)}"
            for event_id, row in zip(table.ids, table.rows, strict=True)
        }
        pick, go = st.columns([3, 1], vertical_alignment="bottom")
        event_id = pick.selectbox(
            t("Callback"), list(labels), format_func=labels.get, key="cb_pick"
        )
        if go.button(t("Reprocess"), key="cb_reprocess", icon=":material/replay:"):
            # The processing rules live with the callback service; imported on use.
            from shared.callbacks.processing import reprocess_event

            ui.page_action(
                lambda: reprocess_event(event_id=event_id, actor=user.username),
                permission="review",
                action="callback.reprocess",
                own_transaction=True,
                rerun=False,
                success=lambda message: message,
            )


if user.can("review"):
    reprocess_panel()
