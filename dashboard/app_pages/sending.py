"""The sending panel of an invoice (e-mail, online link, PDF, e-invoice, message log,
reminders) and the bulk e-mail action of the invoice list. UI only: the work is in
shared.sending and shared.einvoice.sending.

Not a page of its own: the invoice detail and invoice list pages call these functions.
"""

from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from dashboard import ui
from dashboard.i18n import datetime_text, error_text, number_text, t, t_context
from shared.einvoice.sending import DownloadSender, EinvoiceTarget, EmailAttachmentSender
from shared.errors import ValidationError
from shared.models import MessageChannel, MessageLog, MessageStatus, SendingMethod
from shared.reminders import REMINDER_DAYS, set_reminders
from shared.sending import (
    EMAIL_CHANNELS,
    BulkSendReport,
    SendingOverview,
    einvoice_copy,
    invoice_pdf_copy,
    message_log,
    record_link_shared,
    record_pdf_download,
    resend_message,
    send_invoice_email,
    send_invoices_by_email,
    sending_overview,
)
from shared.users import can

CHANNEL_LABELS = {
    MessageChannel.EMAIL: "E-mail",
    MessageChannel.LINK: "Online link",
    MessageChannel.PDF: "PDF",
    MessageChannel.REMINDER: "Reminder",
    MessageChannel.CREDIT_NOTE: "Credit note",
    MessageChannel.EINVOICE: "E-invoice (XML)",
}


def render_sending_actions(invoice_id: int, *, username: str, role: str) -> None:
    overview = sending_overview(invoice_id=invoice_id)
    if overview is None:
        st.error(t("That invoice does not exist."))
        return
    ui.show_flash(_panel(invoice_id))
    may_send = can(role, "edit")
    if overview.blocked:
        st.info(overview.blocked)
    elif may_send:
        email_column, other_column = st.columns([3, 2])
        with email_column:
            _email_form(overview, username=username)
        with other_column:
            _online_link(overview, username=username)
            _pdf_download(overview, username=username, role=role)
            einvoice_download(
                EinvoiceTarget(invoice_id),
                file_name=overview.einvoice_name,
                username=username,
                role=role,
                preferred=overview.sending_method == SendingMethod.EINVOICE,
            )
    else:
        st.caption(t("Your role can see how the invoice was sent, but not send it."))
        einvoice_download(
            EinvoiceTarget(invoice_id),
            file_name=overview.einvoice_name,
            username=username,
            role=role,
        )
        if can(role, "export"):
            _pdf_copy(overview, username=username, role=role)
    _message_table(invoice_id, may_send=may_send, username=username)
    _reminders_toggle(overview, may_send=may_send, username=username)


def _panel(invoice_id: int) -> str:
    """Where the outcome of a sending action is shown: in this panel, next to its buttons."""
    return f"sending_{invoice_id}"


def _show_error(error: ValidationError) -> None:
    st.error(error_text(error), icon=":material/error:")


def _email_form(overview: SendingOverview, *, username: str) -> None:
    key = f"send_email_{overview.invoice_id}"
    with st.form(key):
        to = st.text_input(t_context("e-mail", "To"), value=overview.to, key=f"{key}_to")
        cc = st.text_input(
            t("CC"),
            value=overview.cc,
            key=f"{key}_cc",
            help=t("Several addresses: separate by commas."),
        )
        st.caption(
            t(
                "The e-mail carries the pay link for the open balance, the payment methods, a "
                "link to the online invoice and the PDF."
            )
        )
        attach = st.checkbox(
            t("Attach e-invoice (XML)"),
            value=overview.sending_method == SendingMethod.EMAIL_EINVOICE,
            key=f"{key}_einvoice",
            help=t(
                "Peppol BIS Billing 3.0 with the PDF inside, for the customer's accounting "
                "system; checked against the e-invoice rules before the e-mail goes."
            ),
        )
        submitted = st.form_submit_button(t("Send e-mail"), type="primary")
    if not submitted:
        return

    def send() -> MessageLog:
        with st.spinner(t("Sending…")):
            if attach:
                sender = EmailAttachmentSender(to=to, cc=cc)
                return sender.send(target=EinvoiceTarget(overview.invoice_id), actor=username).log
            return send_invoice_email(
                invoice_id=overview.invoice_id, actor=username, to=to, cc=cc, attach_einvoice=False
            )

    ui.page_action(
        send,
        permission="edit",
        action="invoice.send_email",
        own_transaction=True,
        on_error=_show_error,
        success=lambda log: (
            t("E-mail sent to {recipients}.", recipients=log.recipients)
            if log.status == MessageStatus.SENT
            else ui.Flash(
                t(
                    "The e-mail was not sent: {error} It is in the message log; re-send it there.",
                    error=log.error,
                ),
                "error",
            )
        ),
        flash_at=_panel(overview.invoice_id),
    )


