"""Who sees what: the login gate, roles, idle sessions and refused actions."""

import time

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from dashboard import ui
from shared.db import read_session, write_session
from shared.models import AuditLog, Invoice, InvoiceStatus, User
from tests.dashboard.conftest import (
    APP,
    PASSWORD,
    TIMEOUT,
    app_as,
    make_user,
    no_exceptions,
    open_page,
    texts,
)
from tests.utils.factories import make_invoice

ALL_PAGES = (
    "overview",
    "bank_accounts",
    "customers",
    "invoices",
    "invoice_detail",
    "payments",
    "callbacks",
    "exceptions",
    "reports",
    "company",
    "numbering",
)


def _login(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    return at.button(key="login_submit").click().run()


def _audit(action: str) -> list[AuditLog]:
    with read_session() as session:
        return list(session.exec(select(AuditLog).where(AuditLog.action == action)).all())


def test_anonymous_visitor_sees_only_the_login_form(db):
    at = app_as(None)
    no_exceptions(at)
    assert [b.label for b in at.button] == ["Log in"]
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert "Overview" not in texts(at)
    with pytest.raises(ValueError):
        open_page(at, "invoices")


@pytest.mark.parametrize("role", ["admin", "finance", "manager"])
def test_each_role_logs_in_and_lands_on_the_overview(db, role):
    make_user(role)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at = _login(at, role, PASSWORD)
    no_exceptions(at)
    page = texts(at)
    assert "Overview" in page
    assert f"Signed in as **{role}** ({role})" in page
    assert "No invoices yet — create one" in page


def test_wrong_password_is_refused_audited_and_locks_out(db, monkeypatch):
    monkeypatch.setenv("LINKPAY_LOGIN_MAX_FAILURES", "2")
    from shared.config import get_settings

    get_settings.cache_clear()
    make_user("finance")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    at = _login(at, "finance", "wrong-password")
    assert "Wrong username or password." in texts(at)
    at = _login(at, "finance", "wrong-password")
    at = _login(at, "finance", PASSWORD)
    assert "Too many failed attempts" in texts(at)
    assert "Overview" not in texts(at)
    outcomes = [entry.outcome for entry in _audit("login")]
    assert outcomes == ["failed", "failed", "locked"]


def test_idle_session_ends_and_logout_button_signs_out(db, monkeypatch):
    at = app_as("finance")
    monkeypatch.setattr(ui, "clock", lambda: time.time() + 31 * 60)
    at.run()
    assert "Your session ended after 30 minutes of inactivity." in texts(at)
    assert [b.label for b in at.button] == ["Log in"]

    at = app_as("admin")
    at.button(key="logout").click().run()
    assert [b.label for b in at.button] == ["Log in"]
    assert _audit("logout")


def test_deactivated_user_is_signed_out_at_the_next_click(db):
    at = app_as("finance")
    with write_session() as session:
        user = session.exec(select(User).where(User.username == "finance")).one()
        user.active = False
        session.add(user)
    at.run()
    assert "Your account is no longer active." in texts(at)


@pytest.mark.parametrize("page", ALL_PAGES)
def test_manager_opens_every_page_without_edit_controls(db, page):
    at = app_as("manager")
    at = open_page(at, page)
    no_exceptions(at)
    edit_keys = {
        "create_account",
        "invoice_new",
        "customer_new",
        "cb_reprocess",
        "rev_resolve",
        "rev_accept",
        "detail_issue",
        "detail_cancel",
    }
    assert not edit_keys & {b.key for b in at.button}
    if page == "company":
        assert "co_save" not in {b.key for b in at.button}
        assert not at.text_input
        assert "Only finance and admin users change the company details." in at.caption[0].value
    if page == "numbering":
        assert not {"ns_add", "ns_default", "ns_toggle", "ns_change"} & {b.key for b in at.button}
        assert "Only finance and admin users change the numbering." in texts(at)


def test_admin_pages_are_not_reachable_for_finance_or_manager(db):
    for role in ("finance", "manager"):
        at = app_as(role)
        for page in ("users", "audit_log"):
            with pytest.raises(ValueError):
                open_page(at, page)
    at = app_as("admin")
    for page in ("users", "audit_log"):
        no_exceptions(open_page(at, page))


def test_action_of_a_user_demoted_meanwhile_is_refused(db):
    """The button was drawn for finance; by the click the user is a manager."""
    draft = make_invoice(channel=None, issue=False)
    at = app_as("finance")
    at.query_params["invoice"] = str(draft.id)
    at = open_page(at, "invoice_detail")
    issue = at.button(key="detail_issue")
    with write_session() as session:
        user = session.exec(select(User).where(User.username == "finance")).one()
        user.role = "manager"
        session.add(user)
    issue.click().run()
    no_exceptions(at)
    with read_session() as session:
        assert session.get(Invoice, draft.id).status == InvoiceStatus.DRAFT
    assert not any(b.key == "detail_issue" for b in at.button)


def _forged_issue(invoice_id: int) -> None:
    """A page handler reached without its button: it must re-check the role itself."""
    from dashboard import ui
    from shared.db import write_session
    from shared.invoicing import issue_invoice

    user = ui.session_user()
    if ui.guard("edit", action="invoice.issue"):
        with write_session() as session:
            issue_invoice(session, actor=user.username, invoice_id=invoice_id)


def test_forged_action_is_refused_on_the_server_and_audited(db):
    draft = make_invoice(channel=None, issue=False)
    at = AppTest.from_function(_forged_issue, args=(draft.id,), default_timeout=TIMEOUT)
    at.session_state["auth"] = ui.new_session(make_user("manager"))
    at.run()
    assert [e.value for e in at.error] == ["Your role does not allow this action."]
    with read_session() as session:
        assert session.get(Invoice, draft.id).status == InvoiceStatus.DRAFT
    refused = [e for e in _audit("invoice.issue") if e.outcome == "refused"]
    assert refused and refused[0].actor == "manager"
