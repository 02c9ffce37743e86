"""The sending panel and the Outbox page, driven through Streamlit's AppTest."""

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from dashboard import data, ui
from shared.config import get_settings
from shared.db import read_session, write_session
from shared.mail import outbox_dir
from shared.models import Invoice, MessageChannel, MessageLog, MessageStatus
from shared.operations.demo_smtp import start_server
from shared.public_urls import public_token
from shared.sending import send_invoice_email
from shared.users import create_user
from tests.sending.conftest import english_customer, free_port, issued_invoice, point_smtp_at

OUTBOX_PAGE = Path(__file__).resolve().parents[2] / "dashboard" / "app_pages" / "outbox.py"


@pytest.fixture(autouse=True)
def fresh_streamlit() -> Iterator[None]:
    # AppTest installs the page script as __main__; a later test that spawns processes
    # would re-run that script in every child, so the real one is put back.
    main = sys.modules["__main__"]
    data.clear_caches()
    yield
    data.clear_caches()
    sys.modules["__main__"] = main


def _signed_in(at: AppTest, role: str) -> AppTest:
    with write_session() as session:
        user = create_user(session, actor="t", username=role, password="long-enough-1", role=role)
    at.session_state["auth"] = ui.new_session(user.id)
    return at.run()


def _panel(invoice_id: int, role: str) -> None:
    from dashboard.app_pages.sending import render_sending_actions

    render_sending_actions(invoice_id, username=role, role=role)


def _panel_as(role: str, invoice_id: int) -> AppTest:
    at = AppTest.from_function(
        _panel, kwargs={"invoice_id": invoice_id, "role": role}, default_timeout=30
    )
    return _signed_in(at, role)


def _button(at: AppTest, label: str):
    return next(button for button in at.button if button.label == label)


def _shown(at: AppTest) -> str:
    kinds = ("markdown", "caption", "success", "error", "warning", "info", "code")
    return "\n".join(str(element.value) for kind in kinds for element in getattr(at, kind))


def test_finance_sends_the_email_with_prefilled_recipients(smtp_server):
    invoice = issued_invoice(customer=english_customer())

    at = _panel_as("finance", invoice.id)
    assert not at.exception
    assert at.text_input(key=f"send_email_{invoice.id}_to").value == "ap@northwind.example"
    at.text_input(key=f"send_email_{invoice.id}_cc").input("boss@northwind.example")
    _button(at, "Send e-mail").click().run()

    assert not at.exception
    assert "E-mail sent to ap@northwind.example; cc: boss@northwind.example" in _shown(at)
    assert smtp_server.messages[0]["Cc"] == "boss@northwind.example"
    log_table = at.dataframe[0].value
    assert list(log_table["Status"]) == ["Sent"]


def test_failed_email_shows_the_reason_and_re_sends_from_the_log(smtp_server, monkeypatch):
    invoice = issued_invoice()
    live_port = get_settings().smtp_port
    point_smtp_at(monkeypatch, free_port())
    at = _panel_as("finance", invoice.id)
    _button(at, "Send e-mail").click().run()
    assert "Could not connect to the mail server" in _shown(at)

    point_smtp_at(monkeypatch, live_port)
    _button(at, "Re-send").click().run()

    assert not at.exception
    assert "E-mail re-sent" in _shown(at)
    assert len(smtp_server.messages) == 1
    assert not [b for b in at.button if b.label == "Re-send"]


def test_online_link_is_shown_and_logged(db):
    invoice = issued_invoice()

    at = _panel_as("finance", invoice.id)
    _button(at, "Online link").click().run()

    assert not at.exception
    assert f"/i/{public_token(invoice)}" in at.code[0].value
    with read_session() as session:
        [row] = session.exec(select(MessageLog)).all()
        assert session.get(Invoice, invoice.id).status == "sent"
    assert (row.channel, row.status) == (MessageChannel.LINK, MessageStatus.SENT)


def test_reminder_toggle_saves(db):
    invoice = issued_invoice()

    at = _panel_as("finance", invoice.id)
    at.toggle(key=f"reminders_{invoice.id}").set_value(True).run()

    assert not at.exception
    with read_session() as session:
        assert session.get(Invoice, invoice.id).reminders_enabled is True


def test_manager_sees_the_log_but_cannot_send(db):
    invoice = issued_invoice()

    at = _panel_as("manager", invoice.id)

    assert not at.exception
    assert "can see how the invoice was sent, but not send it" in _shown(at)
    assert not [b for b in at.button if b.label in ("Send e-mail", "Online link")]
    assert at.toggle(key=f"reminders_{invoice.id}").disabled


def test_outbox_page_lists_mail_and_shows_the_selected_one(db, company, monkeypatch):
    port = free_port()
    controller = start_server(host="127.0.0.1", port=port, directory=outbox_dir())
    try:
        point_smtp_at(monkeypatch, port)
        invoice = issued_invoice(customer=english_customer())
        send_invoice_email(invoice_id=invoice.id, actor="finance")
    finally:
        controller.stop()

    at = _signed_in(AppTest.from_file(str(OUTBOX_PAGE), default_timeout=30), "finance")

    assert not at.exception
    subject = f"Invoice {invoice.number} from Baltic Widgets SIA"
    assert at.subheader[0].value == subject
    assert "ap@northwind.example" in _shown(at)
    assert list(at.dataframe[0].value["Subject"]) == [subject]
