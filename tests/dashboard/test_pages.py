"""The other pages with data: payments, callbacks, exceptions, customers, company, users,
audit log."""

import io
from datetime import UTC, datetime

from PIL import Image
from sqlmodel import select

from shared.db import read_session, write_session
from shared.models import (
    AuditLog,
    CallbackEvent,
    Company,
    Customer,
    Invoice,
    InvoiceStatus,
    ReviewItem,
    User,
)
from tests.dashboard.conftest import (
    app_as,
    download_links,
    make_attempt,
    no_exceptions,
    open_page,
    texts,
)
from tests.utils.factories import make_channel, make_invoice


def _png(size: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), "navy").save(buffer, format="PNG")
    return buffer.getvalue()


def _review(invoice, attempt, *, kind: str = "amount_mismatch") -> int:
    with write_session() as session:
        item = ReviewItem(
            kind=kind,
            dedupe_key=f"{kind}:{attempt.payment_reference}",
            reason="EveryPay settled 50.00 EUR; the invoice asked for 121.00 EUR.",
            invoice_id=invoice.id,
            payment_attempt_id=attempt.id,
            channel_id=invoice.channel_id,
            amount_minor=attempt.standing_amount_minor,
            currency="EUR",
        )
        session.add(item)
        session.flush()
        return item.id


def test_payments_table_lists_attempts_live(db):
    invoice = make_invoice(channel=make_channel())
    make_attempt(invoice, at=datetime(2026, 5, 2, 9, 0, tzinfo=UTC))
    at = open_page(app_as("manager"), "payments")
    no_exceptions(at)
    frame = at.dataframe[0].value
    assert list(frame["Invoice"]) == [invoice.number]
    assert list(frame["Card"]) == ["visa •••• 4242"]
    assert list(frame["State"]) == ["Settled"]
    assert at.toggle(key="pay_live").value is True
    at.multiselect(key="pay_state").select("failed").run()
    assert "No payments match these filters." in texts(at)


def test_callbacks_log_and_reprocess_for_finance_only(db):
    channel = make_channel()
    with write_session() as session:
        session.add(
            CallbackEvent(
                channel_id=channel.id,
                payment_reference="ab" * 32,
                order_reference="INV-2026-0001",
                event_name="status_updated",
                status="rejected",
                outcome="payment_reference is not 64 hex characters",
            )
        )
    at = open_page(app_as("finance"), "callbacks", opened=("cb_reprocess_panel",))
    no_exceptions(at)
    frame = at.dataframe[0].value
    assert list(frame["Event"]) == ["status_updated"]
    assert list(frame["Processing status"]) == ["Rejected"]
    at.button(key="cb_reprocess").click().run()
    no_exceptions(at)
    assert "was rejected when it arrived" in texts(at)
    assert not any(
        b.key == "cb_reprocess"
        for b in open_page(app_as("manager"), "callbacks", opened=("cb_reprocess_panel",)).button
    )


def test_exception_accepted_as_partial_payment_is_booked_and_audited(db):
    invoice = make_invoice(channel=make_channel())
    attempt = make_attempt(invoice, amount_minor=5000, booked=False)
    item_id = _review(invoice, attempt)
    at = open_page(app_as("finance"), "exceptions")
    no_exceptions(at)
    assert list(at.dataframe[0].value["Kind"]) == ["Amount mismatch"]
    assert "**Reason:** EveryPay settled 50.00 EUR" in texts(at)
    at.text_area(key="rev_comment").input("Customer paid part by phone agreement")
    at.button(key="rev_accept").click().run()
    no_exceptions(at)
    assert "Accepted as partial payment of 50.00 EUR." in texts(at)
    with read_session() as session:
        stored = session.get(Invoice, invoice.id)
        item = session.get(ReviewItem, item_id)
        audit = session.exec(select(AuditLog).where(AuditLog.action == "review.accept_partial"))
        entry = audit.one()
    assert (stored.status, stored.paid_minor, stored.open_minor) == (
        InvoiceStatus.PARTIALLY_PAID,
        5000,
        7100,
    )
    assert (item.status, item.resolved_by) == ("resolved", "finance")
    assert entry.details["amount_minor"] == 5000
    assert "No open exceptions" in texts(at)


def test_exception_marked_resolved_needs_a_comment(db):
    invoice = make_invoice(channel=make_channel())
    attempt = make_attempt(invoice, state="failed", booked=False)
    item_id = _review(invoice, attempt, kind="stuck_pending")
    at = open_page(app_as("finance"), "exceptions")
    assert not any(b.key == "rev_accept" for b in at.button)  # nothing settled to book
    at.button(key="rev_resolve").click().run()
    assert "Write what was done, so others can follow it." in [e.value for e in at.error]
    at.text_area(key="rev_comment").input("Payer confirmed they gave up")
    at.button(key="rev_resolve").click().run()
    with read_session() as session:
        item = session.get(ReviewItem, item_id)
    assert (item.status, item.resolution) == ("resolved", "Payer confirmed they gave up")
    assert not any(
        b.key == "rev_resolve" for b in open_page(app_as("manager"), "exceptions").button
    )


