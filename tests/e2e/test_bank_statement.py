"""The bank statement as the final backstop, end to end: one customer pays by bank
transfer with the invoice's RF reference, another through LinkPay; EveryPay (the sandbox)
pays the LinkPay money out; the merchant's statement, exported by the sandbox's bank, is
imported on Money → Bank statements: both invoices show paid, the payout is explained by
the payment it holds, and nothing is left unmatched."""

import secrets
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from shared.bank.references import creditor_reference
from shared.channels import create_bank_account
from shared.db import read_session, write_session
from shared.models import (
    AccountType,
    BankStatementTransaction,
    EveryPayPayout,
    PaymentAttempt,
    utcnow,
)
from shared.states import MatchState
from tests.e2e import seed
from tests.e2e import ui_dashboard as ui
from tests.e2e.recording import Screenshots
from tests.utils.e2e_stack import CHROMIUM, FINANCE, Stack, chromium_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason=f"no Chromium at {CHROMIUM}"),
]

# The company's regular account, where customers' transfers and EveryPay's payouts land.
COMPANY_IBAN = "LV80BANK0000435195001"
PAYER_IBAN = "EE382200221020145685"


def test_transfer_and_linkpay_payment_are_both_found_on_the_bank_statement(
    stack_settings: Stack, page: Page, shots: Screenshots, tmp_path: Path
) -> None:
    channel = seed.linkpay_channel(stack_settings, merchant_name="Statement Test SIA")
    with write_session() as session:
        create_bank_account(
            session,
            actor=seed.ACTOR,
            name=f"Current account {secrets.token_hex(2)}",
            account_type=AccountType.REGULAR,
            iban=COMPANY_IBAN,
            bank_name="Example Bank",
        )
    by_transfer = seed.issued_invoice(
        channel_id=channel.channel_id,
        customer_name="Transfer Payer SIA",
        customer_email="ap@transfer-payer.example",
    )
    online = seed.issued_invoice(
        channel_id=channel.channel_id,
        customer_name="Card Payer SIA",
        customer_email="ap@card-payer.example",
    )
    sandbox = f"{stack_settings.sandbox_url}/sandbox/merchants/{channel.api_username}"
    httpx.post(
        f"{sandbox}/payout-terms", json={"fee_fixed": "0.10", "bank_iban": COMPANY_IBAN}
    ).raise_for_status()

    # The second customer pays online.
    customer = page.context.new_page()
    customer.goto(seed.pay_link(online.invoice_id))
    customer.locator("#pay").click()
    expect(customer.locator("#payment_state")).to_have_text("settled")

    # The first pays by transfer from their bank, quoting the invoice's RF reference.
    rf = creditor_reference(invoice_id=by_transfer.invoice_id)
    httpx.post(
        f"{sandbox}/bank-transfers",
        json={
            "amount": "121.00",
            "payer_name": by_transfer.customer_name,
            "payer_iban": PAYER_IBAN,
            "creditor_reference": rf,
        },
    ).raise_for_status()
    # EveryPay pays today's settled money out now rather than tomorrow.
    httpx.post(f"{sandbox}/payouts", json={}).raise_for_status()
    today = utcnow().date()
    statement = httpx.get(
        f"{sandbox}/statements/camt053",
        params={"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()},
    )
    statement.raise_for_status()
    path = tmp_path / "statement.xml"
    path.write_bytes(statement.content)

    ui.login(page, stack_settings, FINANCE)
    ui.open_page(page, "Bank statements")
    ui.main(page).get_by_test_id("stFileUploaderDropzoneInput").set_input_files(path)
    ui.button(page, "Import").click()
    expect(ui.main(page).get_by_text("payments marked in bank")).to_be_visible()
    shots(page, "statement-imported")

    assert seed.invoice_status(by_transfer.invoice_id) == "paid"
    assert seed.invoice_status(online.invoice_id) == "paid"
    with read_session() as session:
        states = set(session.exec(select(BankStatementTransaction.match_state)).all())
        [attempt] = session.exec(
            select(PaymentAttempt).where(PaymentAttempt.invoice_id == online.invoice_id)
        ).all()
        payout = session.get(EveryPayPayout, attempt.payout_id)
    assert MatchState.UNMATCHED not in states and MatchState.SUGGESTED not in states
    assert attempt.in_bank_at is not None
    assert payout is not None and payout.fee_minor == 10
