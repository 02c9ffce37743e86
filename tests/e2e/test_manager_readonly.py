"""A manager watches and exports but changes nothing: every page of the navigation opens,
and none of them offers a button that saves, creates, issues or sends."""

import re

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from shared.db import read_session
from shared.models import AuditLog
from tests.e2e import seed
from tests.e2e import ui_dashboard as ui
from tests.e2e.recording import Screenshots, SoftChecks
from tests.utils.e2e_stack import CHROMIUM, MANAGER, Stack, chromium_available

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason=f"no Chromium at {CHROMIUM}"),
]

MANAGER_PAGES = (
    "Overview",
    "Bank accounts",
    "Customers",
    "Invoices",
    "Invoice detail",
    "Outbox",
    "Payments",
    "Callbacks",
    "Exceptions",
    "Reports",
    "Company",
    "Numbering",
)
ADMIN_PAGES = ("Users", "Audit log")
# The reports on the Reports page, the first of them the one it opens with.
REPORTS = (
    "Received per period and channel",
    "Accounts receivable aging",
    "Outstanding per customer",
    "Days to pay",
    "Sales ledger",
    "VAT summary",
)
# Every action that writes: saving, creating, issuing, sending (also the online link and
# the PDF, which are logged as sendings), and the channel, callback and exception fixes.
CHANGING = re.compile(
    r"^(Save|Create|Issue|Send|E-mail|Delete|Cancel|Activate|Deactivate|Rotate|"
    r"Change settings|Test connection|Re-send|Reprocess|Mark resolved|Accept|Reconcile|"
    r"Online link|Download PDF|Yes, )",
)
# What a manager may do, so the audit log may show it.
HARMLESS_ACTIONS = {"login", "logout", "login.failed"}


def changing_buttons(page: Page) -> list[str]:
    """Names of every button in the page's main area that would change something, hidden
    ones included (a button in a closed expander is still offered), disabled ones too
    (a greyed-out Save still tells a manager the page is a form to fill in)."""
    buttons = ui.main(page).get_by_role("button", name=CHANGING, include_hidden=True)
    return [
        " ".join(button.inner_text().split()) + (" (disabled)" if button.is_disabled() else "")
        for button in buttons.all()
    ]


def test_manager_sees_every_page_but_no_button_that_changes_anything(
    stack_settings: Stack, page: Page, shots: Screenshots, checks: SoftChecks
) -> None:
    # Something on every page: a channel, a paid-at-first-declined invoice with its
    # callbacks, an open invoice, a draft and an open exception.
    channel = seed.linkpay_channel(stack_settings, merchant_name="Manager View SIA")
    issued = seed.issued_invoice(
        channel_id=channel.channel_id,
        customer_name="Manager View Customer SIA",
        customer_email="ap@manager-view.example",
    )
    seed.issued_invoice(
        channel_id=channel.channel_id,
        customer_name="Manager View Draft SIA",
        customer_email="ap@manager-draft.example",
        issue=False,
    )
    response = httpx.post(
        f"{stack_settings.sandbox_url}/sandbox/pay",
        json={"url": seed.pay_link(issued.invoice_id), "outcome": "decline"},
        timeout=10.0,
    )
    response.raise_for_status()
    seed.review_item(invoice_id=issued.invoice_id, channel_id=channel.channel_id)

    ui.login(page, stack_settings, MANAGER)
    for title in ADMIN_PAGES:
        expect(ui.nav_link(page, title)).to_have_count(0)

    for title in MANAGER_PAGES:
        ui.open_page(page, title)
        expect(ui.main(page).get_by_role("heading", level=1).first).to_be_visible()
        expect(ui.main(page).get_by_test_id("stException")).to_have_count(0)
        # Wait for the seeded rows, so buttons that come with them are there to be counted.
        grid = ui.main(page).get_by_test_id("stDataFrame")
        if title == "Invoices":
            ui.fill(page, "Number", issued.number)
            expect(grid.locator("tbody tr", has_text=issued.number)).to_have_count(1)
        if title in ("Payments", "Callbacks"):
            expect(grid.locator("tbody tr", has_text=issued.number).first).to_be_attached()
        if title == "Exceptions":
            expect(grid.locator("tbody tr", has_text="Stuck pending").first).to_be_attached()
        if title == "Bank accounts":
            ui.choose(page, "Bank account", channel.account_name)
            ui.tab(page, "Online payments").click()
            # The Callback URL carries a secret token: finance's business, not a manager's.
            panel = page.get_by_role("tabpanel", name="Online payments")
            expect(panel.get_by_text("Set-up checklist")).to_be_visible()
            expect(panel.get_by_text(channel.callback_url)).to_have_count(0)
        shots(page, title)
        with checks.soft(f"{title}: no button that changes anything", page):
            assert changing_buttons(page) == []
        if title == "Reports":
            # Reports shows one report at a time: each of them offers no change either.
            for report in REPORTS[1:]:
                ui.open_report(page, report)
                with checks.soft(f"Reports, {report}: no button that changes anything", page):
                    assert changing_buttons(page) == []

    # The detail of an issued invoice, opened the way a manager would: from the list.
    ui.open_invoice(page, issued.number, customer_name=issued.customer_name)
    expect(ui.main(page).get_by_role("heading", name="Payment attempts")).to_be_visible()
    ui.app_idle(page)
    shots(page, "invoice-detail-issued")
    with checks.soft("Invoice detail of an issued invoice: no button that changes anything", page):
        assert changing_buttons(page) == []

    with read_session() as session:
        actions = session.exec(select(AuditLog.action).where(AuditLog.actor == "manager")).all()
    assert set(actions) <= HARMLESS_ACTIONS, f"the manager changed something: {actions}"
    checks.assert_all()
