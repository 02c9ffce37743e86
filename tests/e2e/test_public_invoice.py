"""The other two ways of sending an invoice — the online link (/i/{token}) and the PDF —
lead the customer to one and the same payment on EveryPay, and once it is paid the public
page says so instead of offering to pay again."""

import io
import time
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect
from pypdf import PdfReader

from tests.e2e import seed, ui_dashboard
from tests.e2e.recording import Screenshots
from tests.utils.e2e_stack import CHROMIUM, FINANCE, Stack, chromium_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason=f"no Chromium at {CHROMIUM}"),
]

PAID_NOTICE = "This invoice has been paid. Thank you!"


def pdf_links(pdf: bytes) -> list[str]:
    """Every URI a reader can click in the PDF."""
    links = []
    for pdf_page in PdfReader(io.BytesIO(pdf)).pages:
        for annotation in pdf_page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            if action is not None and action.get("/URI"):
                links.append(str(action["/URI"]))
    return links


def pdf_text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


def reload_until(page: Page, locator: Locator, *, timeout: float = 30.0) -> None:
    """A static page only changes when reloaded: reload until ``locator`` shows up."""
    deadline = time.monotonic() + timeout
    while True:
        page.reload()
        try:
            expect(locator).to_be_visible(timeout=1_000)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def pay_page_summary(page: Page) -> dict[str, str]:
    return {
        name: page.locator(f"#{name}").inner_text()
        for name in ("merchant_name", "amount", "invoice_number", "customer_name")
    }


def test_online_link_and_pdf_lead_to_the_same_payment(
    stack_settings: Stack, context: BrowserContext, page: Page, shots: Screenshots
) -> None:
    channel = seed.linkpay_channel(stack_settings, merchant_name="Public Page Test SIA")
    invoice = seed.issued_invoice(
        channel_id=channel.channel_id,
        customer_name="Online Link Customer SIA",
        customer_email="customer@online-link.example",
        unit_price="250.00",
    )
    url = f"{stack_settings.public_base_url}/i/{invoice.public_token}"

    page.goto(url)
    expect(page.get_by_role("heading", name=f"Invoice {invoice.number}")).to_be_visible()
    expect(page.locator(".amount")).to_have_text(invoice.total_display)
    expect(page.locator(".methods")).to_contain_text("Swedbank, SEB, LHV")
    pay_button = page.get_by_role("link", name="Pay online")
    expect(pay_button).to_be_visible()
    shots(page, "public-page-unpaid")

    pdf_href = page.get_by_role("link", name="Download PDF").get_attribute("href")
    assert pdf_href
    response = page.request.get(urljoin(page.url, pdf_href))
    assert response.ok and response.headers["content-type"] == "application/pdf"
    pdf = response.body()
    assert invoice.number in pdf_text(pdf)
    # A link wrapped over several lines is one annotation per line, all with the same URI.
    links_in_pdf = sorted({link for link in pdf_links(pdf) if link.endswith("/pay")})
    assert len(links_in_pdf) == 1, f"expected one pay link in the PDF, found {pdf_links(pdf)}"

    pay_button.click()
    expect(page.locator("#pay_form")).to_be_visible()
    assert page.url.startswith(f"{stack_settings.sandbox_url}/lp?")
    from_page = pay_page_summary(page)
    assert from_page["merchant_name"] == channel.merchant_name
    assert from_page["amount"] == invoice.total_text
    assert from_page["invoice_number"] == invoice.number
    shots(page, "pay-page-from-online-link")

    from_pdf = context.new_page()
    from_pdf.goto(links_in_pdf[0])
    expect(from_pdf.locator("#pay_form")).to_be_visible()
    assert pay_page_summary(from_pdf) == from_page, "the PDF leads to a different payment"
    assert parse_qsl(urlsplit(from_pdf.url).query) == parse_qsl(urlsplit(page.url).query)
    shots(from_pdf, "pay-page-from-pdf")

    from_pdf.locator("#pay").click()
    expect(from_pdf.locator("#result_headline")).to_have_text("Payment successful")
    expect(from_pdf.locator("#payment_state")).to_have_text("settled")
    shots(from_pdf, "paid-from-pdf")

    # The page opened from the online link is the same order: it cannot be paid twice.
    page.locator("#pay").click()
    expect(page.locator("#error_message")).to_be_visible()
    expect(page.locator("#pay_form")).to_have_count(0)
    shots(page, "second-payment-refused")

    page.goto(url)
    reload_until(page, page.get_by_text(PAID_NOTICE))
    expect(page.get_by_role("link", name="Pay online")).to_have_count(0)
    shots(page, "public-page-paid")
    assert seed.invoice_status(invoice.invoice_id) == "paid"

    # The pay address of a paid invoice leads back to the page that says it is paid.
    page.goto(f"{url}/pay")
    expect(page.get_by_text(PAID_NOTICE)).to_be_visible()


def test_online_link_and_pdf_from_the_dashboard(
    stack_settings: Stack, page: Page, shots: Screenshots
) -> None:
    """The invoice detail's Online link and Download PDF give the customer's page and a
    PDF whose pay link is the invoice's."""
    channel = seed.linkpay_channel(stack_settings, merchant_name="Online Link Action SIA")
    invoice = seed.issued_invoice(
        channel_id=channel.channel_id,
        customer_name="Link Action Customer SIA",
        customer_email="customer@link-action.example",
    )
    expected_url = seed.public_url(invoice.invoice_id)

    ui_dashboard.login(page, stack_settings, FINANCE)
    ui_dashboard.open_invoice(page, invoice.number, customer_name=invoice.customer_name)
    shots(page, "invoice-detail")
    ui_dashboard.button(page, "Online link").click()
    expect(ui_dashboard.main(page).get_by_test_id("stCode").filter(has_text="/i/")).to_have_text(
        expected_url
    )
    shots(page, "online-link-shown")

    with page.expect_download() as download_info:
        ui_dashboard.button(page, "Download PDF").click()
    pdf = Path(download_info.value.path()).read_bytes()
    assert invoice.number in pdf_text(pdf)
    assert sorted({link for link in pdf_links(pdf) if link.endswith("/pay")}) == [
        f"{expected_url}/pay"
    ]

    page.goto(expected_url)
    expect(page.get_by_role("heading", name=f"Invoice {invoice.number}")).to_be_visible()
    shots(page, "customer-page")