def _online_link(overview: SendingOverview, *, username: str) -> None:
    key = f"shared_link_{overview.invoice_id}"
    st.caption(
        t(
            "The customer's page shows the invoice, its PDF and a Pay online button that "
            "always asks for the current open balance."
        )
    )
    if st.button(t("Online link"), key=f"{key}_button"):
        ui.page_action(
            lambda: record_link_shared(invoice_id=overview.invoice_id, actor=username),
            permission="edit",
            action="invoice.send_link",
            own_transaction=True,
            then=lambda url: st.session_state.update({key: url}),
            rerun=False,
        )
    url = st.session_state.get(key)
    if url:
        st.code(url, language=None, wrap_lines=True)
        st.link_button(t("Open the customer's page"), url, icon=":material/open_in_new:")


def _pdf_download(overview: SendingOverview, *, username: str, role: str) -> None:
    st.caption(
        t("Download or print the invoice; while unpaid it carries the pay link and a QR code.")
    )

    def pdf_bytes() -> bytes:
        # Runs on its own thread when clicked, where Streamlit calls are ignored, so the
        # role is checked here as well as by hiding the button.
        if not can(role, "edit"):
            raise PermissionError("role may not send invoices")
        return record_pdf_download(invoice_id=overview.invoice_id, actor=username)

    st.download_button(
        t("Download PDF"),
        data=pdf_bytes,
        file_name=overview.pdf_name,
        mime="application/pdf",
        key=f"send_pdf_{overview.invoice_id}",
    )


def einvoice_download(
    target: EinvoiceTarget, *, file_name: str, username: str, role: str, preferred: bool = False
) -> None:
    """Makes the e-invoice XML and offers it for download. For a role that may send, making
    it is a sending (logged); others get a copy. A broken rule is shown here, by its id."""
    key = f"einvoice_{target.invoice_id}_{target.credit_note_id or 0}"
    may_send = can(role, "edit")
    if st.button(
        t("E-invoice (XML)"),
        key=f"{key}_make",
        type="primary" if preferred else "secondary",
        icon=":material/receipt_long:",
        help=t(
            "Peppol BIS Billing 3.0 (UBL) with the PDF inside, for the customer's "
            "accounting system or e-invoice portal."
        )
        + (" " + t("The customer takes their invoices this way.") if preferred else ""),
    ):

        def make() -> bytes:
            if may_send:
                return DownloadSender().send(target=target, actor=username).file.content
            return einvoice_copy(
                invoice_id=target.invoice_id, credit_note_id=target.credit_note_id, actor=username
            )

        ui.page_action(
            make,
            permission="edit" if may_send else "view",
            action="invoice.send_einvoice",
            own_transaction=True,
            on_error=_show_error,
            then=lambda xml: st.session_state.update({key: xml}),
            rerun=False,
        )
    xml = st.session_state.get(key)
    if xml:
        st.download_button(
            t("Download {file_name}", file_name=file_name),
            data=xml,
            file_name=file_name,
            mime="application/xml",
            key=f"{key}_download",
            icon=":material/download:",
        )


def _pdf_copy(overview: SendingOverview, *, username: str, role: str) -> None:
    """A read-only copy of the PDF: the invoice is not marked as sent."""

    def pdf_bytes() -> bytes:
        # As in _pdf_download: runs on its own thread, so the role is checked here too.
        if not can(role, "export"):
            raise PermissionError("role may not download invoices")
        return invoice_pdf_copy(invoice_id=overview.invoice_id, actor=username)

    st.download_button(
        t("Download a copy (PDF)"),
        data=pdf_bytes,
        file_name=overview.pdf_name,
        mime="application/pdf",
        key=f"copy_pdf_{overview.invoice_id}",
        on_click="ignore",
        icon=":material/download:",
    )


