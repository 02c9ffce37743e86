"""One invoice: header, lines, totals, pay link, payment funnel, attempts, callbacks, messages.

Opened from the Invoices or Payments list, or directly with ``?invoice=<number or id>``: a
link a colleague can paste (the address shows the number once the invoice is open).
"""

from collections.abc import Callable
from dataclasses import replace

import pandas as pd
import streamlit as st
from sqlmodel import Session

from dashboard import data, ui
from dashboard.app_pages.sending import einvoice_download, render_sending_actions
from dashboard.i18n import date_text, datetime_text, error_text, language, number_text, t
from dashboard.invoice_editor import invoice_editor, reset_editor
from dashboard.payment_forms import record_payment_form
from shared.documents import render_credit_note_pdf, transfer_details
from shared.einvoice.sending import EinvoiceTarget
from shared.errors import ValidationError
from shared.invoicing import LineInput, cancel_invoice, delete_draft, issue_invoice
from shared.ledger.credit_notes import (
    CreditingOverview,
    credit_amount,
    crediting_overview,
    issue_credit_note,
    parse_credit_amount,
)
from shared.ledger.holds import CollectionHold, held_by
from shared.ledger.posting import POSTABLE_STATUSES
from shared.models import InvoiceStatus, SendingMethod
from shared.money import from_minor
from shared.numbering import CREDIT_NOTE, BackdatedIssue
from shared.sending import send_credit_note_email, sending_overview
from shared.views.invoice_detail import InvoiceDetail, invoice_id_by_number, payment_signature
from shared.views.invoice_timeline import invoice_timeline

LIVE_REFRESH_SECONDS = 3
# The shape of an invoice number, written the same in every language.
EXAMPLE_NUMBER = "INV-2026-0001"

user = ui.require("view")
today, tz = ui.today(), ui.tz()


def _selected_id() -> int | None:
    """The invoice the address names (a number, or an id for a draft), else the one last
    opened. An unknown number is said on the page and opens nothing."""
    raw = st.query_params.get("invoice")
    if raw is None:
        return st.session_state.get("invoice_id")
    if raw.isdigit():
        return int(raw)
    found = invoice_id_by_number(raw)
    if found is None:
        st.title(t("Invoice detail"))
        st.error(t("No invoice {number}.", number=raw))
        st.session_state.pop("invoice_id", None)
        st.stop()
    return found


def _open(invoice_id: int | None) -> None:
    if invoice_id is not None:
        st.session_state["invoice_id"] = invoice_id
        st.query_params["invoice"] = str(invoice_id)


def header(invoice: InvoiceDetail) -> None:
    title, badge = st.columns([4, 1], vertical_alignment="center")
    title.title(
        t("Invoice {number}", number=invoice.number) if invoice.number else t("Draft invoice")
    )
    with badge:
        st.badge(
            t(invoice.shown_status),
            color=ui.STATUS_COLORS.get(invoice.shown_status, "gray"),
        )
    st.markdown(
        t(
            "**{customer}** {email}  \nIssue date {issue_date} · Supply date {supply_date} · "
            "Due date {due_date} · Channel {channel}",
            customer=invoice.customer_name,
            email=invoice.customer_email,
            issue_date=date_text(invoice.issue_date) or "—",
            supply_date=date_text(invoice.supply_date or invoice.issue_date) or "—",
            due_date=date_text(invoice.due_date) or "—",
            channel=invoice.channel_name or t("no online payment"),
        )
    )
    if invoice.cancellation_reason:
        st.warning(t("Cancelled: {reason}", reason=invoice.cancellation_reason))
    total, paid, open_ = st.columns(3)
    total.metric(t("Total"), ui.money(invoice.total, invoice.currency))
    paid.metric(t("Paid"), ui.money(invoice.paid, invoice.currency))
    open_.metric(t("Open balance"), ui.money(invoice.open, invoice.currency))


def lines_and_totals(invoice: InvoiceDetail) -> None:
    st.subheader(t("Lines"))
    ui.show_table(invoice.lines, key="detail_lines", empty=t("No lines."))
    amount = t("Amount")
    rows = [
        {"": t("Net"), amount: invoice.subtotal},
        *(
            {
                "": t("VAT {rate}% on {net}", rate=rate, net=ui.money(net, invoice.currency)),
                amount: vat,
            }
            for rate, net, vat in invoice.vat_breakdown
        ),
        {"": t("Total"), amount: invoice.total},
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        key="detail_totals",
        column_config={amount: st.column_config.NumberColumn(format="%.2f")},
    )


