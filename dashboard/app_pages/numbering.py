"""Settings → Numbering: the number series of invoices and credit notes.

Its own page rather than a section of Company: the company form is one Save for the
whole form, while each change here (add, make default, deactivate) is its own action
and its own audit entry.
"""

import pandas as pd
import streamlit as st

from dashboard import data, ui
from dashboard.i18n import t
from shared.number_series import (
    MAX_DIGITS,
    MIN_DIGITS,
    SeriesInput,
    add_series,
    change_series,
    set_active,
    set_default,
)
from shared.numbering import DOCUMENT_LABELS
from shared.views.number_series import SeriesRow

ADD_FORM = "ns_add_form"
CHANGE_FORM = "ns_change_form"
# "invoices", "credit notes": a document type's plural as the page writes it.
DOCUMENTS = {code: f"{label}s" for code, label in DOCUMENT_LABELS.items()}

user = ui.require("view")
st.title(t("Numbering"))
st.caption(
    t(
        "Invoices and credit notes are numbered when they are issued, without gaps, in their "
        "series: PREFIX-YEAR-0001 with a yearly reset, PREFIX-00001 without. A series that "
        "has numbered a document keeps its prefix and format."
    )
)
ui.show_flash()

rows = data.number_series_rows(today=ui.today())
st.dataframe(
    pd.DataFrame(
        [
            {
                t("Document"): t(row.document),
                t("Prefix"): row.prefix,
                t("First number this year"): row.example,
                t("Yearly reset"): t("yes") if row.yearly_reset else t("no"),
                t("Default"): t("yes") if row.is_default else "",
                t("Active"): t("yes") if row.active else t("no"),
                t("Numbers issued"): row.issued,
            }
            for row in rows
        ]
    ),
    hide_index=True,
    key="ns_table",
)

if not user.can("setup"):
    st.caption(t("Only finance and admin users change the numbering."))
    st.stop()


def _shape_inputs(prefix: str, yearly_reset: bool, digits: int, *, key: str) -> tuple:
    typed = st.text_input(t("Prefix"), value=prefix, key=f"{key}_prefix", max_chars=20)
    left, right = st.columns(2)
    reset = left.checkbox(t("Start again at 1 each year"), value=yearly_reset, key=f"{key}_yearly")
    width = right.number_input(
        t("Digits"), min_value=MIN_DIGITS, max_value=MAX_DIGITS, value=digits, key=f"{key}_digits"
    )
    return typed, reset, int(width)


with st.expander(t("Add a series")):
    with st.form(ADD_FORM):
        document_type = st.selectbox(
            t("For"), list(DOCUMENTS), format_func=lambda code: t(DOCUMENTS[code])
        )
        prefix, yearly_reset, digits = _shape_inputs("", True, 4, key="ns_new")
        ui.field_error(ADD_FORM, "prefix")
        ui.form_errors(ADD_FORM, ("prefix",))
        added = st.form_submit_button(t("Add series"), type="primary", key="ns_add")
    if added:
        ui.page_action(
            lambda session: (
                add_series(
                    session,
                    actor=user.username,
                    data=SeriesInput(
                        document_type=document_type,
                        prefix=prefix,
                        yearly_reset=yearly_reset,
                        digits=digits,
                    ),
                ).prefix
            ),
            permission="setup",
            action="number_series.add",
            form=ADD_FORM,
            success=lambda added_prefix: t("Series {prefix} added.", prefix=added_prefix),
        )

by_id = {row.id: row for row in rows}
chosen: SeriesRow = by_id[
    st.selectbox(
        t("Series"),
        list(by_id),
        format_func=lambda i: f"{by_id[i].prefix} ({t(DOCUMENTS[by_id[i].document_type])})",
        key="ns_pick",
    )
]
make_default, toggle = st.columns(2)
if make_default.button(
    t("Make default"), key="ns_default", disabled=chosen.is_default or not chosen.active
):
    ui.page_action(
        lambda session: set_default(session, actor=user.username, series_id=chosen.id),
        permission="setup",
        action="number_series.set_default",
        success=t(
            "{prefix} is now the default series for {documents}.",
            prefix=chosen.prefix,
            documents=t(DOCUMENTS[chosen.document_type]),
        ),
    )
if toggle.button(t("Deactivate") if chosen.active else t("Activate"), key="ns_toggle"):
    ui.page_action(
        lambda session: set_active(
            session, actor=user.username, series_id=chosen.id, active=not chosen.active
        ),
        permission="setup",
        action="number_series.deactivate" if chosen.active else "number_series.activate",
        success=t("Series {prefix} deactivated.", prefix=chosen.prefix)
        if chosen.active
        else t("Series {prefix} activated.", prefix=chosen.prefix),
    )
if chosen.issued:
    st.caption(
        t(
            "{prefix} has issued numbers: its prefix and format stay as they are.",
            prefix=chosen.prefix,
        )
    )
else:
    with st.form(CHANGE_FORM):
        new_prefix, new_reset, new_digits = _shape_inputs(
            chosen.prefix, chosen.yearly_reset, chosen.digits, key=f"ns_edit_{chosen.id}"
        )
        ui.field_error(CHANGE_FORM, "prefix")
        ui.form_errors(CHANGE_FORM, ("prefix",))
        changed = st.form_submit_button(t("Save prefix and format"), key="ns_change")
    if changed:
        ui.page_action(
            lambda session: (
                change_series(
                    session,
                    actor=user.username,
                    series_id=chosen.id,
                    data=SeriesInput(
                        document_type=chosen.document_type,
                        prefix=new_prefix,
                        yearly_reset=new_reset,
                        digits=new_digits,
                    ),
                ).prefix
            ),
            permission="setup",
            action="number_series.change",
            form=CHANGE_FORM,
            success=lambda saved: t("Series {prefix} saved.", prefix=saved),
        )
