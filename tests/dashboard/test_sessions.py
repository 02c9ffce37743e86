"""Session lifetime: idle time counts only the user's own clicks, and no session outlives
its absolute lifetime, on a clock the test controls. The sign-in cookie: a new tab is
signed in with it, a forged one is not, logout and a password change end every tab. Deep
links open their record, also through the login form."""

import re

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import data, ui
from shared.config import get_settings
from shared.customers import CustomerInput, create_customer
from shared.db import write_session
from shared.invoicing import LineInput
from shared.login_sessions import redeem_ticket
from shared.models import utcnow
from shared.users import set_password
from tests.dashboard.conftest import (
    APP,
    PASSWORD,
    TIMEOUT,
    app_as,
    make_attempt,
    make_user,
    no_exceptions,
    open_page,
    texts,
)
from tests.utils.factories import make_channel, make_invoice

MINUTE = 60
HOUR = 60 * MINUTE


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(ui, "clock", clock)
    return clock


def _signed_out(at, reason: str) -> bool:
    return reason in texts(at) and [b.label for b in at.button] == ["Log in"]


def test_open_invoice_page_redrawn_by_payments_still_times_out(db, clock, monkeypatch):
    """The user opens an invoice and walks away; a payment arrives every 10 minutes and
    each one redraws the page. Those redraws are not the user: after 30 minutes idle the
    page signs out."""
    invoice = make_invoice(
        channel=make_channel(), lines=[LineInput("Consulting", "1", "100.00", "0")]
    )
    started = clock.now
    real_detail = data.invoice_detail
    payments_left = [6]

    def detail_then_a_payment_arrives(*args, **kwargs):
        # Between the page's read and its live check, as a customer paying would.
        shown = real_detail(*args, **kwargs)
        if payments_left[0]:
            payments_left[0] -= 1
            clock.advance(10 * MINUTE)
            make_attempt(invoice, amount_minor=100)
        return shown

    monkeypatch.setattr(data, "invoice_detail", detail_then_a_payment_arrives)
    at = app_as("finance")
    at.session_state["invoice_id"] = invoice.id
    open_page(at, "invoice_detail")  # the user's last click; the rest happens by itself
    no_exceptions(at)
    assert clock.now - started > 30 * MINUTE  # the page did redraw itself past the timeout
    assert _signed_out(at, "Your session ended after 30 minutes of inactivity.")


def test_user_active_all_day_is_signed_out_twelve_hours_after_logging_in(db, clock):
    at = app_as("finance")
    open_page(at, "customers")
    for _ in range(24):  # a click every 29 minutes, 11 h 36 min in all
        clock.advance(29 * MINUTE)
        at.run()
        assert "Signed in as" in texts(at)
    clock.advance(29 * MINUTE)
    at.run()
    no_exceptions(at)
    assert _signed_out(at, "Your session ended 12 h after you logged in.")


def test_session_lifetime_is_a_setting(db, clock, monkeypatch):
    monkeypatch.setenv("LINKPAY_SESSION_MAX_HOURS", "1")
    get_settings.cache_clear()
    at = app_as("finance")
    for _ in range(2):
        clock.advance(25 * MINUTE)
        at.run()
        assert "Signed in as" in texts(at)
    clock.advance(25 * MINUTE)
    at.run()
    assert _signed_out(at, "Your session ended 1 h after you logged in.")


# --- The cookie: new tabs, logout, password change, forged cookies ----------------------


def _ticket_in_page(at) -> str:
    """The one-time ticket the page posts to /session/start right after the login form."""
    scripts = [element.value for element in at.html if "/session/start" in element.value]
    assert len(scripts) == 1, "the page does not send the browser for its cookie"
    found = re.search(r'"ticket": "([^"]+)"', scripts[0])
    assert found is not None
    return found.group(1)


def _log_in(at, username: str):
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(PASSWORD)
    return at.button(key="login_submit").click().run()


def _browser_with(monkeypatch, cookie: str | None) -> None:
    """Every tab opened from now on sends ``cookie``, as a browser holding it would."""
    monkeypatch.setattr(ui, "browser_cookie", lambda: cookie)


def _new_tab():
    return AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()


def _cookie_after_login(monkeypatch, username: str = "finance", role: str = "finance"):
    make_user(role, username)
    at = _log_in(app_as(None), username)
    assert "Signed in as" in texts(at)
    with write_session() as session:
        cookie = redeem_ticket(session, ticket=_ticket_in_page(at), now=utcnow())
    assert cookie is not None
    _browser_with(monkeypatch, cookie)
    return at, cookie


def test_a_new_tab_or_a_reload_with_the_cookie_is_signed_in(db, monkeypatch):
    _cookie_after_login(monkeypatch)
    tab = _new_tab()
    no_exceptions(tab)
    assert "Signed in as **finance**" in texts(tab)
    # The ticket was spent on the cookie; the tab does not send the browser again.
    assert not [element for element in tab.html if "/session/start" in element.value]


