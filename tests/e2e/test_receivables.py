"""The second way an invoice gets paid, end to end in a real browser: the customer pays
part of it through LinkPay, finance accepts that part and records the rest as a bank
transfer, the invoice turns paid; then part of the card payment is refunded in the
EveryPay (sandbox) portal and finance settles the refund with a credit note."""

import io
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from pypdf import PdfReader

from tests.e2e import seed
from tests.e2e import ui_dashboard as ui
from tests.e2e.recording import Screenshots
from tests.utils.e2e_stack import CHROMIUM, FINANCE, Stack, chromium_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason=f"no Chromium at {CHROMIUM}"),
]

# The callback, the worker and the reconciler all act before the dashboard can show it.
LIVE_UPDATE_SECONDS = 30.0


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def open_exception(page: Page, *, number: str, kind: str) -> None:
    """Opens Exceptions until the open item of ``kind`` for invoice ``number`` is listed
    (the callback may still be on its way), and picks it."""
    pattern = re.compile(rf"#\d+ · {re.escape(kind)} · {re.escape(number)}$")
    deadline = time.monotonic() + LIVE_UPDATE_SECONDS
    while True:
        ui.open_page(page, "Exceptions")
        box = ui.main(page).get_by_role("combobox", name="Exception", exact=True)
        if box.count():
            box.click()
            option = page.get_by_role("option", name=pattern)
            try:
                option.click(timeout=2_000)
                ui.app_idle(page)
                return
            except PlaywrightTimeoutError:
                page.keyboard.press("Escape")
        if time.monotonic() > deadline:
            raise AssertionError(f"no open {kind} exception for {number}")
        page.wait_for_timeout(1_000)


def test_partial_linkpay_payment_bank_transfer_refund_and_credit_note(
    stack_settings: Stack, page: Page, shots: Screenshots
) -> None:
    channel = seed.linkpay_channel(stack_settings, merchant_name="Receivables Test SIA")
    invoice = seed.issued_invoice(
        channel_id=channel.channel_id,
        customer_name="Partial Payer SIA",
        customer_email="ap@partial-payer.example",
    )
    assert invoice.total_text == "121.00 EUR"

    # 1. The customer pays 50.00 of the 121.00 through a pay link made for that amount.
    customer = page.context.new_page()
    customer.goto(seed.pay_link_for_amount(invoice.invoice_id, "50.00"))
    expect(customer.locator("#amount")).to_have_text("50.00 EUR")
    customer.locator("#pay").click()
    expect(customer.locator("#payment_state")).to_have_text("settled")
    payment_reference = customer.locator("#payment_reference").inner_text().strip()
    shots(customer, "paid-part-through-linkpay")

    # 2. Less than the open balance is not booked silently: finance accepts it as a
    #    partial payment from Exceptions.
    ui.login(page, stack_settings, FINANCE)
    open_exception(page, number=invoice.number, kind="Amount mismatch")
    expect(ui.main(page).get_by_text("Reason: 50.00 EUR was paid for invoice")).to_be_visible()
    ui.button(page, "Accept as partial payment").click()
    expect(ui.main(page).get_by_text("Accepted as partial payment")).to_be_visible()
    shots(page, "partial-accepted")

    # 3. The rest arrives by bank transfer: recorded on the invoice, which turns paid.
    ui.open_invoice(page, invoice.number, customer_name=invoice.customer_name)
    expect(ui.status_badge(page)).to_have_text("Partially paid")
    ui.main(page).get_by_text("Record payment", exact=True).first.click()
    amount = ui.main(page).get_by_label("Amount (EUR)", exact=True)
    expect(amount).to_have_value("71.00")
    ui.fill(page, "Bank reference", "SWEDBANK-2026-001")
    ui.button(page, "Record payment").click()
    expect(ui.main(page).get_by_text(re.compile(r"Bank transfer of 71\.00"))).to_be_visible()
    expect(ui.status_badge(page)).to_have_text("Paid")
    shots(page, "paid-after-bank-transfer")

    # 4. In the EveryPay portal, 40.00 of the card payment is refunded.
    portal = page.context.new_page()
    portal.goto(f"{stack_settings.sandbox_url}/portal/{channel.api_username}")
    portal.locator(f"#refund_amount-{payment_reference}").fill("40.00")
    portal.locator(f"#refund-{payment_reference}").click()
    expect(portal.locator(f"#state-{payment_reference}")).to_have_text("refunded")
    shots(portal, "refunded-in-portal")

    # 5. The refund is money going back: the invoice owes 40.00 again only until finance
    #    settles it with a credit note, proposed on the refund's exception.
    page.bring_to_front()
    open_exception(page, number=invoice.number, kind="Refund")
    ui.button(page, "Issue credit note for the refunded amount").click()
    issued = ui.main(page).get_by_text(re.compile(r"Credit note KR-\d{4}-\d{4} issued"))
    expect(issued).to_be_visible()
    credit_note = re.search(r"KR-\d{4}-\d{4}", issued.inner_text()).group(0)
    shots(page, "credit-note-issued")

    ui.open_invoice(page, invoice.number, customer_name=invoice.customer_name)
    expect(ui.status_badge(page)).to_have_text("Paid")
    ledger = ui.main(page).get_by_test_id("stDataFrame").filter(has_text="SWEDBANK-2026-001")
    expect(ledger).to_contain_text(payment_reference[:12])
    tables = ui.main(page).get_by_test_id("stDataFrame")
    expect(tables.filter(has_text=credit_note)).not_to_have_count(0)
    shots(page, "invoice-with-credit-note")
    assert seed.invoice_status(invoice.invoice_id) == "paid"

    # 6. The customer's statement shows the invoice, both payments, the refund and the
    #    credit note, and closes at zero; its PDF says the same.
    ui.open_page(page, "Customers")
    search = ui.main(page).get_by_role("textbox", name="Search", exact=True)
    search.fill(invoice.customer_name)
    search.press("Enter")
    ui.app_idle(page)
    ui.choose(page, "Customer", invoice.customer_name)
    expect(ui.main(page).get_by_test_id("stMetricValue").first).to_have_text("0.00 EUR")
    with page.expect_download() as download_info:
        ui.button(page, "Download PDF").click()
    text = pdf_text(Path(download_info.value.path()).read_bytes())
    for expected in (invoice.number, credit_note, "SWEDBANK-2026-001", "71.00", "40.00"):
        assert expected in text, f"{expected} missing from the statement PDF"
    shots(page, "customer-statement")
