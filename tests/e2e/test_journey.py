"""The journey of the product brief, end to end, in a real browser against real processes:
set up a merchant account and its LinkPay channel from the EveryPay (sandbox) portal,
invoice a customer by e-mail, let the customer decline and then pay, and watch the
dashboard turn the invoice paid. Once in English, and once in Latvian, which the user picks
in the sidebar: every page, button and message is then read in Latvian.
"""

import csv
import io
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect
from sqlmodel import select

from shared.db import write_session
from shared.document_format import format_amount
from shared.models import User
from shared.users import set_user_language
from tests.e2e import ui_dashboard as ui
from tests.e2e import ui_sandbox as portal
from tests.e2e.recording import Screenshots, SoftChecks
from tests.utils.e2e_stack import CHROMIUM, FINANCE, Stack, chromium_available, link_by_text

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not chromium_available(), reason=f"no Chromium at {CHROMIUM}"),
]

# The callback, the worker and the reconciler (every 5 s in the stack) all have to act
# before the dashboard can show a payment; this is the most a user should wait.
LIVE_UPDATE_MS = 30_000
CHECKLIST = (
    "Fields filled",
    "Connection tested",
    "Callback URL pasted (first callback received)",
    "First payment settled",
)
PAYMENT_METHODS = (
    "Card (Visa, Mastercard)",
    "Apple Pay",
    "Google Pay",
    "Swedbank",
    "SEB",
    "LHV",
)


@pytest.fixture(params=["en", "lv"], ids=["english", "latvian"])
def language(request: pytest.FixtureRequest, stack_settings: Stack) -> Iterator[str]:
    yield request.param
    ui.speak("en")
    # The stack outlives the test: the next tests sign in as finance and read English.
    with write_session() as session:
        finance = session.exec(select(User).where(User.username == FINANCE.username)).one()
        set_user_language(session, user_id=finance.id, language=None)


def shown(template: str, **values: str) -> re.Pattern[str]:
    """A message with values, as the page words it, matched whatever the values are."""
    marks = {name: f"@@{name}@@" for name in values}
    pattern = re.escape(ui.say(template, **marks))
    for name, value in values.items():
        pattern = pattern.replace(re.escape(marks[name]), value)
    return re.compile(pattern)


def csv_rows(path: Path) -> list[dict[str, str]]:
    # utf-8-sig: spreadsheet programs want a BOM, and the export may well write one.
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8-sig"))))


def stay_on_online_payments(page: Page, checks: SoftChecks, *, after: str) -> Locator:
    """The channel's panel after an action on it. A user expects to stay where they
    clicked; if the page jumped back to another tab, that is recorded and the tab
    re-opened so the journey can go on."""
    online_tab = ui.tab(page, "Online payments")
    with checks.soft(f"the Online payments tab stays open after {after}", page):
        expect(online_tab).to_have_attribute("aria-selected", "true", timeout=3_000)
    if online_tab.get_attribute("aria-selected") != "true":
        online_tab.click()
    return page.get_by_role("tabpanel", name=ui.say("Online payments"))