def test_no_cookie_or_a_forged_one_gets_the_login_form(db, monkeypatch):
    _, cookie = _cookie_after_login(monkeypatch)
    session_id, token, _signature = cookie.split(".")
    for forged in (None, f"{session_id}.{token}", f"{session_id}.{token}.{'A' * 43}"):
        _browser_with(monkeypatch, forged)
        tab = _new_tab()
        no_exceptions(tab)
        assert [b.label for b in tab.button] == ["Log in"], forged


def test_logout_in_one_tab_ends_the_others(db, monkeypatch):
    first, _ = _cookie_after_login(monkeypatch)
    second = _new_tab()
    assert "Signed in as" in texts(second)
    first.button(key="logout").click().run()
    assert [b.label for b in first.button] == ["Log in"]
    # The browser is sent to drop its cookie.
    assert [element for element in first.html if "/session/end" in element.value]
    second.run()
    assert _signed_out(second, "Your session has ended. Please log in again.")
    assert [b.label for b in _new_tab().button] == ["Log in"]


def test_a_password_change_signs_the_user_out_everywhere(db, monkeypatch):
    tab, _ = _cookie_after_login(monkeypatch)
    make_user("admin", "boss")
    with write_session() as session:
        set_password(session, actor="boss", username="finance", password="changed-pass-1")
    tab.run()
    assert _signed_out(tab, "Your session has ended. Please log in again.")
    assert [b.label for b in _new_tab().button] == ["Log in"]


def test_a_tab_reopened_after_the_idle_timeout_is_signed_out(db, clock, monkeypatch):
    _cookie_after_login(monkeypatch)
    clock.advance(31 * MINUTE)
    tab = _new_tab()
    no_exceptions(tab)
    assert _signed_out(tab, "Your session ended after 30 minutes of inactivity.")


def test_clicks_in_one_tab_keep_another_tab_signed_in(db, clock, monkeypatch):
    idle, _ = _cookie_after_login(monkeypatch)
    busy = _new_tab()
    for _ in range(4):  # a click every 10 minutes in the busy tab
        clock.advance(10 * MINUTE)
        busy.run()
    idle.run()  # 40 minutes after its own last click
    assert "Signed in as" in texts(idle)


# --- Deep links --------------------------------------------------------------------------


def _issued_invoice():
    return make_invoice(
        channel=make_channel(), lines=[LineInput("Consulting", "1", "100.00", "0")], issue=True
    )


def test_invoice_link_opens_the_invoice_from_any_page(db):
    invoice = _issued_invoice()
    at = app_as("manager")
    at.query_params["invoice"] = invoice.number
    at.run()
    no_exceptions(at)
    assert f"Invoice {invoice.number}" in [title.value for title in at.title]


def test_unknown_invoice_number_is_said_on_the_page(db):
    at = app_as("finance")
    at.query_params["invoice"] = "INV-1999-0001"
    at.run()
    no_exceptions(at)
    assert "No invoice INV-1999-0001." in texts(at)


def test_invoice_link_opened_signed_out_keeps_its_query_through_the_login(db):
    invoice = _issued_invoice()
    make_user("finance")
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["invoice"] = invoice.number
    at.run()
    assert [b.label for b in at.button] == ["Log in"]
    at = _log_in(at, "finance")
    no_exceptions(at)
    assert f"Invoice {invoice.number}" in [title.value for title in at.title]


def test_customer_link_by_registration_number_opens_the_customer(db):
    with write_session() as session:
        create_customer(
            session,
            actor="test",
            data=CustomerInput(
                name="Jūrmalas Ēdnīca SIA", registration_number="40003009497", email="e@x.lv"
            ),
        )
    at = app_as("finance")
    at.query_params["customer"] = "40003009497"
    at.run()
    no_exceptions(at)
    assert "Edit Jūrmalas Ēdnīca SIA" in texts(at)
    assert at.selectbox(key="stmt_customer").value is not None

    missing = app_as("manager")
    missing.query_params["customer"] = "99999999999"
    missing.run()
    assert "No customer 99999999999." in texts(missing)


def test_invoice_list_filters_come_from_and_go_to_the_address(db):
    at = app_as("finance")
    at.query_params.update({"status": "paid,overdue", "number": "INV-2026", "sort": "due_date"})
    at = open_page(at, "invoices")
    no_exceptions(at)
    assert at.multiselect(key="inv_status").value == ["paid", "overdue"]
    assert at.text_input(key="inv_number").value == "INV-2026"
    assert at.selectbox(key="inv_sort").value == "due_date"
    at.text_input(key="inv_customer").input("Ēdnīca").run()
    assert at.query_params["name"] == "Ēdnīca"
    assert at.query_params["number"] == "INV-2026"


def test_a_filter_link_with_a_bad_value_shows_the_whole_list(db):
    at = app_as("finance")
    at.query_params.update({"status": "stolen", "from": "yesterday", "sort": "secret"})
    at = open_page(at, "invoices")
    no_exceptions(at)
    assert at.multiselect(key="inv_status").value == []
    assert at.date_input(key="inv_from").value is None
    assert at.selectbox(key="inv_sort").value == "newest"
