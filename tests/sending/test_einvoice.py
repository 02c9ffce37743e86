"""The e-invoice as the fourth way to send: attached to the e-mail (through a real SMTP
server), downloaded, for invoices and credit notes; checked with the rules before it goes."""

import base64

import pytest
from lxml import etree
from sqlmodel import select

from shared.db import read_session, write_session
from shared.einvoice.rules import fatal, validate
from shared.einvoice.sending import DownloadSender, EinvoiceTarget, EmailAttachmentSender
from shared.errors import ValidationError
from shared.invoicing import LineInput
from shared.ledger.credit_notes import issue_credit_note
from shared.models import (
    Customer,
    Invoice,
    InvoiceStatus,
    MessageChannel,
    MessageLog,
    MessageStatus,
    SendingMethod,
)
from shared.sending import (
    einvoice_copy,
    record_einvoice_download,
    resend_message,
    send_credit_note_email,
    send_invoice_email,
)
from shared.users import create_user
from tests.einvoice.conftest import SCHEMA_DIR, schema_errors
from tests.sending.conftest import english_customer, issued_invoice

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}


@pytest.fixture(scope="module")
def ubl_schemas() -> dict[str, etree.XMLSchema]:
    return {
        root: etree.XMLSchema(etree.parse(str(SCHEMA_DIR / f"UBL-{root}-2.1.xsd")))
        for root in ("Invoice", "CreditNote")
    }


def _buyer(**values) -> Customer:
    customer = english_customer()
    with write_session() as session:
        row = session.get(Customer, customer.id)
        row.registration_number = "40103000001"
        row.vat_number = "LV40103000001"
        row.sqlmodel_update(values)
        session.add(row)
        session.flush()
        session.expunge(row)
        return row


def _xml_attachments(message) -> list:
    return [
        part for part in message.iter_attachments() if part.get_content_type() == "application/xml"
    ]


def _assert_valid(xml: bytes, schemas, *, root: str) -> etree._Element:
    tree = etree.fromstring(xml)
    assert etree.QName(tree).localname == root
    assert schema_errors(schemas, xml) == []
    assert fatal(validate(xml)) == []
    return tree


def _embedded_pdf(tree: etree._Element) -> bytes:
    [embedded] = tree.xpath(
        "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject",
        namespaces=NS,
    )
    assert embedded.get("mimeCode") == "application/pdf"
    return base64.b64decode(embedded.text)


def _logs(invoice_id: int) -> list[MessageLog]:
    with read_session() as session:
        return list(session.exec(select(MessageLog).where(MessageLog.invoice_id == invoice_id)))


def test_email_carries_a_valid_e_invoice_with_the_pdf_next_to_it_and_inside_it(
    smtp_server, company, ubl_schemas
):
    invoice = issued_invoice(customer=_buyer())

    log = send_invoice_email(invoice_id=invoice.id, actor="finance", attach_einvoice=True)

    assert log.status == MessageStatus.SENT and log.einvoice_attached
    [message] = smtp_server.messages
    [pdf_part] = [
        p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"
    ]
    [xml_part] = _xml_attachments(message)
    assert xml_part.get_filename() == f"{invoice.number}.xml"
    tree = _assert_valid(xml_part.get_content(), ubl_schemas, root="Invoice")
    assert tree.findtext("cbc:ID", namespaces=NS) == invoice.number
    assert tree.xpath(
        "cac:AccountingCustomerParty/cac:Party/cbc:EndpointID/@schemeID", namespaces=NS
    ) == ["0218"]
    assert _embedded_pdf(tree).startswith(b"%PDF")
    assert pdf_part.get_content().startswith(b"%PDF")