def issue_with_confirmation(
    clicked: bool,
    run: Callable[[Session, bool], str],
    *,
    key: str,
    action: str,
    success: Callable[[str], str],
    then: Callable[[], object] = lambda: None,
) -> None:
    """Issues through ``run(session, confirm_backdated)`` once ``clicked``. When the
    document would be numbered after a later-dated one, the page says so and asks;
    confirming issues it, and the audit log records the number it follows."""
    pending = f"{key}_backdated"

    def ask(error: ValidationError) -> None:
        if isinstance(error, BackdatedIssue):
            st.session_state[pending] = error_text(error)
            st.rerun()
        st.error(error_text(error))

    def issue(confirmed: bool) -> None:
        ui.page_action(
            lambda session: run(session, confirmed),
            permission="edit",
            action=action,
            on_error=ask,
            then=lambda _: (st.session_state.pop(pending, None), then()),
            success=success,
        )

    if clicked:
        issue(False)
    if pending in st.session_state:
        st.warning(st.session_state[pending], icon=":material/warning:")
        yes, no = st.columns(2)
        if yes.button(t("Issue anyway"), key=f"{key}_anyway", type="primary"):
            issue(True)
        if no.button(t("Do not issue"), key=f"{key}_not"):
            st.session_state.pop(pending, None)
            st.rerun()


def draft_actions(invoice: InvoiceDetail) -> None:
    st.subheader(t("Edit draft"))
    key = f"edit_{invoice.id}"
    invoice_editor(
        key=key,
        username=user.username,
        existing=invoice,
        then=lambda _: reset_editor(key),
        success=t("Draft saved."),
    )
    issue, delete = st.columns(2)

    def issued(session: Session, confirmed: bool) -> str:
        return issue_invoice(
            session, actor=user.username, invoice_id=invoice.id, confirm_backdated=confirmed
        ).number

    issue_with_confirmation(
        issue.button(t("Issue"), type="primary", key="detail_issue", icon=":material/send:"),
        issued,
        key="detail_issue",
        action="invoice.issue",
        success=lambda number: t(
            "Invoice {number} issued. Choose how to send it below.", number=number
        ),
        then=lambda: reset_editor(key),
    )
    if delete.button(t("Delete draft"), key="detail_delete", icon=":material/delete:"):
        st.session_state["confirm_delete"] = invoice.id
    if st.session_state.get("confirm_delete") == invoice.id:
        st.warning(t("Delete this draft for good?"))
        yes, no = st.columns(2)

        def deleted(_: None) -> None:
            st.session_state.pop("confirm_delete", None)
            st.session_state.pop("invoice_id", None)
            st.query_params.clear()
            reset_editor(key)
            st.switch_page("app_pages/invoices.py")

        if yes.button(t("Yes, delete"), key="detail_delete_yes", type="primary"):
            ui.page_action(
                lambda session: delete_draft(session, actor=user.username, invoice_id=invoice.id),
                permission="edit",
                action="invoice.delete_draft",
                then=deleted,
            )
        if no.button(t("Keep it"), key="detail_delete_no"):
            st.session_state.pop("confirm_delete", None)
            st.rerun()


def cancel_action(invoice: InvoiceDetail) -> None:
    with st.expander(t("Cancel invoice")):
        reason = st.text_input(t("Reason"), key="detail_cancel_reason")
        confirm = st.checkbox(
            t("I understand that a cancelled invoice cannot be paid or reopened."),
            key="detail_cancel_confirm",
        )
        if st.button(t("Cancel invoice"), key="detail_cancel", disabled=not confirm):
            ui.page_action(
                lambda session: cancel_invoice(
                    session, actor=user.username, invoice_id=invoice.id, reason=reason
                ),
                permission="edit",
                action="invoice.cancel",
                success=t("Invoice cancelled."),
            )


def sending(invoice: InvoiceDetail) -> None:
    st.subheader(t("Send"))
    render_sending_actions(invoice.id, username=user.username, role=user.role)


