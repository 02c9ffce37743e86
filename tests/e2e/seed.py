"""Data for the tests that start after the set-up the journey test already clicks through.

Written with the product's own functions into the running stack's database (the caller
uses the ``stack_settings`` fixture so this process's settings point at that stack), and
registered in the running sandbox through its scripting API, exactly as a merchant who
copied the values by hand would have them.
"""

import secrets
from dataclasses import dataclass

import httpx

from shared.audit import SYSTEM_ACTOR
from shared.callbacks.reviews import open_review
from shared.channels import (
    ChannelInput,
    callback_url,
    channel_hosts,
    create_bank_account,
    save_linkpay_channel,
)
from shared.customers import CustomerInput, create_customer
from shared.db import read_session, write_session
from shared.invoicing import DraftInput, LineInput, create_draft, issue_invoice
from shared.linkpay.links import invoice_pay_link, link_params
from shared.linkpay.signing import signed_link_url
from shared.models import AccountType, Customer, Environment, Invoice, PaymentChannel, ReviewKind
from shared.money import format_money
from shared.security import decrypt_secret
from shared.sending import public_invoice_url, public_token
from tests.utils.e2e_stack import Stack

ACTOR = SYSTEM_ACTOR  # seeding acts as the system, not as a person


@dataclass(frozen=True)
class SeededChannel:
    channel_id: int
    account_name: str
    merchant_name: str
    api_username: str
    callback_url: str


@dataclass(frozen=True)
class SeededInvoice:
    invoice_id: int
    number: str
    public_token: str
    total_minor: int
    currency: str
    customer_name: str
    customer_email: str

    @property
    def total_text(self) -> str:
        """The amount as the sandbox's pay page writes it, e.g. "121.00 EUR"."""
        return f"{self.total_minor // 100}.{self.total_minor % 100:02d} {self.currency}"

    @property
    def total_display(self) -> str:
        return format_money(self.total_minor, self.currency)


def linkpay_channel(stack: Stack, *, merchant_name: str) -> SeededChannel:
    """A merchant account with a LinkPay channel on a new sandbox merchant whose Callback
    Notification URL is the channel's Callback URL."""
    suffix = secrets.token_hex(4)
    api_username = f"e2e_{suffix}"
    api_secret = secrets.token_urlsafe(24)
    link_token = f"lt_{secrets.token_hex(12)}"
    account_name = f"Merchant account {suffix}"
    with write_session() as session:
        account = create_bank_account(
            session, actor=ACTOR, name=account_name, account_type=AccountType.MERCHANT
        )
        channel = save_linkpay_channel(
            session,
            actor=ACTOR,
            bank_account_id=account.id,
            data=ChannelInput(
                link_token=link_token,
                api_username=api_username,
                api_secret=api_secret,
                environment=Environment.SANDBOX,
                url_fields=["customer_name", "customer_email"],
            ),
        )
        channel_id = channel.id
        url = callback_url(channel)
    response = httpx.post(
        f"{stack.sandbox_url}/sandbox/merchants",
        json={
            "name": merchant_name,
            "api_username": api_username,
            "api_secret": api_secret,
            "link_token": link_token,
            "callback_url": url,
        },
        timeout=10.0,
    )
    response.raise_for_status()
    return SeededChannel(channel_id, account_name, merchant_name, api_username, url)


def issued_invoice(
    *,
    channel_id: int,
    customer_name: str,
    customer_email: str,
    unit_price: str = "100.00",
    vat_rate: str = "21",
    issue: bool = True,
) -> SeededInvoice:
    with write_session() as session:
        customer = create_customer(
            session,
            actor=ACTOR,
            data=CustomerInput(name=customer_name, email=customer_email, language="en"),
        )
        invoice = create_draft(
            session,
            actor=ACTOR,
            data=DraftInput(
                customer_id=customer.id,
                channel_id=channel_id,
                lines=[LineInput("Consulting, hours", "1", unit_price, vat_rate)],
            ),
        )
        if issue:
            invoice = issue_invoice(session, actor=ACTOR, invoice_id=invoice.id)
        return SeededInvoice(
            invoice_id=invoice.id,
            number=invoice.number or "",
            public_token=public_token(invoice),
            total_minor=invoice.total_minor,
            currency=invoice.currency,
            customer_name=customer_name,
            customer_email=customer_email,
        )


def pay_link(invoice_id: int) -> str:
    with read_session() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        link = invoice_pay_link(session, invoice)
    assert link, f"invoice {invoice_id} has no pay link"
    return link


def pay_link_for_amount(invoice_id: int, amount: str) -> str:
    """A correctly signed link for the invoice asking for ``amount`` instead of its open
    balance, as one made by hand in the EveryPay portal would."""
    with read_session() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None and invoice.channel_id is not None
        channel = session.get(PaymentChannel, invoice.channel_id)
        customer = session.get(Customer, invoice.customer_id)
        params = [
            (name, amount if name == "transaction_amount" else value)
            for name, value in link_params(channel=channel, invoice=invoice, customer=customer)
        ]
        return signed_link_url(
            channel_hosts(channel)[0], decrypt_secret(channel.api_secret_encrypted), params
        )


def invoice_status(invoice_id: int) -> str:
    with read_session() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        return invoice.status


def public_url(invoice_id: int) -> str:
    with read_session() as session:
        invoice = session.get(Invoice, invoice_id)
        assert invoice is not None
        return public_invoice_url(invoice)


def review_item(*, invoice_id: int, channel_id: int) -> None:
    """An open exception, as the callback pipeline files one for a payment stuck pending."""
    with write_session() as session:
        open_review(
            session,
            kind=ReviewKind.STUCK_PENDING,
            dedupe_key=f"e2e-stuck-{invoice_id}",
            reason="Payment has been pending at EveryPay for over an hour (e2e seed).",
            invoice_id=invoice_id,
            channel_id=channel_id,
        )
