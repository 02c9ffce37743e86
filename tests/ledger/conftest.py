"""Ledger test helpers: invoices with chosen dates, entries posted with a value date
through the ledger's one path, and a real SMTP server for the statement e-mail."""

from collections.abc import Iterator
from datetime import date
from uuid import uuid4

import pytest
from aiosmtpd.controller import Controller

from shared.db import write_session
from shared.invoicing import LineInput, lock_invoice
from shared.ledger.posting import post_entry
from shared.models import Company, Customer, Invoice, LedgerEntryKind, LedgerSource
from tests.sending.conftest import Inbox, free_port, point_smtp_at
from tests.utils.factories import make_invoice


def invoice_on(customer: Customer, day: date, amount: str = "100.00", **kwargs) -> Invoice:
    """An issued invoice of ``amount`` without VAT, dated ``day``."""
    return make_invoice(
        channel=None,
        customer=customer,
        lines=[LineInput("Consulting", "1", amount, "0")],
        issue_date=day,
        **kwargs,
    )


def post(
    invoice: Invoice,
    kind: LedgerEntryKind,
    amount_minor: int,
    day: date,
    *,
    source: LedgerSource = LedgerSource.BANK_TRANSFER,
    reference: str = "",
) -> None:
    with write_session() as session:
        locked = lock_invoice(session, invoice_id=invoice.id)
        post_entry(
            session,
            invoice=locked,
            kind=kind,
            source=source,
            amount_minor=amount_minor,
            key=f"test:{uuid4().hex}",
            actor="test",
            value_date=day,
            reference=reference,
        )


def make_company() -> None:
    with write_session() as session:
        session.add(
            Company(
                name="Baltic Widgets SIA",
                registration_number="40003000001",
                vat_number="LV40003000001",
                address="Rīga, Krišjāņa Barona iela 12",
                email="billing@balticwidgets.lv",
            )
        )


@pytest.fixture
def smtp_inbox(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    point_smtp_at(monkeypatch, controller.port)
    try:
        yield inbox
    finally:
        controller.stop()
