"""A payer who edits the amount in a pay link gets the sandbox's error page, not a
cheaper payment: the link's signature covers every value in it."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import seed
from tests.e2e.recording import Screenshots
from tests.utils.e2e_stack import CHROMIUM, Stack, chromium_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason=f"no Chromium at {CHROMIUM}"),
]


def test_tampered_pay_link_is_refused_by_the_sandbox(
    stack_settings: Stack, page: Page, shots: Screenshots
) -> None:
    channel = seed.linkpay_channel(stack_settings, merchant_name="Tamper Test SIA")
    invoice = seed.issued_invoice(
        channel_id=channel.channel_id,
        customer_name="Careful Payer SIA",
        customer_email="payer@tamper.example",
        unit_price="100.00",
    )
    genuine = seed.pay_link(invoice.invoice_id)
    assert "transaction_amount=121.00" in genuine

    response = page.goto(genuine)
    assert response is not None and response.status == 200
    expect(page.locator("#amount")).to_have_text(invoice.total_text)
    expect(page.locator("#invoice_number")).to_have_text(invoice.number)
    shots(page, "genuine-link")

    tampered = re.sub(r"transaction_amount=[0-9.]+", "transaction_amount=1.00", genuine)
    assert tampered != genuine
    response = page.goto(tampered)
    assert response is not None and response.status == 400
    expect(page.locator("#error_headline")).to_have_text("This payment link cannot be used")
    expect(page.locator("#error_message")).to_have_text(
        "The payment link has been changed or is incomplete."
    )
    # Nothing on the error page lets the payer go on and pay the edited amount.
    expect(page.locator("#pay_form")).to_have_count(0)
    expect(page.get_by_role("button", name="Pay")).to_have_count(0)
    shots(page, "tampered-link-refused")

    assert seed.invoice_status(invoice.invoice_id) == "issued"
