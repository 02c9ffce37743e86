"""Typed text that would break a mail header or the database is refused with a message
next to its field, before anything is stored; long text is refused, never cut."""

from collections.abc import Callable

import pytest
from sqlmodel import SQLModel, select

from shared.channels import ChannelInput, create_bank_account, save_linkpay_channel
from shared.company import CompanyInput, get_company, save_company
from shared.customers import CustomerInput, create_customer
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import cancel_invoice
from shared.models import (
    AccountType,
    BankAccount,
    Company,
    Customer,
    Invoice,
    InvoiceStatus,
    PaymentChannel,
    ReviewItem,
    User,
)
from shared.review import mark_resolved
from shared.text import clean_multiline, clean_single_line
from shared.users import create_user
from tests.utils.factories import make_invoice


def _company(**fields: str) -> None:
    with write_session() as session:
        save_company(session, actor="t", data=CompanyInput(**{"name": "Koks SIA", **fields}))


def _customer(**fields: str) -> None:
    with write_session() as session:
        create_customer(session, actor="t", data=CustomerInput(**{"name": "Anna SIA", **fields}))


def _bank_account(**fields: str) -> None:
    with write_session() as session:
        create_bank_account(
            session, actor="t", account_type=AccountType.MERCHANT, **{"name": "EUR", **fields}
        )


def _channel(**fields: str) -> None:
    with write_session() as session:
        account = create_bank_account(
            session, actor="t", name="Merchant", account_type=AccountType.MERCHANT
        )
        save_linkpay_channel(
            session,
            actor="t",
            bank_account_id=account.id,
            data=ChannelInput(
                **{"link_token": "tok123", "api_username": "abc", "api_secret": "secret1", **fields}
            ),
        )


def _user(**fields: str) -> None:
    with write_session() as session:
        create_user(
            session, actor="t", username="anna", password="long-enough-1", role="finance", **fields
        )


CASES: list[tuple[Callable[..., None], type[SQLModel], str, str]] = [
    (_company, Company, "name", "Koks SIA\r\nBcc: someone@example.com"),
    (_company, Company, "name", "Koks\u2028SIA"),
    (_company, Company, "name", "Koks\x00"),
    (_company, Company, "registration_number", "4000\x003"),
    (_company, Company, "vat_number", "LV\n4000"),
    (_company, Company, "address", "Rīga\x00"),
    (_company, Company, "email", "info@koks.lv\r\nBcc: x@example.com"),
    (_company, Company, "email", "in\x00fo@koks.lv"),
    (_customer, Customer, "name", "Anna\r\nSIA"),
    (_customer, Customer, "name", "Anna\x00"),
    (_customer, Customer, "vat_number", "LV\x00"),
    (_customer, Customer, "email", "anna@example.lv\nBcc: x@example.com"),
    (_customer, Customer, "cc_emails", "a@example.lv\x00"),
    (_customer, Customer, "address", "Rīga\x00"),
    (_bank_account, BankAccount, "name", "EUR\naccount"),
    (_bank_account, BankAccount, "bank_name", "Swed\x00bank"),
    (_channel, PaymentChannel, "name", "Link\x00Pay"),
    (_channel, PaymentChannel, "api_username", "abc\r\nX-Injected: 1"),
    (_channel, PaymentChannel, "api_secret", "secret\x00"),
    (_user, User, "full_name", "Anna\nBērziņa"),
    (_user, User, "full_name", "Anna\x00"),
]


@pytest.mark.parametrize(
    ("save", "table", "field", "value"),
    CASES,
    ids=[f"{table.__name__}.{field}-{i}" for i, (_, table, field, _) in enumerate(CASES)],
)
def test_line_breaks_and_control_characters_are_refused_before_the_database(
    any_db: str, save: Callable[..., None], table: type[SQLModel], field: str, value: str
) -> None:
    with pytest.raises(ValidationError) as error:
        save(**{field: value})
    assert error.value.field == field
    assert "one line" in str(error.value) or "control character" in str(error.value)
    with read_session() as session:
        stored = session.exec(select(table)).all()
    assert stored == []


@pytest.mark.parametrize(
    ("save", "field", "value", "message"),
    [
        (_company, "name", "K" * 201, "Name can be at most 200 characters; this one has 201."),
        (_company, "vat_number", "LV" + "1" * 49, "at most 50 characters"),
        (_customer, "name", "A" * 201, "at most 200 characters"),
        (_customer, "address", "R" * 501, "at most 500 characters"),
        (_bank_account, "bank_name", "B" * 201, "at most 200 characters"),
        (_user, "full_name", "F" * 201, "at most 200 characters"),
    ],
)
def test_text_longer_than_its_column_is_refused_not_cut(
    db: str, save: Callable[..., None], field: str, value: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as error:
        save(**{field: value})
    assert error.value.field == field


def test_multiline_fields_keep_their_lines(any_db: str) -> None:
    _company(address="Brīvības 1\r\nRīga\tLV-1010")
    _customer(address="Line one\nLine two", cc_emails="a@example.lv\nb@example.lv")
    with read_session() as session:
        assert get_company(session).address == "Brīvības 1\nRīga\tLV-1010"
        customer = session.exec(select(Customer)).one()
    assert customer.address == "Line one\nLine two"
    assert customer.cc_emails == "a@example.lv, b@example.lv"


def test_the_helpers_strip_and_name_the_field() -> None:
    assert clean_single_line("  Koks SIA ", field="name", label="Name", max_length=8) == "Koks SIA"
    assert clean_multiline(" a\rb\n", field="notes", label="Notes", max_length=3) == "a\nb"
    with pytest.raises(ValidationError, match="Reason must be on one line") as error:
        clean_single_line("a\nb", field="reason", label="Reason", max_length=10)
    assert error.value.field == "reason"
    with pytest.raises(ValidationError, match=r"U\+001B"):
        clean_multiline("a\x1b[31m", field="notes", label="Notes", max_length=10)


def test_a_cancel_reason_or_review_comment_with_a_nul_is_refused(any_db: str) -> None:
    invoice = make_invoice(channel=None)
    with write_session() as session:
        review = ReviewItem(kind="overpayment", dedupe_key="k", reason="r")
        session.add(review)
        session.flush()
        review_id = review.id
    nul = "control character"
    with pytest.raises(ValidationError, match=nul) as error, write_session() as session:
        cancel_invoice(session, actor="t", invoice_id=invoice.id, reason="Dup\x00licate")
    assert error.value.field == "reason"
    with pytest.raises(ValidationError, match="one line"), write_session() as session:
        cancel_invoice(session, actor="t", invoice_id=invoice.id, reason="Duplicate\nBcc: x")
    with pytest.raises(ValidationError, match=nul) as error, write_session() as session:
        mark_resolved(session, actor="t", review_id=review_id, comment="Refunded\x00")
    assert error.value.field == "comment"
    with read_session() as session:
        assert session.get(Invoice, invoice.id).status == InvoiceStatus.ISSUED
        assert session.get(ReviewItem, review_id).status == "open"