def _message_table(invoice_id: int, *, may_send: bool, username: str) -> None:
    st.markdown(t("**Message log**"))
    rows = message_log(invoice_id=invoice_id)
    if not rows:
        st.caption(t("Not sent yet."))
        return
    zone = ZoneInfo(ui.tz())
    # The subject, the server's error and who sent it are shown as they were recorded.
    st.dataframe(
        pd.DataFrame(
            [
                {
                    t("Time"): datetime_text(row.created_at.astimezone(zone)),
                    t("Channel"): t(CHANNEL_LABELS.get(row.channel, row.channel))
                    + (" + " + t("e-invoice") if row.einvoice_attached else ""),
                    t("Recipients"): row.recipients,
                    t("Subject"): row.subject,
                    t("Status"): t(row.status.capitalize()),
                    t("Attempts"): row.attempts,
                    t("Error"): row.error or "",
                    t("By"): row.sent_by,
                }
                for row in rows
            ]
        ),
        hide_index=True,
        width="stretch",
        key=f"message_log_{invoice_id}",
    )
    failed = [r for r in rows if r.status == MessageStatus.FAILED and r.channel in EMAIL_CHANNELS]
    for row in failed if may_send else []:
        left, right = st.columns([5, 1], vertical_alignment="center")
        left.error(
            t(
                "{moment} to {recipients}: {error}",
                moment=datetime_text(row.created_at.astimezone(zone)),
                recipients=row.recipients,
                error=row.error,
            )
        )
        if right.button(t("Re-send"), key=f"resend_{row.id}", icon=":material/replay:"):
            _resend(invoice_id, row.id, username=username)


def _resend(invoice_id: int, log_id: int, *, username: str) -> None:
    def resend() -> MessageLog:
        with st.spinner(t("Sending…")):
            return resend_message(log_id=log_id, actor=username)

    def refused(error: ValidationError) -> None:
        ui.flash(ui.Flash(error_text(error), "warning"), at=_panel(invoice_id))
        st.rerun()

    ui.page_action(
        resend,
        permission="edit",
        action="invoice.resend_email",
        own_transaction=True,
        on_error=refused,
        success=lambda log: (
            t("E-mail re-sent to {recipients}.", recipients=log.recipients)
            if log.status == MessageStatus.SENT
            else ui.Flash(t("Still not sent: {error}", error=log.error), "error")
        ),
        flash_at=_panel(invoice_id),
    )


def _reminders_toggle(overview: SendingOverview, *, may_send: bool, username: str) -> None:
    key = f"reminders_{overview.invoice_id}"
    days = ", ".join(str(day) for day in REMINDER_DAYS)

    def changed() -> None:
        # A callback: Streamlit reruns after it anyway, and ignores st.rerun inside one.
        done = ui.page_action(
            lambda: set_reminders(
                invoice_id=overview.invoice_id, enabled=st.session_state[key], actor=username
            ),
            permission="edit",
            action="invoice.reminders",
            own_transaction=True,
            rerun=False,
        )
        if not done:
            st.session_state[key] = overview.reminders_enabled

    st.toggle(
        t("Payment reminders by e-mail {days} days after the due date", days=days),
        value=overview.reminders_enabled,
        key=key,
        on_change=changed,
        disabled=not may_send or overview.blocked is not None,
        help=t("Each reminder carries the current pay link and goes out once."),
    )
    if overview.reminders_enabled and overview.reminders_held_by is not None:
        st.caption(
            t(
                "Reminders are held: the pay link was opened and no payment is known since. "
                "Resolve exception #{exception} (Payments → Exceptions, Find payment) to let "
                "them go out again.",
                exception=overview.reminders_held_by,
            )
        )


def render_bulk_send(invoice_ids: list[int], *, username: str, role: str) -> None:
    """E-mails the selected invoices to their customers, with a progress bar."""
    if not can(role, "edit"):
        return
    if not invoice_ids:
        st.caption(t("Select invoices to e-mail them to their customers."))
        return
    count = number_text(len(invoice_ids))
    label = (
        t("E-mail {count} invoice", count=count)
        if len(invoice_ids) == 1
        else t("E-mail {count} invoices", count=count)
    )
    if not st.button(label, key="bulk_send", icon=":material/forward_to_inbox:"):
        return

    def send() -> BulkSendReport:
        bar = st.progress(0.0, text=t("Sending…"))
        return send_invoices_by_email(
            invoice_ids=invoice_ids,
            actor=username,
            progress=lambda done, total, current: bar.progress(
                done / total,
                text=t(
                    "{done} of {total}: {current}",
                    done=number_text(done),
                    total=number_text(total),
                    current=current,
                ),
            ),
        )

    ui.page_action(
        send,
        permission="edit",
        action="invoice.bulk_send",
        own_transaction=True,
        then=_bulk_report,
        rerun=False,
    )


def _bulk_report(report: BulkSendReport) -> None:
    """The summary stays on the page with a line for each invoice not sent."""
    summary = t(
        "{sent} sent, {failed} failed, {skipped} skipped.",
        sent=number_text(len(report.sent)),
        failed=number_text(len(report.failed)),
        skipped=number_text(len(report.skipped)),
    )
    if report.failed or report.skipped:
        st.warning(summary)
        for number, reason in report.failed + report.skipped:
            st.caption(f"{number}: {reason}")
    else:
        st.success(summary)
