"""In a browser 1440 px wide: a click on a callback's row opens the invoice it was applied
to (the screenshot shows the Outcome column on screen)."""

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e import seed
from tests.e2e import ui_dashboard as ui
from tests.e2e.recording import Screenshots
from tests.utils.e2e_stack import CHROMIUM, MANAGER, Stack, chromium_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason=f"no Chromium at {CHROMIUM}"),
]


def test_callback_row_click_opens_its_invoice(
    stack_settings: Stack, page: Page, shots: Screenshots
) -> None:
    channel = seed.linkpay_channel(stack_settings, merchant_name="Rows Click SIA")
    issued = seed.issued_invoice(
        channel_id=channel.channel_id,
        customer_name="Rows Click Customer SIA",
        customer_email="ap@rows-click.example",
    )
    response = httpx.post(
        f"{stack_settings.sandbox_url}/sandbox/pay",
        json={"url": seed.pay_link(issued.invoice_id), "outcome": "pay"},
        timeout=10.0,
    )
    response.raise_for_status()

    ui.login(page, stack_settings, MANAGER)
    ui.open_page(page, "Callbacks")
    grid = ui.main(page).get_by_test_id("stDataFrame").last
    expect(grid.locator("tbody tr", has_text=issued.number).first).to_be_attached()
    shots(page, "Callbacks")
    # The grid is drawn on a canvas: click the first data row's selection box, under the
    # header row.
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 20, box["y"] + 35 + 17)
    expect(page).to_have_url(re.compile(rf"/invoice_detail\?invoice={issued.number}$"))
    expect(ui.main(page).get_by_text(f"Invoice {issued.number}").first).to_be_visible()