def pay_link(invoice: InvoiceDetail) -> None:
    st.subheader(t("Pay link"))
    if invoice.pay_link:
        st.code(invoice.pay_link, language=None, wrap_lines=True)
        st.caption(
            t(
                "Asks for the open balance, {amount}.",
                amount=ui.money(invoice.open, invoice.currency),
            )
        )
    elif invoice.status == InvoiceStatus.PAID:
        st.success(t("Paid — the customer's page shows “paid” instead of a pay button."))
    elif invoice.channel_id is None:
        st.caption(t("No online payment channel on this invoice."))
    else:
        st.caption(t("No pay link: the invoice is not open for payment, or its channel is off."))
    transfer = transfer_details(invoice_id=invoice.id)
    st.caption(t("Bank transfer reference (RF): **{reference}**", reference=transfer.reference))
    if transfer.seller_iban is None:
        st.info(
            t(
                "No SEPA QR code on this invoice's PDF and page: the company has no regular "
                "bank account with an IBAN. Add one under Money → Bank accounts; the RF "
                "reference is printed all the same."
            ),
            icon=":material/qr_code:",
        )


def _payments_and_credits_section(invoice: InvoiceDetail) -> None:
    """The invoice's ledger, its customer's credit, and recording a payment by hand."""
    st.subheader(t("Payments and credits"))
    if invoice.open < 0:
        st.info(
            t(
                "Customer credit: {amount} — paid more than this invoice asks. Apply it to "
                "another invoice or mark it refunded on Customers.",
                amount=ui.money(-invoice.open, invoice.currency),
            )
        )
    ui.show_table(
        data.invoice_ledger(invoice.id, tz=tz),
        key="detail_ledger",
        empty=t("No payments or credits yet."),
        label_columns=("Kind", "Source"),
    )
    if not user.can("edit") or invoice.status not in POSTABLE_STATUSES:
        return
    with st.expander(t("Record payment"), icon=":material/add_card:"):
        record_payment_form(
            key=f"detail_rp_{invoice.id}",
            username=user.username,
            today=today,
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            amount=f"{invoice.open:f}" if invoice.open > 0 else "",
        )


CREDIT_MODES = {
    "full": "The whole invoice (all that is left)",
    "lines": "Chosen lines",
    "amount": "An amount including VAT",
}


def credit_notes(invoice: InvoiceDetail, crediting: CreditingOverview) -> None:
    """The invoice's credit notes and, for finance, issuing one: how an invoice with money
    on it is settled when it is not owed after all (it is never cancelled then)."""
    hold = held_by(invoice_id=invoice.id)
    if hold is not None:
        st.info(_held_text(hold))
    may_issue = crediting.can_credit and user.can("edit")
    if not crediting.notes and not may_issue:
        return
    st.subheader(t("Credit notes"))
    if crediting.notes:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        t("Number"): note.number,
                        t("Date"): date_text(note.issue_date),
                        t("Reason"): note.reason,
                        t("Total"): ui.money(note.total, crediting.currency),
                    }
                    for note in crediting.notes
                ]
            ),
            hide_index=True,
            key="detail_credit_notes",
        )
        _credit_note_actions(crediting)
    if may_issue:
        _issue_credit_note_form(invoice, crediting)


def _held_text(hold: CollectionHold) -> str:
    what = t(hold.what)
    if hold.amount_minor is None:
        return t(
            "Reminders and the customer's pay button are held while {what} is under review "
            "(exception #{exception}).",
            what=what,
            exception=hold.exception_id,
        )
    return t(
        "Reminders and the customer's pay button are held while {what} of {amount} is "
        "under review (exception #{exception}).",
        what=what,
        amount=ui.money(from_minor(hold.amount_minor, hold.currency), hold.currency),
        exception=hold.exception_id,
    )


