"""How an e-invoice reaches the customer: one interface, one implementation per way.

``EinvoiceSender.send`` takes what is to be sent (an invoice, or one of its credit notes)
and who sends it; each implementation builds the UBL from the current document with its PDF
embedded, checks it with the project's rules (a broken rule raises ValidationError naming
it, before anything leaves) and logs the sending in the invoice's message log:

- ``DownloadSender``: the XML for the user to save and pass on (logged like the PDF
  download, channel "einvoice");
- ``EmailAttachmentSender``: the XML attached next to the PDF in the invoice or credit note
  e-mail, through the e-mail queue, so a failed e-mail is re-sent with its XML.

A Peppol access point is a third implementation: it builds the file the same way
(``shared.einvoice.files``), hands it to the access point's API and logs the outcome.
"""

from dataclasses import dataclass
from typing import Protocol

from shared.einvoice.files import EinvoiceFile
from shared.models import MessageLog, MessageStatus
from shared.sending import record_einvoice_download, send_credit_note_email, send_invoice_email


@dataclass(frozen=True)
class EinvoiceTarget:
    invoice_id: int
    credit_note_id: int | None = None  # None: the invoice itself


@dataclass(frozen=True)
class SendResult:
    sent: bool
    detail: str  # where it went, or why it did not, for the person who sent it
    file: EinvoiceFile | None = None  # the XML, when the sender hands it back
    log: MessageLog | None = None  # the e-mail's log row, when one was queued


class EinvoiceSender(Protocol):
    def send(self, *, target: EinvoiceTarget, actor: str) -> SendResult: ...


class DownloadSender:
    def send(self, *, target: EinvoiceTarget, actor: str) -> SendResult:
        file = record_einvoice_download(
            invoice_id=target.invoice_id, actor=actor, credit_note_id=target.credit_note_id
        )
        return SendResult(sent=True, detail=f"{file.filename} downloaded.", file=file)


@dataclass(frozen=True)
class EmailAttachmentSender:
    """``to``/``cc`` as typed in the send form; None: the customer's addresses."""

    to: str | None = None
    cc: str | None = None

    def send(self, *, target: EinvoiceTarget, actor: str) -> SendResult:
        if target.credit_note_id is None:
            log = send_invoice_email(
                invoice_id=target.invoice_id,
                actor=actor,
                to=self.to,
                cc=self.cc,
                attach_einvoice=True,
            )
        else:
            log = send_credit_note_email(
                credit_note_id=target.credit_note_id,
                actor=actor,
                to=self.to,
                cc=self.cc,
                attach_einvoice=True,
            )
        if log.status == MessageStatus.SENT:
            return SendResult(sent=True, detail=f"E-mail sent to {log.recipients}.", log=log)
        return SendResult(sent=False, detail=log.error or "The e-mail was not sent.", log=log)
