"""Settings → Audit log (admin): who changed what, when, with what outcome."""

import streamlit as st

from dashboard import data, ui
from shared.views.audit_log import AuditFilter, audit_rows

user = ui.require("audit")
tz = ui.tz()
st.title("Audit log")

left, middle, right = st.columns(3)
actor = left.text_input("Who", key="audit_actor", placeholder="username")
action = middle.text_input("Action starts with", key="audit_action", placeholder="invoice.")
outcome = right.selectbox(
    "Outcome",
    ["", "ok", "failed", "refused", "locked"],
    format_func=lambda o: o or "Any",
    key="audit_outcome",
)
left, right = st.columns(2)
date_from = left.date_input("From", value=None, key="audit_from")
date_to = right.date_input("To", value=None, key="audit_to")

flt = AuditFilter(actor=actor, action=action, outcome=outcome, date_from=date_from, date_to=date_to)
offset, limit = ui.paging("audit", flt)
table = data.audit_page(flt, tz=tz, offset=offset, limit=limit)
ui.show_table(table, key="audit_table", empty="No entries match these filters.", badge_columns=())
if table.rows:
    ui.pager("audit", table)
ui.export_buttons(
    key="audit_export",
    columns=table.columns,
    rows=lambda: audit_rows(flt, tz=tz),
    total=table.total,
    file_stem="audit-log",
    user=user,
)
