"""A manager changes nothing, whatever they click, and the shared layer refuses them even
where a page would let them through.

Both tests drive every page through AppTest as a manager over a database with something
of everything (drafts, open, paid and partly paid invoices, a failed e-mail, a channel, a
callback, an open exception, users), fill every form with values that would be accepted,
tick the confirmations, click every button and toggle the page shows, including the ones
that appear after a click (confirmations, forms), and compare a dump of every table
before and after.

The second test switches the pages' own checks off (``ui.require``, ``ui.guard`` and the
signed-in user say "admin" while the actor stays the manager), so every control is shown
and every handler runs: only the shared write functions stand between the click and the
database, and a page whose write path skips them fails the test.
"""

import logging
from collections.abc import Callable

import pytest
from sqlalchemy import select
from sqlmodel import SQLModel
from streamlit.testing.v1 import AppTest

from dashboard import ui
from shared.audit import SYSTEM_ACTOR
from shared.channels import create_bank_account
from shared.company import CompanyInput, save_company
from shared.db import read_session, write_session
from shared.models import (
    AccountType,
    CallbackEvent,
    MessageChannel,
    MessageLog,
    MessageStatus,
    ReviewItem,
    Role,
)
from shared.users import create_user
from tests.dashboard.conftest import APP, LAZY_SECTIONS, TIMEOUT, make_attempt
from tests.utils.factories import make_channel, make_invoice

pytestmark = pytest.mark.slow

PAGES = (
    "overview",
    "bank_accounts",
    "customers",
    "invoices",
    "outbox",
    "payments",
    "callbacks",
    "exceptions",
    "reports",
    "company",
    "numbering",
    "users",
    "audit_log",
)
# What a person would type: every form passes its own validation with these.
INPUTS = {
    "Name": "Acme SIA",
    "Bank": "Swedbank",
    "IBAN": "LV80BANK0000435195001",
    "E-mail": "buyer@example.lv",
    "To": "buyer@example.lv",
    "Address": "Rīga, Brīvības 2",
    "Registration number": "40003000040",
    "VAT number": "LV40003000040",
    "Link Token": "newtoken123",
    "API username": "newapiuser",
    "API secret": "new-secret-123456",
    "Reason": "Issued to the wrong customer",
    "Comment": "Checked with the bank",
    "Username": "intruder",
    "Full name": "Ivo Intruder",
    "Password": "long-password-1",
    "Description": "Consulting",
    "Quantity": "2",
    "Unit price": "10.00",
    "VAT %": "21",
}
TICK = ("I understand that a cancelled invoice cannot be paid or reopened.",)
NOT_CLICKED = {"logout"}  # ends the session, which is not a change to the books
REFUSED = "Your role does not allow this action."
MAX_CLICKS = 30
# Ids of the seeded rows (a fresh database counts from 1): a customer to edit, and the
# invoices to e-mail in bulk.
PICKS = {"customer_pick": 1, "inv_bulk": [2, 3, 4, 5]}


def _seed() -> tuple[int, list[int]]:
    """Something of everything; returns the manager's user id and the invoice ids."""
    channel = make_channel()
    draft = make_invoice(channel=channel, issue=False)
    issued = make_invoice(channel=channel)
    failed_mail = make_invoice(channel=channel)
    paid = make_invoice(channel=channel)
    partly = make_invoice(channel=channel)
    make_attempt(paid)
    unbooked = make_attempt(partly, amount_minor=5000, booked=False)
    with write_session() as session:
        save_company(session, actor=SYSTEM_ACTOR, data=CompanyInput(name="Baltic Widgets SIA"))
        create_bank_account(
            session,
            actor=SYSTEM_ACTOR,
            name="Swedbank current account",
            account_type=AccountType.REGULAR,
            iban="LV80BANK0000435195001",
        )
        manager = create_user(
            session, actor=SYSTEM_ACTOR, username="manager", password="manager-pw-1", role="manager"
        )
        create_user(
            session, actor=SYSTEM_ACTOR, username="finance", password="finance-pw-1", role="finance"
        )
        session.add(
            MessageLog(
                invoice_id=failed_mail.id,
                channel=MessageChannel.EMAIL,
                recipients="anna@example.lv",
                status=MessageStatus.FAILED,
                attempts=1,
                error="Connection refused",
                sent_by="finance",
            )
        )
        session.add(
            ReviewItem(
                kind="amount_mismatch",
                dedupe_key=f"amount_mismatch:{unbooked.payment_reference}",
                reason="EveryPay settled 50.00 EUR; the invoice asked for 121.00 EUR.",
                invoice_id=partly.id,
                payment_attempt_id=unbooked.id,
                channel_id=channel.id,
                amount_minor=5000,
                currency="EUR",
            )
        )
        session.add(
            CallbackEvent(
                channel_id=channel.id,
                payment_reference=unbooked.payment_reference,
                order_reference=partly.number or "",
                event_name="status_updated",
                status="done",
                outcome="payment settled",
            )
        )
        manager_id = manager.id
    return manager_id, [draft.id, issued.id, failed_mail.id, paid.id, partly.id]


