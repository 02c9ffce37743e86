"""Write a ``Document`` as UBL 2.1 Invoice or CreditNote XML for Peppol BIS Billing 3.0.

UBL is an ordered schema: every element below is appended in the sequence the UBL 2.1 XSD
declares for its parent (the Invoice and CreditNote sequences differ: a credit note has no
header DueDate, so its due date goes to PaymentMeans/PaymentDueDate as Peppol asks). Optional
business terms that are empty are left out, since Peppol refuses empty elements
(PEPPOL-EN16931-R008). All amounts and the VAT breakdown come from the model, which states
the rounding rule; nothing is recomputed here.
"""

import base64
from datetime import date
from decimal import Decimal

from lxml import etree

from shared.einvoice.model import (
    VAT_ACCOUNTING_CURRENCY,
    Address,
    Attachment,
    Document,
    DocumentType,
    Exemption,
    Line,
    Party,
    VatBreakdown,
    VatCategory,
)

CUSTOMIZATION_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PROFILE_ID = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


def _cac(parent: etree._Element, name: str) -> etree._Element:
    return etree.SubElement(parent, f"{{{NS_CAC}}}{name}")


def _cbc(parent: etree._Element, name: str, text: str, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{NS_CBC}}}{name}", attributes)
    element.text = text
    return element


def _opt(parent: etree._Element, name: str, text: str | None, **attributes: str) -> None:
    # Blank counts as empty too: Peppol reads an element of spaces as empty (R008).
    if text and text.strip():
        _cbc(parent, name, text, **attributes)


def _amount(parent: etree._Element, name: str, value: Decimal, currency: str) -> None:
    _cbc(parent, name, f"{value:.2f}", currencyID=currency)


def _decimal(value: Decimal) -> str:
    """Plain notation without trailing zeros: '21', '12.5', '0.333' (never '2.1E+1')."""
    return f"{value.normalize():f}"


def _date(value: date) -> str:
    return value.isoformat()


def _address(parent: etree._Element, name: str, address: Address) -> None:
    element = _cac(parent, name)
    _opt(element, "StreetName", address.street)
    _opt(element, "AdditionalStreetName", address.additional_street)
    _opt(element, "CityName", address.city)
    _opt(element, "PostalZone", address.postal_code)
    country = _cac(element, "Country")
    _cbc(country, "IdentificationCode", address.country)


def _party(parent: etree._Element, role: str, party: Party) -> None:
    element = _cac(_cac(parent, role), "Party")
    endpoint = party.electronic_address
    _cbc(element, "EndpointID", endpoint.value, schemeID=endpoint.scheme)
    if party.trading_name:
        _cbc(_cac(element, "PartyName"), "Name", party.trading_name)
    _address(element, "PostalAddress", party.address)
    if party.vat_id:
        tax_scheme = _cac(element, "PartyTaxScheme")
        _cbc(tax_scheme, "CompanyID", party.vat_id)
        _cbc(_cac(tax_scheme, "TaxScheme"), "ID", "VAT")
    legal = _cac(element, "PartyLegalEntity")
    _cbc(legal, "RegistrationName", party.name)
    if party.registration_number:
        scheme = {"schemeID": party.registration_scheme} if party.registration_scheme else {}
        _cbc(legal, "CompanyID", party.registration_number, **scheme)
    if party.contact_email:
        _cbc(_cac(element, "Contact"), "ElectronicMail", party.contact_email)


def _tax_category(
    parent: etree._Element,
    name: str,
    category: VatCategory,
    rate: Decimal,
    exemption: Exemption | None,
) -> None:
    element = _cac(parent, name)
    _cbc(element, "ID", category.value)
    # "Not subject to VAT" carries no rate at all (BR-O-05, BR-48).
    if category is not VatCategory.NOT_SUBJECT:
        _cbc(element, "Percent", _decimal(rate))
    if exemption is not None:
        _opt(element, "TaxExemptionReasonCode", exemption.code)
        _opt(element, "TaxExemptionReason", exemption.text)
    _cbc(_cac(element, "TaxScheme"), "ID", "VAT")


def _attachment(parent: etree._Element, attachment: Attachment) -> None:
    reference = _cac(parent, "AdditionalDocumentReference")
    _cbc(reference, "ID", attachment.id)
    _opt(reference, "DocumentDescription", attachment.description)
    holder = _cac(reference, "Attachment")
    _cbc(
        holder,
        "EmbeddedDocumentBinaryObject",
        base64.b64encode(attachment.content).decode("ascii"),
        mimeCode=attachment.mime_code,
        filename=attachment.filename,
    )


def _tax_totals(root: etree._Element, document: Document) -> None:
    totals = document.totals()
    tax_total = _cac(root, "TaxTotal")
    _amount(tax_total, "TaxAmount", totals.vat, document.currency)
    for row in document.vat_breakdown():
        _subtotal(tax_total, row, document.currency)
    if totals.vat_in_accounting_currency is not None:
        # BT-111 goes in a TaxTotal of its own without subtotals (PEPPOL-EN16931-R054).
        eur_total = _cac(root, "TaxTotal")
        _amount(eur_total, "TaxAmount", totals.vat_in_accounting_currency, "EUR")


