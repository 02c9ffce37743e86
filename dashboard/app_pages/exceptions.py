"""Payments → Exceptions: what a person must look at, each with a fitting fix."""

import streamlit as st

from dashboard import data, ui
from shared.channels import ValidationError
from shared.db import write_session
from shared.models import ReviewKind, ReviewStatus
from shared.queries import ReviewFilter, review_info
from shared.review import (
    KIND_LABELS,
    accept_partial_payment,
    credit_money_back,
    dispute_chargeback,
    link_credit_note,
    mark_resolved,
    money_back_options,
    reconcile_review_item,
)

user = ui.require("view")
tz = ui.tz()
st.title("Exceptions")

flash = st.session_state.pop("exceptions_flash", None)
if flash:
    st.success(flash)

left, right = st.columns(2)
status = left.segmented_control(
    "Show",
    [ReviewStatus.OPEN, ReviewStatus.RESOLVED, "all"],
    default=ReviewStatus.OPEN,
    format_func=lambda s: {"open": "Open", "resolved": "Resolved", "all": "All"}[s],
    key="rev_status",
)
kinds = right.multiselect(
    "Kind", [k.value for k in ReviewKind], format_func=KIND_LABELS.get, key="rev_kind"
)
flt = ReviewFilter(statuses=() if status in (None, "all") else (status,), kinds=tuple(kinds))
offset, limit = ui.paging("exceptions", flt)
table = data.review_page(flt, tz=tz, offset=offset, limit=limit)
ui.show_table(
    table,
    key="exceptions_table",
    empty="No open exceptions — every payment matched its invoice."
    if flt == ReviewFilter()
    else "No exceptions match these filters.",
    badge_columns=("Status",),
)
if not table.rows:
    st.stop()
ui.pager("exceptions", table)

if not user.can("review"):
    st.stop()


def _done(message: str) -> None:
    st.session_state["exceptions_flash"] = message
    ui.after_write()
    st.rerun()


def money_back_actions(review_id: int, comment: str) -> None:
    """Refunds and chargebacks: money went back to the payer. A credit note for it settles
    the invoice again; otherwise the customer still owes it (and reminders resume)."""
    options = money_back_options(review_id=review_id)
    if options is None:
        return
    refund = options.kind == ReviewKind.REFUND
    credit, other = st.columns(2)
    if not options.can_credit:
        credit.caption(options.why_not)
    elif credit.button(
        "Issue credit note for the refunded amount" if refund else "Accept (credit note)",
        key="rev_credit",
        type="primary",
        help=f"One credit note of {options.amount} on the invoice; resolves this exception.",
    ) and ui.guard("review", action="review.credit_note"):
        try:
            with write_session() as session:
                note = credit_money_back(
                    session, actor=user.username, review_id=review_id, comment=comment
                )
                number = note.number
        except ValidationError as error:
            st.error(str(error))
        else:
            _done(f"Credit note {number} issued for {options.amount}; exception resolved.")
    if not refund:
        if other.button("Dispute (customer still owes)", key="rev_dispute") and ui.guard(
            "review", action="review.dispute_chargeback"
        ):
            try:
                with write_session() as session:
                    dispute_chargeback(
                        session, actor=user.username, review_id=review_id, comment=comment
                    )
            except ValidationError as error:
                st.error(str(error))
            else:
                _done("Chargeback disputed: the invoice stays open and reminders resume.")
        return
    if not options.credit_notes:
        other.caption("No credit note on this invoice yet to link.")
        return
    notes = dict(options.credit_notes)
    with other:
        note_id = st.selectbox("Credit note", list(notes), format_func=notes.get, key="rev_note")
        if st.button("Link existing credit note", key="rev_link") and ui.guard(
            "review", action="review.link_credit_note"
        ):
            try:
                with write_session() as session:
                    link_credit_note(
                        session,
                        actor=user.username,
                        review_id=review_id,
                        credit_note_id=note_id,
                        comment=comment,
                    )
            except ValidationError as error:
                st.error(str(error))
            else:
                _done(f"Refund linked to credit note {notes[note_id]}; exception resolved.")


labels = {
    item_id: f"#{item_id} · {row[1]} · {row[3] or 'no invoice'}"
    for item_id, row in zip(table.ids, table.rows, strict=True)
}
item_id = st.selectbox("Exception", list(labels), format_func=labels.get, key="rev_pick")
info = review_info(item_id)
if info is None or info.status != ReviewStatus.OPEN:
    st.caption("This exception is resolved.")
    st.stop()
st.markdown(f"**Reason:** {info.reason}")
comment = st.text_area("Comment", key="rev_comment", placeholder="What was checked or done")
money_back_actions(info.id, comment)
accept, resolve, reconcile = st.columns(3)
if (
    info.can_accept_partial
    and accept.button("Accept as partial payment", key="rev_accept", type="primary")
    and ui.guard("review", action="review.accept_partial")
):
    try:
        with write_session() as session:
            item = accept_partial_payment(
                session, actor=user.username, review_id=info.id, comment=comment
            )
            resolution = item.resolution
    except ValidationError as error:
        st.error(str(error))
    else:
        _done(resolution)
if resolve.button("Mark resolved", key="rev_resolve") and ui.guard(
    "review", action="review.resolve"
):
    try:
        with write_session() as session:
            mark_resolved(session, actor=user.username, review_id=info.id, comment=comment)
    except ValidationError as error:
        st.error(str(error))
    else:
        _done("Marked resolved.")
if (
    info.can_reconcile
    and reconcile.button("Reconcile now", key="rev_reconcile")
    and ui.guard("review", action="review.reconcile")
):
    try:
        message = reconcile_review_item(actor=user.username, review_id=info.id)
    except ValidationError as error:
        st.error(str(error))
    else:
        _done(message)
