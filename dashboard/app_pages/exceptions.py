"""Payments → Exceptions: what a person must look at, each with a fitting fix."""

import streamlit as st

from dashboard import data, i18n, ui
from dashboard.i18n import t
from dashboard.stored_texts import stored_text, with_stored_texts
from shared.callbacks.lookup import Found, find_payment
from shared.callbacks.lost_payments import count_held_invoices
from shared.exports import with_totals
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
from shared.views.exceptions import ReviewFilter, review_info, review_rows

# The outcome of Find payment is shown inside its panel, in the colour of what was found.
FIND_PAYMENT = "find_payment"
FOUND_KINDS = {
    Found.BOOKED: "success",
    Found.KNOWN: "info",
    Found.NOT_OURS: "warning",
    Found.NOT_FOUND: "warning",
    Found.UNREACHABLE: "error",
}


def open_invoice(number: str) -> None:
    st.switch_page("app_pages/invoice_detail.py", query_params={"invoice": number})


user = ui.require("view")
tz = ui.tz()
st.title(t("Exceptions"))

ui.show_flash()

held = count_held_invoices()
if held:
    st.warning(
        t(
            "Reminders are held for {count} invoice(s): their pay link was opened and no "
            "payment is known since (Lost payment below). They go out again once the "
            "exception is resolved.",
            count=i18n.number_text(held),
        )
    )


def find_payment_form() -> None:
    """Paste a payment reference from the EveryPay portal or a receipt; book it if ours."""
    channels = {c.id: c.label for c in data.channel_options(active_only=True)}
    with st.expander(t("Find payment"), expanded=held > 0 or ui.has_flash(FIND_PAYMENT)):
        ui.show_flash(FIND_PAYMENT)
        with st.form("find_payment_form"):
            reference = st.text_input(
                t("Payment reference"),
                key="find_reference",
                help=t(
                    "From the EveryPay portal (Payments) or the customer's receipt: 64 "
                    "letters and digits. EveryPay cannot be searched by invoice number."
                ),
            )
            channel_id = None
            if len(channels) > 1:
                channel_id = st.selectbox(
                    t("Channel"),
                    [None, *channels],
                    format_func=lambda c: t("Every active channel") if c is None else channels[c],
                    key="find_channel",
                )
            submitted = st.form_submit_button(t("Find payment"))
        if not submitted:
            return
        # Shown after the rerun, with the table and the held count read afresh.
        ui.page_action(
            lambda: find_payment(
                actor=user.username, channel_id=channel_id, payment_reference=reference
            ),
            permission="review",
            action="payment.find",
            own_transaction=True,
            success=lambda result: ui.Flash(stored_text(result.message), FOUND_KINDS[result.found]),
            flash_at=FIND_PAYMENT,
        )


if user.can("review"):
    find_payment_form()

left, right = st.columns(2)
status = left.segmented_control(
    t("Show"),
    [ReviewStatus.OPEN, ReviewStatus.RESOLVED, "all"],
    default=ReviewStatus.OPEN,
    format_func=lambda status: t((REVIEW_STATUS_LABELS | {"all": "All"})[status]),
    key="rev_status",
)
kinds = right.multiselect(
    t("Kind"),
    [k.value for k in ReviewKind],
    format_func=lambda kind: t(REVIEW_KIND_LABELS[kind]),
    key="rev_kind",
    placeholder=t("Choose options"),
)
flt = ReviewFilter(statuses=() if status in (None, "all") else (status,), kinds=tuple(kinds))
offset, limit = ui.paging("exceptions", flt)
table = data.review_page(flt, tz=tz, offset=offset, limit=limit)
clicked = ui.show_table(
    with_stored_texts(table, "reason", "resolution"),
    key="exceptions_table",
    empty=t("No open exceptions — every payment matched its invoice.")
    if flt == ReviewFilter()
    else t("No exceptions match these filters."),
    badge_columns=("Status",),
    label_columns=("Kind",),
    clickable=True,
)
if not table.rows:
    st.stop()
# A reviewer works an exception here, with the actions below: a click selects it in the
# Exception picker (no dropdown to search), and Open invoice is one click further. Anyone
# else can only look, so a click opens the invoice straight away.
clicked_id = None if clicked is None else table.ids[clicked]
if clicked is not None and not user.can("review") and table.rows[clicked].invoice:
    open_invoice(table.rows[clicked].invoice)