def _subtotal(parent: etree._Element, row: VatBreakdown, currency: str) -> None:
    subtotal = _cac(parent, "TaxSubtotal")
    _amount(subtotal, "TaxableAmount", row.taxable_amount, currency)
    _amount(subtotal, "TaxAmount", row.tax_amount, currency)
    _tax_category(subtotal, "TaxCategory", row.category, row.rate, row.exemption)


def _monetary_total(root: etree._Element, document: Document) -> None:
    totals = document.totals()
    element = _cac(root, "LegalMonetaryTotal")
    currency = document.currency
    _amount(element, "LineExtensionAmount", totals.line_net, currency)
    _amount(element, "TaxExclusiveAmount", totals.tax_exclusive, currency)
    _amount(element, "TaxInclusiveAmount", totals.tax_inclusive, currency)
    if totals.prepaid:
        _amount(element, "PrepaidAmount", totals.prepaid, currency)
    _amount(element, "PayableAmount", totals.payable, currency)


def _line(root: etree._Element, document: Document, line: Line) -> None:
    credit = document.type is DocumentType.CREDIT_NOTE
    element = _cac(root, "CreditNoteLine" if credit else "InvoiceLine")
    _cbc(element, "ID", line.id)
    _cbc(
        element,
        "CreditedQuantity" if credit else "InvoicedQuantity",
        _decimal(line.quantity),
        unitCode=line.unit_code,
    )
    _amount(element, "LineExtensionAmount", line.net_amount, document.currency)
    item = _cac(element, "Item")
    _opt(item, "Description", line.description)
    _cbc(item, "Name", line.name)
    # The exemption reason lives in the VAT breakdown; the line names category and rate.
    _tax_category(item, "ClassifiedTaxCategory", line.vat_category, line.vat_rate, None)
    price = _cac(element, "Price")
    _cbc(price, "PriceAmount", _decimal(line.net_price), currencyID=document.currency)


def to_ubl_tree(document: Document) -> etree._Element:
    credit = document.type is DocumentType.CREDIT_NOTE
    namespace = NS_CREDIT_NOTE if credit else NS_INVOICE
    root = etree.Element(
        f"{{{namespace}}}{'CreditNote' if credit else 'Invoice'}",
        nsmap={None: namespace, "cac": NS_CAC, "cbc": NS_CBC},
    )
    _cbc(root, "CustomizationID", CUSTOMIZATION_ID)
    _cbc(root, "ProfileID", PROFILE_ID)
    _cbc(root, "ID", document.number)
    _cbc(root, "IssueDate", _date(document.issue_date))
    if document.due_date and not credit:
        _cbc(root, "DueDate", _date(document.due_date))
    _cbc(root, "CreditNoteTypeCode" if credit else "InvoiceTypeCode", document.type.value)
    _opt(root, "Note", document.note)
    _cbc(root, "DocumentCurrencyCode", document.currency)
    if document.currency != VAT_ACCOUNTING_CURRENCY:
        _cbc(root, "TaxCurrencyCode", VAT_ACCOUNTING_CURRENCY)
    _opt(root, "BuyerReference", document.buyer_reference)
    if document.period_start or document.period_end:
        period = _cac(root, "InvoicePeriod")
        if document.period_start:
            _cbc(period, "StartDate", _date(document.period_start))
        if document.period_end:
            _cbc(period, "EndDate", _date(document.period_end))
    if document.order_reference:
        _cbc(_cac(root, "OrderReference"), "ID", document.order_reference)
    if document.preceding_invoice:
        reference = _cac(_cac(root, "BillingReference"), "InvoiceDocumentReference")
        _cbc(reference, "ID", document.preceding_invoice)
        if document.preceding_invoice_date:
            _cbc(reference, "IssueDate", _date(document.preceding_invoice_date))
    for attachment in document.attachments:
        _attachment(root, attachment)
    _party(root, "AccountingSupplierParty", document.seller)
    _party(root, "AccountingCustomerParty", document.buyer)
    if document.supply_date or document.delivery_country:
        delivery = _cac(root, "Delivery")
        if document.supply_date:
            _cbc(delivery, "ActualDeliveryDate", _date(document.supply_date))
        if document.delivery_country:
            address = _cac(_cac(delivery, "DeliveryLocation"), "Address")
            _cbc(_cac(address, "Country"), "IdentificationCode", document.delivery_country)
    means = document.payment_means
    if means is not None:
        element = _cac(root, "PaymentMeans")
        _cbc(element, "PaymentMeansCode", means.code.value)
        if credit and document.due_date:
            _cbc(element, "PaymentDueDate", _date(document.due_date))
        _opt(element, "PaymentID", means.payment_id)
        account = _cac(element, "PayeeFinancialAccount")
        _cbc(account, "ID", means.iban)
        _opt(account, "Name", means.account_name)
        if means.bic:
            _cbc(_cac(account, "FinancialInstitutionBranch"), "ID", means.bic)
    if document.payment_terms.strip():
        _cbc(_cac(root, "PaymentTerms"), "Note", document.payment_terms)
    _tax_totals(root, document)
    _monetary_total(root, document)
    for line in document.lines:
        _line(root, document, line)
    return root


def to_ubl(document: Document) -> bytes:
    """The UBL XML of ``document`` as UTF-8 bytes with an XML declaration."""
    return etree.tostring(
        to_ubl_tree(document), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
