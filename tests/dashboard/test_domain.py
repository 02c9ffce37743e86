"""The dashboard's domain modules: company, customers, review actions, user admin."""

import pytest
from sqlmodel import select

from shared.company import (
    MAX_LOGO_BYTES,
    CompanyInput,
    company_settings,
    logo_mime_type,
    save_company,
    validate_timezone,
)
from shared.customers import CustomerInput, create_customer, parse_cc_emails
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.models import AuditLog, Invoice, ReviewItem
from shared.review import accept_partial_payment, mark_resolved
from shared.user_admin import set_user_active
from tests.dashboard.conftest import make_attempt, make_user
from tests.utils.factories import make_channel, make_invoice

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 20
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 20


def test_logo_is_recognised_by_its_bytes_and_size():
    assert logo_mime_type(PNG) == "image/png"
    assert logo_mime_type(JPEG) == "image/jpeg"
    for bad in (b"GIF89a....", b"<svg onload=alert(1)>", b""):
        with pytest.raises(ValidationError, match="PNG or JPEG"):
            logo_mime_type(bad)
    with pytest.raises(ValidationError, match="1 MB or smaller"):
        logo_mime_type(PNG + b"\0" * MAX_LOGO_BYTES)


def test_company_defaults_then_saved_values(db):
    with read_session() as session:
        assert company_settings(session).timezone == "Europe/Riga"
    with pytest.raises(ValidationError, match="Unknown time zone"):
        validate_timezone("Mars/Olympus")
    with write_session() as session:
        save_company(
            session,
            actor="t",
            logo=PNG,
            data=CompanyInput(name="Demo SIA", timezone="Europe/Vilnius"),
        )
    with write_session() as session:
        save_company(session, actor="t", data=CompanyInput(name="Demo SIA 2"))  # logo kept
    with read_session() as session:
        settings = company_settings(session)
    assert (settings.name, settings.has_logo, settings.timezone) == (
        "Demo SIA 2",
        True,
        "Europe/Riga",
    )


def test_customer_emails_are_validated():
    assert parse_cc_emails(" a@x.lv;b@y.com\nA@x.lv ") == "a@x.lv, b@y.com, A@x.lv"
    with pytest.raises(ValidationError) as error:
        parse_cc_emails("a@x.lv, nope")
    assert error.value.field == "cc_emails"


def test_customer_needs_a_name_and_a_known_language(db):
    with write_session() as session, pytest.raises(ValidationError) as error:
        create_customer(session, actor="t", data=CustomerInput(name=" ", email="a@x.lv"))
    assert error.value.field == "name"
    with write_session() as session, pytest.raises(ValidationError, match="LV or EN"):
        create_customer(session, actor="t", data=CustomerInput(name="A", language="de"))


def _item(invoice, attempt) -> int:
    with write_session() as session:
        item = ReviewItem(
            kind="amount_mismatch",
            dedupe_key=f"x:{attempt.id}",
            reason="r",
            invoice_id=invoice.id,
            payment_attempt_id=attempt.id,
        )
        session.add(item)
        session.flush()
        return item.id


def test_partial_payment_is_booked_once_and_never_above_the_open_balance(db):
    invoice = make_invoice(channel=make_channel())
    too_much = _item(invoice, make_attempt(invoice, amount_minor=20_000, booked=False))
    with write_session() as session, pytest.raises(ValidationError, match="more than the open"):
        accept_partial_payment(session, actor="finance", review_id=too_much)

    part = _item(invoice, make_attempt(invoice, amount_minor=2_100, booked=False))
    with write_session() as session:
        accept_partial_payment(session, actor="finance", review_id=part)
    with write_session() as session, pytest.raises(ValidationError, match="already resolved"):
        accept_partial_payment(session, actor="finance", review_id=part)
    with read_session() as session:
        stored = session.get(Invoice, invoice.id)
    assert (stored.paid_minor, stored.open_minor, stored.status) == (
        2_100,
        10_000,
        "partially_paid",
    )


def test_mark_resolved_is_audited(db):
    invoice = make_invoice(channel=make_channel())
    item_id = _item(invoice, make_attempt(invoice, state="failed", booked=False))
    with write_session() as session:
        mark_resolved(session, actor="finance", review_id=item_id, comment="checked")
    with read_session() as session:
        entry = session.exec(select(AuditLog).where(AuditLog.action == "review.resolve")).one()
    assert (entry.actor, entry.details["comment"]) == ("finance", "checked")


def test_the_last_admin_stays_active(db):
    admin = make_user("admin", "boss")
    with write_session() as session, pytest.raises(ValidationError, match="last active admin"):
        set_user_active(session, actor="someone-else", user_id=admin, active=False)
