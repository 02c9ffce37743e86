"""A real SMTP server (aiosmtpd) per test, and the invoice set-ups the sending tests share."""

import io
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from callback_service import public_pages
from shared.config import get_settings
from shared.db import write_session
from shared.linkpay.signing import parse_query, verify_query
from shared.models import Company, Customer, Invoice
from tests.utils.factories import API_SECRET, make_channel, make_customer, make_invoice


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """What the test mail server received; ``reject`` makes it refuse the next messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.reject: str | None = None

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.reject:
            return self.reject
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 OK"


def point_smtp_at(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    monkeypatch.setenv("LINKPAY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("LINKPAY_SMTP_PORT", str(port))
    monkeypatch.setenv("LINKPAY_SMTP_TIMEOUT_SECONDS", "5")
    monkeypatch.setenv("LINKPAY_PUBLIC_BASE_URL", "https://pay.example.lv")
    get_settings.cache_clear()


@pytest.fixture
def smtp_server(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    point_smtp_at(monkeypatch, controller.port)
    try:
        yield inbox
    finally:
        controller.stop()


def png_logo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (120, 40), (11, 92, 173)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def company(db: str) -> Company:
    with write_session() as session:
        company = Company(
            name="Baltic Widgets SIA",
            registration_number="40003000001",
            vat_number="LV40003000001",
            address="Rīga, Krišjāņa Barona iela 12",
            email="billing@balticwidgets.lv",
            logo=png_logo(),
            logo_mime="image/png",
        )
        session.add(company)
        return company


def english_customer(*, name: str = "Northwind Ltd") -> Customer:
    return make_customer(name=name, email="ap@northwind.example", language="en")


def issued_invoice(*, customer: Customer | None = None, **values) -> Invoice:
    """An issued invoice of 100.00 + 21 % VAT = 121.00 EUR on a LinkPay channel."""
    return make_invoice(channel=make_channel(), customer=customer, **values)


def set_cc(customer: Customer, cc: str) -> None:
    with write_session() as session:
        row = session.get(Customer, customer.id)
        row.cc_emails = cc
        session.add(row)


def follow_pay_link(url: str) -> dict[str, str]:
    """Opens the pay link an e-mail or PDF carries (our /i/{token}/pay) as the customer
    would; returns the parameters of the signed EveryPay link it redirects to."""
    app = FastAPI()
    app.include_router(public_pages.router)
    response = TestClient(app, follow_redirects=False).get(urlsplit(url).path)
    assert response.status_code == 303, response.text
    query = response.headers["location"].split("?", 1)[1]
    assert verify_query(query, API_SECRET)
    return parse_query(query)
