"""The shared write functions check the actor's role themselves, behind the pages."""

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel

from shared import (
    channels,
    company,
    customers,
    invoicing,
    number_series,
    review,
    sending,
    user_admin,
    users,
)
from shared.audit import SYSTEM_ACTOR
from shared.callbacks.processing import reprocess_event
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import LineInput
from shared.models import CallbackEvent, MessageChannel, MessageLog, MessageStatus, ReviewItem
from shared.reminders import set_reminders
from shared.users import PermissionDenied, create_user, require_permission
from tests.dashboard.conftest import make_attempt
from tests.utils.factories import make_channel, make_customer, make_invoice


def _user(username: str, role: str, *, active: bool = True) -> None:
    with write_session() as session:
        user = create_user(
            session, actor=SYSTEM_ACTOR, username=username, password="password-123", role=role
        )
        user.active = active


def _dump() -> dict[str, list[tuple[Any, ...]]]:
    with read_session() as session:
        return {
            table.name: [tuple(row) for row in session.connection().execute(select(table))]
            for table in SQLModel.metadata.sorted_tables
        }


def _in_session(function: Callable[..., Any]) -> Callable[..., Any]:
    def call(**kwargs: Any) -> Any:
        with write_session() as session:
            return function(session, **kwargs)

    return call


def _write_paths() -> dict[str, tuple[Callable[..., Any], dict[str, Any]]]:
    """Every shared write function the dashboard calls, with arguments it would accept."""
    channel = make_channel()
    customer = make_customer()
    draft = make_invoice(channel=channel, issue=False)
    issued = make_invoice(channel=channel)
    unbooked = make_attempt(issued, amount_minor=5000, booked=False)
    with write_session() as session:
        account = channels.create_bank_account(
            session, actor=SYSTEM_ACTOR, name="Merchant 2", account_type="merchant"
        )
        log = MessageLog(
            invoice_id=issued.id,
            channel=MessageChannel.EMAIL,
            recipients="anna@example.lv",
            status=MessageStatus.FAILED,
        )
        item = ReviewItem(
            kind="amount_mismatch",
            dedupe_key="amount_mismatch:x",
            reason="Paid 50.00 of 121.00",
            invoice_id=issued.id,
            payment_attempt_id=unbooked.id,
            channel_id=channel.id,
            amount_minor=5000,
            currency="EUR",
        )
        event = CallbackEvent(
            channel_id=channel.id,
            payment_reference=unbooked.payment_reference,
            order_reference=issued.number or "",
            event_name="status_updated",
            status="done",
        )
        session.add_all([log, item, event])
        session.flush()
        ids = {"log": log.id, "item": item.id, "event": event.id, "account": account.id}
    lines = [LineInput("Consulting", "1", "100.00", "21")]
    header = invoicing.DraftInput(customer_id=customer.id, lines=lines, channel_id=channel.id)
    return {
        "create_draft": (_in_session(invoicing.create_draft), {"data": header}),
        "update_draft": (
            _in_session(invoicing.update_draft),
            {"invoice_id": draft.id, "data": header},
        ),
        "delete_draft": (_in_session(invoicing.delete_draft), {"invoice_id": draft.id}),
        "issue_invoice": (_in_session(invoicing.issue_invoice), {"invoice_id": draft.id}),
        "cancel_invoice": (
            _in_session(invoicing.cancel_invoice),
            {"invoice_id": issued.id, "reason": "Wrong customer"},
        ),
        "send_invoice_email": (sending.send_invoice_email, {"invoice_id": issued.id}),
        "deliver_logged_email": (sending.deliver_logged_email, {"log_id": ids["log"]}),
        "resend_message": (sending.resend_message, {"log_id": ids["log"]}),
        "record_link_shared": (sending.record_link_shared, {"invoice_id": issued.id}),
        "record_pdf_download": (sending.record_pdf_download, {"invoice_id": issued.id}),
        "send_invoices_by_email": (sending.send_invoices_by_email, {"invoice_ids": [issued.id]}),
        "set_reminders": (set_reminders, {"invoice_id": issued.id, "enabled": True}),
        "mark_resolved": (
            _in_session(review.mark_resolved),
            {"review_id": ids["item"], "comment": "done"},
        ),
        "accept_partial_payment": (
            _in_session(review.accept_partial_payment),
            {"review_id": ids["item"]},
        ),
        "reconcile_review_item": (review.reconcile_review_item, {"review_id": ids["item"]}),
        "reprocess_event": (reprocess_event, {"event_id": ids["event"]}),
        "create_bank_account": (
            _in_session(channels.create_bank_account),
            {"name": "Other", "account_type": "merchant"},
        ),
        "save_linkpay_channel": (
            _in_session(channels.save_linkpay_channel),
            {
                "bank_account_id": ids["account"],
                "data": channels.ChannelInput(
                    link_token="token123", api_username="apiuser", api_secret="secret-123456"
                ),
            },
        ),
        "rotate_callback_token": (
            _in_session(channels.rotate_callback_token),
            {"channel_id": channel.id},
        ),
        "set_channel_active": (
            _in_session(channels.set_channel_active),
            {"channel_id": channel.id, "active": False},
        ),
        "record_connection_test": (
            _in_session(channels.record_connection_test),
            {"channel_id": channel.id, "ok": True, "message": "fine"},
        ),
        "check_connection": (channels.check_connection, {"channel_id": channel.id}),
        "create_customer": (
            _in_session(customers.create_customer),
            {"data": customers.CustomerInput(name="Acme")},
        ),
        "update_customer": (
            _in_session(customers.update_customer),
            {"customer_id": customer.id, "data": customers.CustomerInput(name="Acme")},
        ),
        "save_company": (
            _in_session(company.save_company),
            {"data": company.CompanyInput(name="Acme")},
        ),
        "add_series": (
            _in_session(number_series.add_series),
            {"data": number_series.SeriesInput(document_type="invoice", prefix="SHOP")},
        ),
        "change_series": (
            _in_session(number_series.change_series),
            {
                "series_id": 1,
                "data": number_series.SeriesInput(document_type="invoice", prefix="A"),
            },
        ),
        "set_default_series": (_in_session(number_series.set_default), {"series_id": 1}),
        "set_series_active": (
            _in_session(number_series.set_active),
            {"series_id": 1, "active": False},
        ),
        "create_user": (
            _in_session(users.create_user),
            {"username": "newbie", "password": "password-123", "role": "admin"},
        ),
        "set_password": (
            _in_session(users.set_password),
            {"username": "manager", "password": "password-456"},
        ),
        "set_user_active": (
            _in_session(user_admin.set_user_active),
            {"user_id": 1, "active": False},
        ),
    }