def _dump() -> dict[str, list[tuple[str, ...]]]:
    """Every row of every table, as text; refusals in the audit log left out."""
    tables: dict[str, list[tuple[str, ...]]] = {}
    with read_session() as session:
        for table in SQLModel.metadata.sorted_tables:
            if table.name == "login_session":  # signing in is no change to the books
                continue
            query = select(table).order_by(*table.primary_key.columns)
            if table.name == "audit_log":
                query = query.where(table.c.outcome != "refused")
            rows = session.connection().execute(query).all()
            tables[table.name] = [tuple(str(value) for value in row) for row in rows]
    return tables


def _name(widget) -> str:
    return f"{widget.type}:{widget.key or widget.label}"


def _fill(at: AppTest) -> None:
    """Types the accepted values, just before a click: a form sends what was typed only
    together with its submit button."""
    for widget in (*at.text_input, *at.text_area):
        wanted = INPUTS.get(widget.label)
        if wanted is not None and not widget.disabled and widget.value != wanted:
            widget.set_value(wanted)


def _choose(at: AppTest, done: set[str]) -> bool:
    """Once the buttons are used up: ticks a confirmation, flips each toggle once or picks
    an entry where a page waits for a choice (each may show further buttons); True if it
    did one of these."""
    for widget in at.checkbox:
        if widget.label in TICK and not widget.disabled and not widget.value:
            widget.check()
            return True
    for widget in at.toggle:
        if _name(widget) not in done and not widget.disabled:
            done.add(_name(widget))
            widget.set_value(not widget.value)
            return True
    for widget in (*at.selectbox, *at.multiselect):
        # Choices shown by name stand for ids, which AppTest cannot pick by index.
        if _name(widget) not in done and widget.key in PICKS and not widget.disabled:
            done.add(_name(widget))
            at.session_state[widget.key] = PICKS[widget.key]
            return True
    return False


def _drive(new_app: Callable[[], AppTest], page: str, invoice_id: int | None = None) -> list:
    """Clicks every button the page shows, one after another, until none is left that
    was not clicked; returns the exceptions the page showed."""
    at = new_app()
    if invoice_id is not None:
        at.session_state["invoice_id"] = invoice_id
    at = at.switch_page(f"app_pages/{page}.py").run()
    done: set[str] = set()
    shown: list = [*at.exception]
    for _ in range(MAX_CLICKS):
        _fill(at)
        target = next(
            (
                button
                for button in (*at.button, *at.download_button)
                if _name(button) not in done
                and button.key not in NOT_CLICKED
                and not button.disabled
            ),
            None,
        )
        if target is not None:
            done.add(_name(target))
            target.click()
        elif not _choose(at, done):
            return shown
        at.run()
        if at.exception:
            # A refusal a handler did not catch cut the page short: reload it, as a
            # person would, to see the controls below.
            shown += at.exception
            at.run()
    pytest.fail(f"{page}: still new buttons after {MAX_CLICKS} clicks")


def _drive_everything(new_app: Callable[[], AppTest], invoice_ids: list[int]) -> list:
    shown = []
    for page in PAGES:
        shown += _drive(new_app, page)
    for invoice_id in invoice_ids:
        shown += _drive(new_app, "invoice_detail", invoice_id)
    return shown


def _signed_in(user_id: int) -> Callable[[], AppTest]:
    def new_app() -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        at.session_state["auth"] = ui.new_session(user_id)
        # Every section open, so the buttons inside are clicked too.
        for key in LAZY_SECTIONS:
            at.session_state[key] = True
        return at

    return new_app


def test_a_manager_clicking_everything_changes_nothing(db):
    manager_id, invoice_ids = _seed()
    before = _dump()

    shown = _drive_everything(_signed_in(manager_id), invoice_ids)

    assert [exception.message for exception in shown] == []
    assert _dump() == before


def test_with_the_pages_checks_off_the_shared_layer_still_refuses_a_manager(
    db, monkeypatch, caplog
):
    manager_id, invoice_ids = _seed()
    # The pages believe the manager is an admin; the actor they pass on stays "manager".
    everything = ui.SessionUser(user_id=manager_id, username="manager", role=Role.ADMIN)
    monkeypatch.setattr(ui, "session_user", lambda *args, **kwargs: everything)
    monkeypatch.setattr(ui, "require", lambda *args, **kwargs: everything)
    monkeypatch.setattr(ui, "guard", lambda *args, **kwargs: everything)
    before = _dump()

    with caplog.at_level(logging.WARNING, logger="shared.users"):
        shown = _drive_everything(_signed_in(manager_id), invoice_ids)

    assert _dump() == before
    # Handlers that do not catch the refusal show it as an error box; nothing else.
    assert {exception.message for exception in shown} <= {REFUSED}
    refused = {record.args[0] for record in caplog.records if record.name == "shared.users"}
    assert refused == {"edit", "setup", "review", "users"}