ui.pager("exceptions", table)
ui.export_buttons(
    key="exceptions_export",
    columns=table.columns,
    rows=lambda: with_totals(table.columns, review_rows(flt, tz=tz)),
    total=table.total,
    file_stem="exceptions",
    user=user,
    label_columns=("Status", "Kind"),
)

if not user.can("review"):
    st.stop()


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
        t("Issue credit note for the refunded amount") if refund else t("Accept (credit note)"),
        key="rev_credit",
        type="primary",
        help=t(
            "One credit note of {amount} on the invoice; resolves this exception.",
            amount=options.amount,
        ),
    ):
        ui.page_action(
            lambda session: (
                credit_money_back(
                    session, actor=user.username, review_id=review_id, comment=comment
                ).number
            ),
            permission="review",
            action="review.credit_note",
            success=lambda number: t(
                "Credit note {number} issued for {amount}; exception resolved.",
                number=number,
                amount=options.amount,
            ),
        )
    if not refund:
        if other.button(t("Dispute (customer still owes)"), key="rev_dispute"):
            ui.page_action(
                lambda session: dispute_chargeback(
                    session, actor=user.username, review_id=review_id, comment=comment
                ),
                permission="review",
                action="review.dispute_chargeback",
                success=t("Chargeback disputed: the invoice stays open and reminders resume."),
            )
        return
    if not options.credit_notes:
        other.caption(t("No credit note on this invoice yet to link."))
        return
    notes = dict(options.credit_notes)
    with other:
        note_id = st.selectbox(t("Credit note"), list(notes), format_func=notes.get, key="rev_note")
        if st.button(t("Link existing credit note"), key="rev_link"):
            ui.page_action(
                lambda session: link_credit_note(
                    session,
                    actor=user.username,
                    review_id=review_id,
                    credit_note_id=note_id,
                    comment=comment,
                ),
                permission="review",
                action="review.link_credit_note",
                success=t(
                    "Refund linked to credit note {note}; exception resolved.",
                    note=notes[note_id],
                ),
            )


labels = {
    item_id: f"#{item_id} · {t(row.kind)} · {row.invoice or t('no invoice')}"
    for item_id, row in zip(table.ids, table.rows, strict=True)
}
# Only a new click moves the picker, so choosing another exception there is not undone.
if clicked_id != st.session_state.get("rev_clicked"):
    st.session_state["rev_clicked"] = clicked_id
    if clicked_id is not None:
        st.session_state["rev_pick"] = clicked_id
pick, go = st.columns([3, 1], vertical_alignment="bottom")
item_id = pick.selectbox(t("Exception"), list(labels), format_func=labels.get, key="rev_pick")
number = table.rows[table.ids.index(item_id)].invoice
if number and go.button(t("Open invoice"), key="rev_open_invoice", icon=":material/description:"):
    open_invoice(number)
info = review_info(item_id)
if info is None or info.status != ReviewStatus.OPEN:
    st.caption(t("This exception is resolved."))
    st.stop()
st.markdown(t("**Reason:** {reason}", reason=stored_text(info.reason)))
comment = st.text_area(t("Comment"), key="rev_comment", placeholder=t("What was checked or done"))
money_back_actions(info.id, comment)
accept, resolve, reconcile = st.columns(3)
if info.can_accept_partial and accept.button(
    t("Accept as partial payment"), key="rev_accept", type="primary"
):
    ui.page_action(
        lambda session: (
            accept_partial_payment(
                session, actor=user.username, review_id=info.id, comment=comment
            ).resolution
        ),
        permission="review",
        action="review.accept_partial",
        success=stored_text,
    )
if resolve.button(t("Mark resolved"), key="rev_resolve"):
    ui.page_action(
        lambda session: mark_resolved(
            session, actor=user.username, review_id=info.id, comment=comment
        ),
        permission="review",
        action="review.resolve",
        success=t("Marked resolved."),
    )
if info.can_reconcile and reconcile.button(t("Reconcile now"), key="rev_reconcile"):
    ui.page_action(
        lambda: reconcile_review_item(actor=user.username, review_id=info.id),
        permission="review",
        action="review.reconcile",
        own_transaction=True,
        success=lambda message: message,
    )