def test_every_shared_write_refuses_a_manager_and_changes_nothing(any_db):
    _user("manager", "manager")
    paths = _write_paths()
    before = _dump()

    let_through = []
    for name, (function, kwargs) in paths.items():
        try:
            function(actor="manager", **kwargs)
        except PermissionDenied as refusal:
            assert str(refusal) == "Your role does not allow this action."
        else:
            let_through.append(name)

    assert let_through == []
    assert _dump() == before


# (actor, permission, allowed)
RULES = [
    ("finance-user", "edit", True),
    ("finance-user", "review", True),
    ("finance-user", "users", False),
    ("admin-user", "users", True),
    ("manager", "edit", False),
    ("manager", "view", True),
    ("inactive-admin", "edit", False),
    ("nobody", "view", False),  # neither a user nor a system actor
    (SYSTEM_ACTOR, "users", True),  # the callback worker, reconciler, reminders
    ("cli", "users", True),
    ("demo", "setup", True),
]


def test_who_may_do_what(any_db):
    _user("finance-user", "finance")
    _user("admin-user", "admin")
    _user("manager", "manager")
    _user("inactive-admin", "admin", active=False)
    wrong = []
    with write_session() as session:
        for actor, permission, allowed in RULES:
            try:
                require_permission(session, actor=actor, permission=permission)
            except PermissionDenied:
                refused = True
            else:
                refused = False
            if refused == allowed:
                wrong.append((actor, permission))
    assert wrong == []


@pytest.mark.parametrize("name", [SYSTEM_ACTOR, "cli", "demo"])
def test_no_account_can_take_a_system_actors_name(db, name):
    with pytest.raises(ValidationError, match="reserved"):
        _user(name, "manager")