def test_the_customers_default_decides_whether_the_xml_goes_along(smtp_server, company):
    plain = issued_invoice(customer=_buyer())
    send_invoice_email(invoice_id=plain.id, actor="finance")
    wants = issued_invoice(
        customer=_buyer(sending_method=SendingMethod.EMAIL_EINVOICE, name="Contoso SIA")
    )
    send_invoice_email(invoice_id=wants.id, actor="finance")

    first, second = smtp_server.messages
    assert _xml_attachments(first) == []
    [xml_part] = _xml_attachments(second)
    assert xml_part.get_filename() == f"{wants.number}.xml"


def test_stored_participant_id_addresses_the_e_invoice(smtp_server, company, ubl_schemas):
    invoice = issued_invoice(customer=_buyer(peppol_scheme="9939", peppol_id="LV40103000001"))

    result = EmailAttachmentSender().send(
        target=EinvoiceTarget(invoice_id=invoice.id), actor="finance"
    )

    assert result.sent and result.detail == "E-mail sent to ap@northwind.example."
    [xml_part] = _xml_attachments(smtp_server.messages[0])
    tree = _assert_valid(xml_part.get_content(), ubl_schemas, root="Invoice")
    [endpoint] = tree.xpath("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", namespaces=NS)
    assert (endpoint.get("schemeID"), endpoint.text) == ("9939", "LV40103000001")


def test_a_failed_e_mail_is_re_sent_with_its_e_invoice(smtp_server, company, ubl_schemas):
    invoice = issued_invoice(customer=_buyer())
    smtp_server.reject = "451 try again later"
    failed = send_invoice_email(invoice_id=invoice.id, actor="finance", attach_einvoice=True)
    assert failed.status == MessageStatus.FAILED

    smtp_server.reject = None
    again = resend_message(log_id=failed.id, actor="finance")

    assert again.status == MessageStatus.SENT and again.id == failed.id
    [xml_part] = _xml_attachments(smtp_server.messages[0])
    _assert_valid(xml_part.get_content(), ubl_schemas, root="Invoice")


def test_a_broken_rule_stops_the_sending_and_names_the_rule_and_the_fix(smtp_server, company):
    invoice = issued_invoice(
        customer=_buyer(vat_number="XX40103000001", peppol_scheme="0218", peppol_id="40103000001")
    )

    with pytest.raises(ValidationError) as refused:
        send_invoice_email(invoice_id=invoice.id, actor="finance", attach_einvoice=True)

    assert str(refused.value) == (
        f"The e-invoice {invoice.number} was not sent: BR-CO-09: the customer's VAT number must"
        " start with its country code (e.g. LV40003245752): correct it on the Customers page."
    )
    assert smtp_server.messages == [] and _logs(invoice.id) == []
    with pytest.raises(ValidationError, match="BR-CO-09"):
        record_einvoice_download(invoice_id=invoice.id, actor="finance")
    assert _logs(invoice.id) == []


def test_an_e_invoice_address_saved_with_a_wrong_check_digit_is_stopped_before_sending(db, company):
    """Saved before the Customers page checked check digits: PEPPOL-COMMON-R041 would fail."""
    invoice = issued_invoice(customer=_buyer(peppol_scheme="0192", peppol_id="987654324"))

    with pytest.raises(ValidationError) as refused:
        record_einvoice_download(invoice_id=invoice.id, actor="finance")

    assert str(refused.value) == (
        f"The e-invoice {invoice.number} was not sent: PEPPOL-COMMON-R041: the customer's"
        " e-invoice address has a wrong check digit: correct it on the Customers page."
    )
    assert _logs(invoice.id) == []


def test_a_customer_without_an_e_invoice_address_is_told_where_to_give_it(db, company):
    invoice = issued_invoice(customer=english_customer())

    with pytest.raises(ValidationError) as refused:
        DownloadSender().send(target=EinvoiceTarget(invoice_id=invoice.id), actor="finance")

    assert "Customer Northwind Ltd has no e-invoice address" in str(refused.value)
    assert "Peppol participant id on the Customers page" in str(refused.value)