def test_invoice_paid_through_linkpay_from_set_up_to_export(
    language: str,
    stack: Stack,
    context: BrowserContext,
    page: Page,
    shots: Screenshots,
    checks: SoftChecks,
    tmp_path: Path,
) -> None:
    suffix = secrets.token_hex(3)
    account_name = f"Swedbank merchant {suffix}"
    # One company: its name on the invoice e-mail and on EveryPay's page alike.
    company_name = f"Journey Widgets {suffix} SIA"
    customer_name = f"Journey Customer {suffix} SIA"
    customer_email = f"ap-{suffix}@journey-customer.example"

    # 1. Log in as finance; the company's name and logo are what the e-mail shows.
    logo = portal.make_logo(tmp_path / "logo.png")
    ui.login(page, stack, FINANCE)
    ui.choose_language(page, language)
    shots(page, "logged-in", step=1)
    ui.open_page(page, "Company")
    ui.main(page).get_by_test_id("stFileUploaderDropzoneInput").set_input_files(logo)
    # The upload reruns the page; typing before that rerun lands is typing into a form the
    # rerun draws anew, so wait for the preview the rerun shows.
    expect(ui.main(page).get_by_text(ui.say("New logo (saved with Save)"))).to_be_visible()
    form = page.get_by_test_id("stForm")
    name_field = form.get_by_label(ui.say("Name"), exact=True)
    name_field.fill(company_name)
    expect(name_field).to_have_value(company_name)
    form.get_by_role("button", name=ui.say("Save"), exact=True).click()
    expect(ui.main(page).get_by_text(ui.say("Company details saved."))).to_be_visible()
    shots(page, "company", step=1)

    # 2. Money → Bank accounts → Create new bank account, type Merchant account.
    ui.open_page(page, "Bank accounts")
    ui.button(page, "Create new bank account").click()
    form = page.get_by_test_id("stForm")
    form.get_by_label(ui.say("Name"), exact=True).fill(account_name)
    form.get_by_text(ui.say("Merchant account"), exact=True).click()
    shots(page, "new-merchant-account", step=2)
    form.get_by_role("button", name=ui.say("Create"), exact=True).click()
    bank_account = ui.main(page).get_by_role("combobox", name=ui.say("Bank account"))
    expect(bank_account).to_have_value(account_name)
    accounts = ui.main(page).get_by_test_id("stDataFrame").first
    expect(accounts.locator("tbody tr", has_text=account_name)).to_contain_text(
        ui.say("Merchant account")
    )
    shots(page, "merchant-account-created", step=2)

    # 3. Its Online payments tab → activate LinkPay; the banks offering it are named.
    ui.tab(page, "Online payments").click()
    panel = page.get_by_role("tabpanel", name=ui.say("Online payments"))
    for bank in ("Swedbank", "SEB", "LHV"):
        expect(panel.get_by_text(bank).first).to_be_visible()
    ui.button(page, "Activate LinkPay", scope=panel).click()
    expect(panel.get_by_label("Link Token", exact=True)).to_be_visible()
    shots(page, "linkpay-activated", step=3)

    # 4. In the sandbox's merchant portal: merchant with logo, ADD LINK, read the values.
    portal_page = context.new_page()
    portal.create_merchant(portal_page, stack.sandbox_url, name=company_name, logo=logo)
    portal.add_link(portal_page)
    credentials = portal.read_credentials(portal_page)
    shots(portal_page, "portal-link-token-and-credentials", step=4)

    # 5. Paste the three values (environment Sandbox), Save: the Callback URL appears
    #    under the channel's name.
    page.bring_to_front()
    ui.fill(page, "Link Token", credentials.link_token, scope=panel)
    ui.fill(page, "API username", credentials.api_username, scope=panel)
    ui.fill(page, "API secret", credentials.api_secret, scope=panel)
    ui.choose(page, "Environment", "Sandbox (built-in simulator)", scope=panel)
    # The same fields the portal's link lets the URL change, as the form's help asks.
    for field in ("Customer name", "Customer e-mail"):
        panel.get_by_text(ui.say(field), exact=True).click()
    shots(page, "channel-fields-filled", step=5)
    # The channel form's button is the origin article's "Izmainīt" in Latvian.
    save = ui.say("Save") if language == "en" else "Izmainīt"
    panel.get_by_role("button", name=save, exact=True).click()
    expect(
        page.get_by_text(ui.say("Saved. Copy the Callback URL into the EveryPay portal."))
    ).to_be_visible()
    panel = stay_on_online_payments(page, checks, after="Save")
    channel_heading = panel.get_by_role("heading", name="LinkPay")
    expect(channel_heading).to_be_visible()
    callback_code = panel.get_by_test_id("stCode").first
    expect(callback_code).to_contain_text(f"{stack.public_base_url}/callbacks/linkpay/")
    callback_url = callback_code.inner_text().strip()
    assert re.fullmatch(re.escape(stack.public_base_url) + r"/callbacks/linkpay/\S+", callback_url)
    heading_box, code_box = channel_heading.bounding_box(), callback_code.bounding_box()
    assert heading_box and code_box and code_box["y"] > heading_box["y"]
    # The secret is never shown again once saved (its last four characters at most).
    expect(page.get_by_text(credentials.api_secret)).to_have_count(0)
    shots(page, "callback-url-shown", step=5)

    # 6. Paste the Callback URL into the portal's E-Shop settings and save; test the
    #    connection from the dashboard as the README's journey asks.
    portal_page.bring_to_front()
    portal.save_callback_url(portal_page, callback_url)
    shots(portal_page, "portal-callback-url-saved", step=6)
    page.bring_to_front()
    ui.button(page, "Test connection", scope=panel).click()
    ui.app_idle(page)
    panel = stay_on_online_payments(page, checks, after="Test connection")
    expect(
        panel.get_by_text(ui.say("Connected: EveryPay accepted the API username and secret."))
    ).to_be_visible()
    shots(page, "connection-tested", step=6)

    # 7. A customer with the SMTP server's address, an invoice for them, issued and sent
    #    by e-mail.
    ui.open_page(page, "Customers")
    ui.button(page, "Create customer").click()
    form = page.get_by_test_id("stForm")
    form.get_by_label(ui.say("Name"), exact=True).fill(customer_name)
    form.get_by_label(ui.say("E-mail"), exact=True).fill(customer_email)
    form.get_by_text(ui.say("EN"), exact=True).click()
    form.get_by_role("button", name=ui.say("Create customer")).click()
    expect(page.get_by_text(ui.say("Customer {name} saved.", name=customer_name))).to_be_visible()
    shots(page, "customer-created", step=7)

    ui.open_page(page, "Invoices")
    ui.button(page, "Create invoice").click()
    ui.fill(page, "Find customer", customer_name)
    ui.choose(page, "Customer", customer_name)
    ui.choose(page, "Online payment channel", f"LinkPay — {account_name} (EUR)")
    ui.fill(page, "Description", "Widgets, assembled")
    ui.fill(page, "Quantity", "2")
    ui.fill(page, "Unit price", "50.00")
    ui.choose(page, "VAT", "21 % standard (S)")
    total = format_amount(12100, "EUR", language=language)
    expect(ui.main(page).get_by_text(total).first).to_be_visible()
    shots(page, "invoice-draft", step=7)
    ui.button(page, "Save draft").click()
    expect(ui.main(page).get_by_role("heading", name=ui.say("Draft invoice"))).to_be_visible()
    ui.button(page, "Issue").click()
    issued = ui.main(page).get_by_text(
        shown("Invoice {number} issued. Choose how to send it below.", number=r"INV-\d{4}-\d+")
    )
    expect(issued).to_be_visible()
    number = re.search(r"INV-\d{4}-\d+", issued.inner_text()).group(0)
    heading = ui.say("Invoice {number}", number=number)
    expect(ui.main(page).get_by_role("heading", name=heading)).to_be_visible()
    shots(page, "invoice-issued", step=7)

    send_form = ui.main(page).get_by_test_id("stForm")
    recipient = ui.say_in_context("e-mail", "To")
    expect(send_form.get_by_label(recipient, exact=True)).to_have_value(customer_email)
    send_form.get_by_role("button", name=ui.say("Send e-mail")).click()
    sent = ui.say("E-mail sent to {recipients}.", recipients=customer_email)
    expect(ui.main(page).get_by_text(sent)).to_be_visible()
    shots(page, "invoice-sent", step=7)

    # A colleague watches the Payments page meanwhile, to see the payment come in live.
    watcher = context.new_page()
    ui.login(watcher, stack, FINANCE)
    ui.open_page(watcher, "Payments")
    ui.fill(watcher, "Invoice number or payment reference", number)
    payments = ui.main(watcher).get_by_test_id("stDataFrame")
    expect(ui.main(watcher).get_by_text(ui.say("No payments match these filters."))).to_be_visible()
    shots(watcher, "payments-before", step=7)

    # 8. The customer's e-mail: its Pay online link (ours, so the opening is counted)
    #    opens the sandbox page with the company's name and logo, the amount, the invoice
    #    number and the payment methods.
    mail = stack.mailbox.wait_for(customer_email)
    assert number in str(mail.message["Subject"])
    assert mail.message["From"].addresses[0].display_name == company_name
    assert "Swedbank" in mail.html and "SEB" in mail.html
    pay_link = link_by_text(mail.html, "Pay online")
    assert pay_link.startswith(f"{stack.public_base_url}/i/") and pay_link.endswith("/pay")

    assert [kind for kind, _ in mail.inline_images().values()] == ["image/png"], "no logo"
    assert any(name.endswith(".pdf") for name, _, _ in mail.attachments())

    customer = context.new_page()
    customer.set_content(mail.html_for_browser())
    expect(customer.get_by_role("img", name=company_name)).to_be_visible()
    shots(customer, "customer-email", step=8)
    customer.goto(pay_link)
    expect(customer.locator("#merchant_name")).to_have_text(company_name)
    logo_image = customer.locator("#merchant_logo")
    expect(logo_image).to_be_visible()
    assert logo_image.evaluate("image => image.complete && image.naturalWidth > 0")
    expect(customer.locator("#amount")).to_have_text("121.00 EUR")
    expect(customer.locator("#invoice_number")).to_have_text(number)
    for method in PAYMENT_METHODS:
        expect(customer.get_by_label(method, exact=True)).to_be_visible()
    shots(customer, "sandbox-pay-page", step=8)

    # 9. Decline once, then open the link again and pay.
    portal.choose_outcome(customer, "decline")
    expect(customer.locator("#result_headline")).to_have_text("Payment declined")
    expect(customer.locator("#payment_state")).to_have_text("failed")
    shots(customer, "declined", step=9)
    customer.goto(pay_link)
    expect(customer.locator("#amount")).to_have_text("121.00 EUR")
    portal.choose_outcome(customer, "pay", method_label="Swedbank")
    expect(customer.locator("#result_headline")).to_have_text("Payment successful")
    expect(customer.locator("#payment_state")).to_have_text("settled")
    shots(customer, "paid", step=9)

    # 10. Back in the dashboard, without reloading: Payments shows the failed and the
    #     settled attempt, and the open invoice turns paid.
    watcher.bring_to_front()
    rows = payments.locator("tbody tr")
    expect(rows.filter(has_text=ui.say("Settled"))).to_have_count(1, timeout=LIVE_UPDATE_MS)
    expect(rows.filter(has_text=ui.say("Failed"))).to_have_count(1)
    expect(rows).to_have_count(2)
    shots(watcher, "payments-live", step=10)

    page.bring_to_front()
    with checks.soft("the open invoice detail turns Paid without a reload", page, step=10):
        expect(ui.status_badge(page)).to_have_text(ui.say("Paid"), timeout=LIVE_UPDATE_MS)
        shots(page, "invoice-paid", step=10)

    # The channel's set-up checklist is complete.
    ui.open_page(page, "Bank accounts")
    ui.choose(page, "Bank account", account_name)
    ui.tab(page, "Online payments").click()
    panel = page.get_by_role("tabpanel", name=ui.say("Online payments"))
    for label in CHECKLIST:
        step = panel.locator("p", has_text=ui.say(label))
        expect(step).to_contain_text("check_circle")
        expect(step).not_to_contain_text("radio_button_unchecked")
    shots(page, "checklist-complete", step=10)

    # The CSV export of the invoice list has the invoice as paid.
    ui.open_page(page, "Invoices")
    ui.fill(page, "Number", number)
    # The row may be on screen before the filter's rerun has even started; a download
    # clicked during that rerun asks for a file the rerun has already dropped.
    one_row = ui.say("Rows {first}–{last} of {total}", first="1", last="1", total="1")
    expect(ui.main(page).get_by_text(one_row, exact=True)).to_be_visible()
    ui.app_idle(page)
    grid = ui.main(page).get_by_test_id("stDataFrame")
    expect(grid.locator("tbody tr", has_text=number)).to_contain_text(ui.say("Paid"))
    shots(page, "invoice-list-paid", step=10)
    with checks.soft("Download CSV of the invoice list downloads the invoice as paid", page):
        with page.expect_download(timeout=15_000) as download_info:
            ui.download_link(page, "Download CSV").click()
        exported = csv_rows(Path(download_info.value.path()))
        # The file speaks the user's language, headings and states alike.
        mine = [row for row in exported if row.get(ui.say("Number")) == number]
        assert len(mine) == 1, f"{number} not once in the CSV export: {exported}"
        assert mine[0][ui.say("Status")] == ui.say("Paid")
        assert mine[0][ui.say("Open balance")] in ("0.00", "0")

    ui.open_page(page, "Invoice detail")
    expect(ui.main(page).get_by_role("heading", name=heading)).to_be_visible()
    expect(ui.status_badge(page)).to_have_text(ui.say("Paid"))
    shots(page, "invoice-paid-final", step=10)

    # 11. A reload keeps the user signed in and in their language; the invoice's address,
    #     pasted into a new tab as a colleague would, opens the invoice.
    page.reload()
    expect(ui.sidebar(page).get_by_text(ui.signed_in_as(FINANCE))).to_be_visible()
    expect(ui.nav_link(page, "Invoices")).to_be_visible()
    pasted = context.new_page()
    pasted.goto(f"{stack.dashboard_url}/?invoice={number}")
    expect(ui.main(pasted).get_by_role("heading", name=heading)).to_be_visible()
    expect(ui.status_badge(pasted)).to_have_text(ui.say("Paid"))
    shots(pasted, "pasted-link", step=11)
    pasted.close()

    # 12. The accountant's sales ledger from Reports: the invoice, its net and VAT at 21 %,
    #     paid, nothing open; headings and state in the user's language.
    page.bring_to_front()
    ui.open_page(page, "Reports")
    ui.open_report(page, "Sales ledger")
    ledger_csv = ui.main(page).locator(".st-key-rep_ledger_export_csv").get_by_role("link")
    with checks.soft("Download CSV of the sales ledger has the invoice as paid", page, step=12):
        with page.expect_download(timeout=15_000) as download_info:
            ledger_csv.click()
        ledger = csv_rows(Path(download_info.value.path()))
        mine = [row for row in ledger if row.get(ui.say("Number")) == number]
        assert len(mine) == 1, f"{number} not once in the sales ledger: {ledger}"
        assert mine[0][ui.say("Net 21 %")] == "100.00"
        assert mine[0][ui.say("VAT 21 %")] == "21.00"
        assert mine[0][ui.say("Paid")] == "121.00"
        assert mine[0][ui.say("Open balance")] in ("0.00", "0")
        assert mine[0][ui.say("Status")] == ui.say("Paid")

    checks.assert_all()
