"""A manager downloads an invoice's PDF: read only (nothing logged as sent, the status
stays), audited, and refused to anyone whose role does not export."""

import sys
from collections.abc import Iterator

import pytest
import streamlit as st
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from dashboard import ui
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.models import AuditLog, Invoice, MessageLog
from shared.sending import invoice_pdf_copy
from shared.users import PermissionDenied, create_user
from tests.sending.conftest import issued_invoice
from tests.utils.factories import make_channel, make_invoice


@pytest.fixture(autouse=True)
def fresh_streamlit() -> Iterator[None]:
    main = sys.modules["__main__"]
    st.cache_data.clear()
    yield
    st.cache_data.clear()
    sys.modules["__main__"] = main


def _user(role: str) -> int:
    with write_session() as session:
        return create_user(
            session, actor="t", username=role, password="long-enough-1", role=role
        ).id


def test_manager_gets_the_pdf_without_sending_it(db, company):
    invoice = issued_invoice()
    _user("manager")

    pdf = invoice_pdf_copy(invoice_id=invoice.id, actor="manager")

    assert pdf.startswith(b"%PDF")
    with read_session() as session:
        assert session.get(Invoice, invoice.id).status == "issued"
        assert session.exec(select(MessageLog)).all() == []
        audit = session.exec(select(AuditLog).where(AuditLog.action == "invoice.pdf_copy")).one()
    assert (audit.actor, audit.entity_id) == ("manager", str(invoice.id))


def test_pdf_copy_is_refused_without_the_export_permission_and_for_drafts(db, company):
    invoice = issued_invoice()
    with pytest.raises(PermissionDenied):
        invoice_pdf_copy(invoice_id=invoice.id, actor="somebody")
    _user("manager")
    draft = make_invoice(channel=make_channel(), issue=False)
    with pytest.raises(ValidationError, match="draft"):
        invoice_pdf_copy(invoice_id=draft.id, actor="manager")
    with read_session() as session:
        assert not session.exec(select(AuditLog).where(AuditLog.action == "invoice.pdf_copy")).all()


def _panel(invoice_id: int, role: str) -> None:
    from dashboard.app_pages.sending import render_sending_actions

    render_sending_actions(invoice_id, username=role, role=role)


def test_manager_sees_a_button_for_a_copy_of_the_pdf(db, company):
    invoice = issued_invoice()
    at = AppTest.from_function(
        _panel, kwargs={"invoice_id": invoice.id, "role": "manager"}, default_timeout=30
    )
    at.session_state["auth"] = ui.new_session(_user("manager"))
    at.run()
    assert not at.exception
    assert [(b.label, b.key) for b in at.download_button] == [
        ("Download a copy (PDF)", f"copy_pdf_{invoice.id}")
    ]
