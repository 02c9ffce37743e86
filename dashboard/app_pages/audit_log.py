"""Settings → Audit log (admin): who changed what, when, with what outcome."""

import streamlit as st

from dashboard import data, ui
from dashboard.i18n import date_input_format, t
from shared.audit import ACTION_LABELS
from shared.views.audit_log import AuditFilter, audit_rows

user = ui.require("audit")
tz = ui.tz()
st.title(t("Audit log"))

left, middle, right = st.columns(3)
actor = left.text_input(t("Who"), key="audit_actor", placeholder=t("username"))
# Picked by label, in the reader's language and order; the filter holds the code.
action = middle.selectbox(
    t("Action"),
    ["", *sorted(ACTION_LABELS, key=lambda code: t(ACTION_LABELS[code]).casefold())],
    format_func=lambda code: t(ACTION_LABELS[code]) if code else t("Any"),
    key="audit_action",
)
outcome = right.selectbox(
    t("Outcome"),
    ["", "ok", "failed", "refused", "locked"],
    format_func=lambda outcome: t(outcome or "Any"),
    key="audit_outcome",
)
left, right = st.columns(2)
date_from = left.date_input(t("From"), value=None, key="audit_from", format=date_input_format())
date_to = right.date_input(t("To"), value=None, key="audit_to", format=date_input_format())

flt = AuditFilter(actor=actor, action=action, outcome=outcome, date_from=date_from, date_to=date_to)
offset, limit = ui.paging("audit", flt)
table = data.audit_page(flt, tz=tz, offset=offset, limit=limit)
ui.show_table(
    table,
    key="audit_table",
    empty=t("No entries match these filters."),
    label_columns=("Action", "Outcome"),
)
if table.rows:
    ui.pager("audit", table)
ui.export_buttons(
    key="audit_export",
    columns=table.columns,
    rows=lambda: audit_rows(flt, tz=tz),
    total=table.total,
    file_stem="audit-log",
    user=user,
    label_columns=("Action", "Outcome"),
)
