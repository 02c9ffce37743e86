"""Download CSV on the invoice list saves the file the list holds, streamed by the export
route in the same tab, uncompressed; the link without the browser's sign-in fetches
nothing."""

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from shared.company import local_today
from shared.login_sessions import COOKIE_NAME
from shared.views.invoices import InvoiceFilter, invoice_csv_file
from tests.e2e import seed
from tests.e2e import ui_dashboard as ui
from tests.utils.e2e_stack import CHROMIUM, FINANCE, Stack, chromium_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason=f"no Chromium at {CHROMIUM}"),
]


def test_download_csv_saves_the_invoice_list_streamed_and_uncompressed(
    stack_settings: Stack, context: BrowserContext, page: Page
):
    channel = seed.linkpay_channel(stack_settings, merchant_name="Lejupielāde SIA")
    invoice = seed.issued_invoice(
        channel_id=channel.channel_id,
        customer_name="=Eksports; SIA",
        customer_email="eksports@example.com",
    )
    ui.login(page, stack_settings, FINANCE)
    ui.open_page(page, "Invoices")
    ui.app_idle(page)
    link = ui.download_link(page, "Download CSV")
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename == "invoices.csv"
    saved = Path(download.path()).read_bytes()
    with invoice_csv_file(InvoiceFilter(), today=local_today("Europe/Riga")) as expected:
        assert saved == expected.read()
    assert invoice.number.encode() in saved and b"'=Eksports; SIA" in saved

    address = f"{stack_settings.dashboard_url}{link.get_attribute('href')}"
    cookie = next(c["value"] for c in context.cookies() if c["name"] == COOKIE_NAME)
    # Streamlit's server compresses what the browser accepts compressed; not this file.
    streamed = httpx.get(
        address, cookies={COOKIE_NAME: cookie}, headers={"accept-encoding": "gzip"}, timeout=30
    )
    assert streamed.status_code == 200
    assert streamed.headers.get("content-encoding", "identity") == "identity"
    assert streamed.content == saved
    alone = httpx.get(address, timeout=30)
    assert alone.status_code == 403 and b"Eksports" not in alone.content
    expect(ui.download_link(page, "Download XLSX")).to_be_visible()
