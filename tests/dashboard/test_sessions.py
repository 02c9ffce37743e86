"""Session lifetime: idle time counts only the user's own clicks, and no session outlives
its absolute lifetime, on a clock the test controls."""

import pytest

from dashboard import data, ui
from shared.config import get_settings
from shared.invoicing import LineInput
from tests.dashboard.conftest import app_as, make_attempt, no_exceptions, open_page, texts
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