def _credit_note_actions(crediting: CreditingOverview) -> None:
    numbers = {note.id: note.number for note in crediting.notes}
    pdf, send = st.columns([3, 2], vertical_alignment="bottom")
    with pdf:
        note_id = st.selectbox(
            t("Credit note"), list(numbers), format_func=numbers.get, key="cn_pick"
        )
        st.download_button(
            t("Download credit note PDF"),
            data=lambda: render_credit_note_pdf(credit_note_id=note_id),
            file_name=f"{numbers[note_id]}.pdf",
            mime="application/pdf",
            key="cn_pdf",
        )
        einvoice_download(
            EinvoiceTarget(crediting.invoice_id, note_id),
            file_name=f"{numbers[note_id]}.xml",
            username=user.username,
            role=user.role,
        )
    overview = sending_overview(invoice_id=crediting.invoice_id)
    attach = user.can("edit") and send.checkbox(
        t("Attach e-invoice (XML)"),
        value=overview is not None and overview.sending_method == SendingMethod.EMAIL_EINVOICE,
        key="cn_einvoice",
    )
    if user.can("edit") and send.button(t("E-mail it to the customer"), key="cn_send"):
        ui.page_action(
            lambda: send_credit_note_email(
                credit_note_id=note_id, actor=user.username, attach_einvoice=attach
            ),
            permission="edit",
            action="credit_note.send_email",
            own_transaction=True,
            # A mail the server refused is told at once, next to the button.
            rerun=lambda log: not log.error,
            success=lambda log: (
                ui.Flash(t("Not sent: {error}", error=log.error), "error")
                if log.error
                else t(
                    "Credit note {number} e-mailed to {recipients}.",
                    number=numbers[note_id],
                    recipients=log.recipients,
                )
            ),
        )


def _issue_credit_note_form(invoice: InvoiceDetail, crediting: CreditingOverview) -> None:
    currency = crediting.currency
    with st.expander(t("Issue credit note")):
        st.caption(
            t(
                "Left to credit: {creditable} (credited so far {credited}). A credit note is "
                "numbered in its own series and never deleted; on a paid invoice it becomes "
                "the customer's credit.",
                creditable=ui.money(crediting.creditable, currency),
                credited=ui.money(crediting.credited, currency),
            )
        )
        # Translated here, not in format_func, which may run outside this page's run.
        modes = {code: t(label) for code, label in CREDIT_MODES.items()}
        mode = st.radio(t("Credit"), list(modes), format_func=modes.__getitem__, key="cn_mode")
        chosen: list[LineInput] = []
        typed_amount = ""
        if mode == "lines":
            credit, description, quantity, unit_price, vat = (
                t("Credit"),
                t("Description"),
                t("Quantity"),
                t("Unit price"),
                t("VAT"),
            )
            edited = st.data_editor(
                pd.DataFrame(
                    [
                        {
                            credit: False,
                            description: line.description,
                            quantity: line.quantity,
                            unit_price: line.unit_price,
                            vat: f"{line.vat_rate} % ({line.vat_category})",
                        }
                        for line in crediting.lines
                    ]
                ),
                hide_index=True,
                disabled=[vat],
                key="cn_lines",
            )
            st.caption(t("Tick the lines to credit; lower the quantity or price for a part."))
            # The VAT category, rate and exemption stay the invoice line's.
            chosen = [
                replace(
                    line,
                    description=row[description],
                    quantity=str(row[quantity]),
                    unit_price=str(row[unit_price]),
                )
                for row, line in zip(edited.to_dict("records"), crediting.lines, strict=True)
                if row[credit]
            ]
        elif mode == "amount":
            typed_amount = st.text_input(
                t("Amount including VAT ({currency})", currency=currency),
                key="cn_amount",
                placeholder="40.00",
            )
        reason = st.text_input(t("Reason"), key="cn_reason", placeholder=t("Returned goods"))
        series_choices = data.series_choices(document_type=CREDIT_NOTE)
        series = (
            st.selectbox(t("Series"), series_choices, key="cn_series")
            if len(series_choices) > 1
            else None
        )

        def issue(session: Session, confirmed: bool) -> str:
            if mode == "amount":
                note = credit_amount(
                    session,
                    actor=user.username,
                    invoice_id=invoice.id,
                    reason=reason,
                    amount_minor=parse_credit_amount(typed_amount, currency=currency),
                    description=reason,
                    series=series,
                    confirm_backdated=confirmed,
                )
            else:
                note = issue_credit_note(
                    session,
                    actor=user.username,
                    invoice_id=invoice.id,
                    reason=reason,
                    lines=chosen,
                    full=mode == "full",
                    series=series,
                    confirm_backdated=confirmed,
                )
            return note.number

        issue_with_confirmation(
            st.button(t("Issue credit note"), key="cn_issue", type="primary"),
            issue,
            key="cn_issue",
            action="credit_note.issue",
            success=lambda number: t("Credit note {number} issued.", number=number),
        )