def test_customers_create_validate_and_edit(db):
    at = open_page(app_as("finance"), "customers")
    assert "No customers yet — create one." in texts(at)
    at.button(key="customer_new").click().run()
    at.text_input(key="cust_new_name").input("Anna SIA")
    at.text_input(key="cust_new_email").input("anna@example.lv")
    at.text_input(key="cust_new_cc").input("boss@example.lv, not-an-address")
    at.button(key="cust_new_save").click().run()
    assert any("not-an-address" in e.value for e in at.error)
    at.text_input(key="cust_new_cc").input("boss@example.lv; books@example.lv")
    at.button(key="cust_new_save").click().run()
    no_exceptions(at)
    assert "Customer Anna SIA saved." in texts(at)
    with read_session() as session:
        customer = session.exec(select(Customer)).one()
    assert customer.cc_emails == "boss@example.lv, books@example.lv"

    at.selectbox(key="customer_pick").set_value(customer.id).run()
    key = f"cust_{customer.id}"
    at.radio(key=f"{key}_language").set_value("en")
    at.text_input(key=f"{key}_vat").input("LV40003000017")
    at.button(key=f"{key}_save").click().run()
    with read_session() as session:
        customer = session.get(Customer, customer.id)
    assert (customer.language, customer.vat_number) == ("en", "LV40003000017")
    at.text_input(key="customer_search").input("zzz").run()
    assert "No customers found." in texts(at)


def test_company_settings_with_logo(db):
    at = open_page(app_as("admin"), "company")
    assert "Fill in the company details" in texts(at)
    at.text_input(key="co_name").input("LinkPay Demo SIA")
    at.file_uploader(key="co_logo_0").upload("logo.png", b"GIF89a not a png", "image/png")
    at.button(key="co_save").click().run()
    assert "The logo must be a PNG or JPEG image." in [e.value for e in at.error]
    at.file_uploader(key="co_logo_0").upload("logo.png", _png(), "image/png")
    at.selectbox(key="co_tz").set_value("Europe/Tallinn")
    at.button(key="co_save").click().run()
    no_exceptions(at)
    assert "Company details saved." in texts(at)
    with read_session() as session:
        company = session.exec(select(Company)).one()
    assert (company.name, company.logo_mime, company.timezone) == (
        "LinkPay Demo SIA",
        "image/png",
        "Europe/Tallinn",
    )
    assert [image.captions for image in at.get("image")] == [["Current logo"]]


def test_admin_creates_and_deactivates_a_user(db):
    at = open_page(app_as("admin"), "users")
    at.text_input(key="new_username").input("Ilze")
    at.radio(key="new_role").set_value("manager")
    at.text_input(key="new_password").input("short")
    at.button(key="new_user_submit").click().run()
    assert "Password must have at least 8 characters." in [e.value for e in at.error]
    at.text_input(key="new_password").input("long-enough-1")
    at.button(key="new_user_submit").click().run()
    no_exceptions(at)
    assert "User ilze created." in texts(at)
    assert "long-enough-1" not in repr(at.session_state.to_dict())
    with read_session() as session:
        ilze = session.exec(select(User).where(User.username == "ilze")).one()
    at.selectbox(key="user_pick").set_value(ilze.id).run()
    at.button(key="user_toggle").click().run()
    assert "User ilze deactivated." in texts(at)
    with read_session() as session:
        assert session.get(User, ilze.id).active is False

    with read_session() as session:
        me = session.exec(select(User).where(User.username == "admin")).one()
    at.selectbox(key="user_pick").set_value(me.id).run()
    at.button(key="user_toggle").click().run()
    assert "You cannot deactivate yourself." in [e.value for e in at.error]


def test_audit_log_filters_and_offers_exports(db):
    make_invoice(channel=None)
    at = open_page(app_as("admin"), "audit_log")
    no_exceptions(at)
    everything = list(at.dataframe[0].value["Action"])
    assert {"Invoice issued", "Draft invoice created"} <= set(everything)
    at.selectbox(key="audit_action").set_value("invoice.issue").run()
    actions = list(at.dataframe[0].value["Action"])
    assert actions == ["Invoice issued"]
    labels = [label for label, _ in download_links(at)]
    assert labels == ["Download CSV", "Download XLSX"]
