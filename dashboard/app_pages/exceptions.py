"""Payments → Exceptions: what a person must look at, each with a fitting fix."""

import streamlit as st

from dashboard import data, ui
from shared.callbacks.lookup import Found, find_payment
from shared.callbacks.lost_payments import count_held_invoices
from shared.db import write_session
from shared.errors import ValidationError
from shared.models import ReviewKind, ReviewStatus
from shared.review import (
    accept_partial_payment,
    credit_money_back,
    dispute_chargeback,
    link_credit_note,
    mark_resolved,
    money_back_options,
    reconcile_review_item,
)
from shared.states import REVIEW_KIND_LABELS, REVIEW_STATUS_LABELS
from shared.views.exceptions import ReviewFilter, review_info

user = ui.require("view")
tz = ui.tz()
st.title("Exceptions")

flash = st.session_state.pop("exceptions_flash", None)
if flash:
    st.success(flash)

held = count_held_invoices()
if held:
    st.warning(
        f"Reminders are held for {held} invoice(s): their pay link was opened and no payment "
        "is known since (Lost payment below). They go out again once the exception is resolved."
    )


def find_payment_form() -> None:
    """Paste a payment reference from the EveryPay portal or a receipt; book it if ours."""
    channels = {c.id: c.label for c in data.channel_options(active_only=True)}
    last = st.session_state.pop("find_payment_result", None)
    with st.expander("Find payment", expanded=held > 0 or last is not None):
        if last is not None:
            found, message = last
            show = {
                Found.BOOKED: st.success,
                Found.KNOWN: st.info,
                Found.NOT_OURS: st.warning,
                Found.NOT_FOUND: st.warning,
                Found.UNREACHABLE: st.error,
            }[found]
            show(message)
        with st.form("find_payment_form"):
            reference = st.text_input(
                "Payment reference",
                key="find_reference",
                help="From the EveryPay portal (Payments) or the customer's receipt: 64 "
                "letters and digits. EveryPay cannot be searched by invoice number.",
            )
            channel_id = None
            if len(channels) > 1:
                channel_id = st.selectbox(
                    "Channel",
                    [None, *channels],
                    format_func=lambda c: "Every active channel" if c is None else channels[c],
                    key="find_channel",
                )
            submitted = st.form_submit_button("Find payment")
        if not submitted or not ui.guard("review", action="payment.find"):
            return
        try:
            result = find_payment(
                actor=user.username, channel_id=channel_id, payment_reference=reference
            )
        except ValidationError as error:
            st.error(str(error))
            return
    # Shown after the rerun, with the table and the held count read afresh.
    st.session_state["find_payment_result"] = (result.found, result.message)
    ui.after_write()
    st.rerun()


if user.can("review"):
    find_payment_form()

left, right = st.columns(2)
status = left.segmented_control(
    "Show",
    [ReviewStatus.OPEN, ReviewStatus.RESOLVED, "all"],
    default=ReviewStatus.OPEN,
    format_func=(REVIEW_STATUS_LABELS | {"all": "All"}).get,
    key="rev_status",
)
kinds = right.multiselect(
    "Kind", [k.value for k in ReviewKind], format_func=REVIEW_KIND_LABELS.get, key="rev_kind"
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
    item_id: f"#{item_id} · {row.kind} · {row.invoice or 'no invoice'}"
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
