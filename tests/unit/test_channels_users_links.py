from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from shared.channels import (
    ChannelInput,
    callback_token,
    callback_url,
    create_bank_account,
    find_channel_by_token,
    rotate_callback_token,
    save_linkpay_channel,
    setup_checklist,
    validate_iban,
)
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import cancel_invoice
from shared.linkpay.links import invoice_pay_link
from shared.linkpay.signing import parse_query, verify_query
from shared.models import AccountType, AuditLog, Environment, Invoice, PaymentChannel, utcnow
from shared.users import authenticate, can, create_user
from tests.utils.factories import (
    API_SECRET,
    make_channel,
    make_invoice,
    post_payment,
    settle_linkpay,
)


def test_iban_validation():
    assert validate_iban("lv80 bank 0000 4351 9500 1") == "LV80BANK0000435195001"
    with pytest.raises(ValidationError, match="check digits"):
        validate_iban("LV81BANK0000435195001")
    with pytest.raises(ValidationError, match="country code") as error:
        validate_iban("12345")
    assert error.value.field == "iban"


def test_linkpay_needs_a_merchant_account(db):
    with write_session() as session:
        regular = create_bank_account(
            session,
            actor="t",
            name="Main",
            account_type=AccountType.REGULAR,
            iban="LV80BANK0000435195001",
        )
        with pytest.raises(ValidationError, match="Merchant account"):
            save_linkpay_channel(
                session,
                actor="t",
                bank_account_id=regular.id,
                data=ChannelInput(link_token="tok", api_username="u", api_secret="s"),
            )


def test_channel_save_requires_the_three_fields_and_blank_secret_keeps_the_old_one(db):
    with write_session() as session:
        account = create_bank_account(
            session, actor="t", name="M", account_type=AccountType.MERCHANT
        )
        with pytest.raises(ValidationError) as error:
            save_linkpay_channel(
                session,
                actor="t",
                bank_account_id=account.id,
                data=ChannelInput(link_token="tok123", api_username="abc", api_secret=""),
            )
        assert error.value.field == "api_secret"
        channel = save_linkpay_channel(
            session,
            actor="t",
            bank_account_id=account.id,
            data=ChannelInput(
                link_token="tok123", api_username="abc", api_secret="first-secret-1234"
            ),
        )
        save_linkpay_channel(
            session,
            actor="t",
            bank_account_id=account.id,
            channel_id=channel.id,
            data=ChannelInput(link_token="tok456", api_username="abc", api_secret=""),
        )
        assert channel.api_secret_last4 == "1234"
        assert channel.link_token == "tok456"
        assert channel.environment == Environment.SANDBOX
        assert channel.linkpay_prefix.endswith("/lp")
    with read_session() as session:
        audit = [a.details for a in session.query(AuditLog).all()]
    assert all("first-secret" not in str(details) for details in audit)


def test_callback_url_resolves_and_rotation_keeps_the_old_one_for_a_grace_period(db):
    channel = make_channel()
    old_token = callback_token(channel)
    assert urlsplit(callback_url(channel)).path == f"/callbacks/linkpay/{old_token}"
    assert len(old_token) >= 22  # ≥ 128 random bits in URL-safe base64
    with write_session() as session:
        rotate_callback_token(session, actor="t", channel_id=channel.id)
    with read_session() as session:
        rotated = session.get(PaymentChannel, channel.id)
        new_token = callback_token(rotated)
        assert new_token != old_token
        assert find_channel_by_token(session, new_token).id == channel.id
        assert find_channel_by_token(session, old_token).id == channel.id
        assert find_channel_by_token(session, "not-a-token") is None
        assert find_channel_by_token(session, "") is None
    with write_session() as session:
        stored = session.get(PaymentChannel, channel.id)
        stored.previous_token_valid_until = utcnow() - timedelta(seconds=1)
    with read_session() as session:
        assert find_channel_by_token(session, old_token) is None


def test_setup_checklist_follows_the_channel(db):
    channel = make_channel()
    steps = setup_checklist(channel)
    assert [s.done for s in steps] == [True, False, False, False]
    # Refund, void and chargeback callbacks come only with this portal option.
    assert "Additional notifications via callback" in steps[2].hint


def test_pay_link_carries_the_open_balance_and_a_new_reference_after_a_partial_payment(db):
    channel = make_channel()
    invoice = make_invoice(channel=channel)
    with read_session() as session:
        link = invoice_pay_link(session, invoice)
    query = urlsplit(link).query
    assert verify_query(query, API_SECRET)
    params = parse_query(query)
    assert params["transaction_amount"] == "121.00"
    assert params["order_reference"] == invoice.number
    assert params["customer_name"] == "Anna Bērziņa SIA"
    with write_session() as session:
        stored = session.get(Invoice, invoice.id)
        settle_linkpay(session, invoice_id=stored.id, amount_minor=2100)
    with read_session() as session:
        params = parse_query(
            urlsplit(invoice_pay_link(session, session.get(Invoice, invoice.id))).query
        )
    assert params["transaction_amount"] == "100.00"
    assert params["order_reference"] == f"{invoice.number}-2"
    assert Decimal(params["transaction_amount"]) > 0


def test_paid_cancelled_and_draft_invoices_have_no_pay_link(db):
    channel = make_channel()
    paid = make_invoice(channel=channel)
    cancelled = make_invoice(channel=channel)
    draft = make_invoice(channel=channel, issue=False)
    with write_session() as session:
        post_payment(session, invoice_id=paid.id, amount_minor=12100)
        cancel_invoice(session, actor="t", invoice_id=cancelled.id, reason="Duplicate")
    with read_session() as session:
        for invoice in (paid, cancelled, draft):
            assert invoice_pay_link(session, session.get(Invoice, invoice.id)) is None


def test_login_lockout_after_repeated_failures(db):
    with write_session() as session:
        create_user(session, actor="t", username="ilze", password="correct-pass", role="finance")
    for _ in range(5):
        with write_session() as session:
            assert not authenticate(session, username="ilze", password="wrong").ok
    with write_session() as session:
        locked = authenticate(session, username="ilze", password="correct-pass")
    assert not locked.ok and "Too many failed attempts" in locked.message
    with read_session() as session:
        outcomes = [a.outcome for a in session.query(AuditLog).filter_by(action="login").all()]
    assert outcomes.count("failed") == 5 and outcomes[-1] == "locked"


def test_roles():
    assert can("admin", "users") and can("finance", "edit")
    assert not can("manager", "edit") and can("manager", "export")
    assert not can(None, "view")
