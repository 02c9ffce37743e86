"""The fourth way of sending: finance gives a customer their e-invoice address and makes
e-invoices their default on the Customers page, then downloads the invoice's e-invoice from
the invoice page; the file passes the UBL 2.1 schema and the EN 16931 / Peppol rules."""

import base64
from pathlib import Path

import pytest
from lxml import etree
from playwright.sync_api import Page, expect

from shared.company import get_company
from shared.db import write_session
from shared.einvoice.rules import fatal, validate
from shared.models import Company
from tests.e2e import seed
from tests.e2e import ui_dashboard as ui
from tests.e2e.recording import Screenshots
from tests.einvoice.conftest import SCHEMA_DIR, schema_errors
from tests.utils.e2e_stack import CHROMIUM, FINANCE, Stack, chromium_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason=f"no Chromium at {CHROMIUM}"),
]

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}


def _seller_numbers() -> None:
    """The seller's Latvian registration and VAT numbers, which address it in Peppol; kept
    if another test already gave the company its own."""
    with write_session() as session:
        company = get_company(session) or Company(name="E2E Test Company")
        company.registration_number = company.registration_number or "40003245752"
        company.vat_number = company.vat_number or "LV40003245752"
        session.add(company)


def test_finance_downloads_a_valid_e_invoice_from_the_invoice_page(
    stack_settings: Stack, page: Page, shots: Screenshots
) -> None:
    _seller_numbers()
    channel = seed.linkpay_channel(stack_settings, merchant_name="E-invoice Seller SIA")
    invoice = seed.issued_invoice(
        channel_id=channel.channel_id,
        customer_name="E-invoice Buyer SIA",
        customer_email="ap@einvoice-buyer.example",
    )

    ui.login(page, stack_settings, FINANCE)
    ui.open_page(page, "Customers")
    # By role: once the list is drawn its table toolbar has a "Search" button too.
    search = ui.main(page).get_by_role("textbox", name="Search", exact=True)
    search.fill(invoice.customer_name)
    search.press("Enter")
    ui.app_idle(page)
    ui.choose(page, "Edit customer", invoice.customer_name)
    form = page.get_by_test_id("stForm")
    ui.choose(page, "E-invoice address scheme", "0218 Latvian company register", scope=form)
    form.get_by_label("E-invoice address (Peppol id)", exact=True).fill("40103000001")
    form.get_by_text("E-invoice (XML) download", exact=True).click()
    form.get_by_role("button", name="Save changes", exact=True).click()
    expect(ui.main(page).get_by_text(f"Customer {invoice.customer_name} saved.")).to_be_visible()
    shots(page, "customer-einvoice-address")

    ui.open_invoice(page, invoice.number, customer_name=invoice.customer_name)
    make = ui.button(page, "E-invoice (XML)")
    # The customer's default: the e-invoice is the panel's primary sending button.
    expect(make).to_have_attribute("data-testid", "stBaseButton-primary")
    make.click()
    download_button = ui.main(page).get_by_role("button", name=f"Download {invoice.number}.xml")
    expect(download_button).to_be_visible()
    with page.expect_download() as download_info:
        download_button.click()
    shots(page, "einvoice-downloaded")
    assert download_info.value.suggested_filename == f"{invoice.number}.xml"
    xml = Path(download_info.value.path()).read_bytes()

    schemas = {
        root: etree.XMLSchema(etree.parse(str(SCHEMA_DIR / f"UBL-{root}-2.1.xsd")))
        for root in ("Invoice", "CreditNote")
    }
    assert schema_errors(schemas, xml) == []
    assert fatal(validate(xml)) == []
    tree = etree.fromstring(xml)
    assert tree.findtext("cbc:ID", namespaces=NS) == invoice.number
    [endpoint] = tree.xpath("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", namespaces=NS)
    assert (endpoint.get("schemeID"), endpoint.text) == ("0218", "40103000001")
    [payable] = tree.xpath("cac:LegalMonetaryTotal/cbc:PayableAmount/text()", namespaces=NS)
    assert payable == f"{invoice.total_minor // 100}.{invoice.total_minor % 100:02d}"
    [embedded] = tree.xpath(
        "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject",
        namespaces=NS,
    )
    assert base64.b64decode(embedded.text).startswith(b"%PDF")