def test_download_is_logged_like_the_pdf_and_marks_the_invoice_sent(db, company, ubl_schemas):
    invoice = issued_invoice(customer=_buyer())

    result = DownloadSender().send(target=EinvoiceTarget(invoice_id=invoice.id), actor="finance")

    assert result.sent and result.file.filename == f"{invoice.number}.xml"
    _assert_valid(result.file.content, ubl_schemas, root="Invoice")
    [log] = _logs(invoice.id)
    assert (log.channel, log.subject, log.status, log.sent_by) == (
        MessageChannel.EINVOICE,
        f"{invoice.number}.xml",
        MessageStatus.SENT,
        "finance",
    )
    with read_session() as session:
        assert session.get(Invoice, invoice.id).status == InvoiceStatus.SENT


def test_a_manager_may_download_a_copy_but_not_send(db, company, ubl_schemas):
    with write_session() as session:
        create_user(
            session, actor="t", username="manager", password="long-enough-1", role="manager"
        )
    invoice = issued_invoice(customer=_buyer())

    xml = einvoice_copy(invoice_id=invoice.id, actor="manager")

    _assert_valid(xml, ubl_schemas, root="Invoice")
    assert _logs(invoice.id) == []
    with pytest.raises(ValidationError):
        record_einvoice_download(invoice_id=invoice.id, actor="manager")


def _credit_note(invoice_id: int):
    with write_session() as session:
        note = issue_credit_note(
            session,
            actor="finance",
            invoice_id=invoice_id,
            reason="Agreed discount",
            lines=[LineInput("Consulting, one hour less", "1", "20.00", "21")],
        )
        session.expunge(note)
        return note


def test_credit_note_goes_out_as_a_ubl_credit_note_by_e_mail_and_download(
    smtp_server, company, ubl_schemas
):
    invoice = issued_invoice(customer=_buyer())
    note = _credit_note(invoice.id)
    with read_session() as session:
        status_before = session.get(Invoice, invoice.id).status

    log = send_credit_note_email(credit_note_id=note.id, actor="finance", attach_einvoice=True)
    downloaded = record_einvoice_download(
        invoice_id=invoice.id, actor="finance", credit_note_id=note.id
    )

    assert log.status == MessageStatus.SENT and log.channel == MessageChannel.CREDIT_NOTE
    [xml_part] = _xml_attachments(smtp_server.messages[0])
    assert xml_part.get_filename() == f"{note.number}.xml"
    _assert_valid(xml_part.get_content(), ubl_schemas, root="CreditNote")
    tree = _assert_valid(downloaded.content, ubl_schemas, root="CreditNote")
    assert tree.xpath(
        "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID/text()", namespaces=NS
    ) == [invoice.number]
    assert tree.xpath("cac:LegalMonetaryTotal/cbc:PayableAmount/text()", namespaces=NS) == ["24.20"]
    assert _embedded_pdf(tree).startswith(b"%PDF")
    channels = sorted(row.channel for row in _logs(invoice.id))
    assert channels == [MessageChannel.CREDIT_NOTE, MessageChannel.EINVOICE]
    with read_session() as session:  # a credit note handed out does not send the invoice
        assert session.get(Invoice, invoice.id).status == status_before != InvoiceStatus.SENT


def test_a_retry_whose_e_invoice_now_breaks_a_rule_fails_with_the_rule_named(smtp_server, company):
    customer = _buyer(peppol_scheme="0218", peppol_id="40103000001")
    invoice = issued_invoice(customer=customer)
    smtp_server.reject = "451 try again later"
    failed = send_invoice_email(invoice_id=invoice.id, actor="finance", attach_einvoice=True)
    with write_session() as session:  # the VAT number is mistyped before the re-send
        session.get(Customer, customer.id).vat_number = "XX40103000001"

    smtp_server.reject = None
    again = resend_message(log_id=failed.id, actor="finance")

    assert again.status == MessageStatus.FAILED and smtp_server.messages == []
    assert again.error.startswith(
        f"The e-invoice {invoice.number} was not sent: BR-CO-09: the customer's VAT number"
    )