def timeline(invoice: InvoiceDetail) -> None:
    """Messages, link opens, payments, callbacks and people's actions in one story."""
    with st.expander(t("Timeline"), icon=":material/timeline:"):
        story = invoice_timeline(invoice.id, tz=tz, wording=t, language=language())
        ui.show_table(story, key="detail_timeline", empty=t("Nothing has happened yet."))
        ui.export_buttons(
            key="detail_timeline_export",
            columns=story.columns,
            rows=lambda: story.rows,
            total=story.total,
            file_stem=f"timeline-{invoice.number}",
            user=user,
        )


def funnel(invoice: InvoiceDetail) -> None:
    st.subheader(t("Payment funnel"))
    for column, step in zip(st.columns(len(invoice.funnel)), invoice.funnel, strict=True):
        column.metric(t(step.label), number_text(step.count))
        if step.first_at:
            column.caption(t("first {moment}", moment=datetime_text(step.first_at)))


invoice_id = _selected_id()
if invoice_id is None:
    st.title(t("Invoice detail"))
    st.info(t("Open an invoice from the Invoices list, or find it by number."))
    number = st.text_input(t("Invoice number"), key="detail_find", placeholder=EXAMPLE_NUMBER)
    if number:
        found = invoice_id_by_number(number)
        if found is None:
            st.error(t("No invoice {number}.", number=number))
        else:
            _open(found)
            st.rerun()
    st.stop()


@st.fragment(run_every=LIVE_REFRESH_SECONDS)
def follow_payments(invoice_id: int, shown: tuple) -> None:
    """Redraws the page when a payment arrives, so the open invoice turns paid by itself."""
    ui.follow_session()
    if payment_signature(invoice_id) != shown:
        ui.after_write()
        ui.background_rerun()


_open(invoice_id)
shown_signature = payment_signature(invoice_id)
invoice = data.invoice_detail(invoice_id, today=today, tz=tz)
if invoice is None:
    st.error(t("That invoice does not exist (a deleted draft?)."))
    st.session_state.pop("invoice_id", None)
    st.stop()
if invoice.number:
    st.query_params["invoice"] = invoice.number

if invoice.status != InvoiceStatus.DRAFT:
    follow_payments(invoice_id, shown_signature)

ui.show_flash()
header(invoice)

if invoice.status == InvoiceStatus.DRAFT and user.can("edit"):
    draft_actions(invoice)
    st.stop()

lines_and_totals(invoice)
if invoice.status != InvoiceStatus.DRAFT:
    crediting = crediting_overview(invoice_id=invoice.id)
    pay_link(invoice)
    if invoice.status != InvoiceStatus.CANCELLED:
        sending(invoice)
    _payments_and_credits_section(invoice)
    if crediting is not None:
        credit_notes(invoice, crediting)
    funnel(invoice)
    st.subheader(t("Payment attempts"))
    ui.show_table(
        invoice.attempts,
        key="detail_attempts",
        empty=t("No payment attempts yet."),
        badge_columns=("State",),
        label_columns=("Method",),
    )
    st.subheader(t("Callbacks"))
    ui.show_table(
        invoice.callbacks,
        key="detail_callbacks",
        empty=t("No callbacks yet."),
        badge_columns=("Processing status",),
    )
    if invoice.waiting_callbacks:
        st.caption(
            t(
                "{count} callback(s) wait for EveryPay's answer about the payment; the "
                "invoice changes once it comes.",
                count=number_text(invoice.waiting_callbacks),
            )
        )
    timeline(invoice)
    # Once money moved on the invoice, cancel_invoice refuses: a credit note settles it.
    if (
        user.can("edit")
        and invoice.status not in (InvoiceStatus.CANCELLED, InvoiceStatus.PAID)
        and crediting is not None
        and not crediting.has_money
    ):
        cancel_action(invoice)
