"""AppTest helpers: the router with a signed-in user of a given role."""

import html
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import data, ui
from shared.db import write_session
from shared.users import create_user

APP = Path(__file__).resolve().parents[2] / "dashboard" / "streamlit_app.py"
PASSWORD = "correct-horse-1"
TIMEOUT = 20


@pytest.fixture(autouse=True)
def fresh_streamlit_caches() -> Iterator[None]:
    data.clear_caches()
    st.cache_resource.clear()
    yield
    data.clear_caches()
    st.cache_resource.clear()


def make_user(role: str, username: str | None = None) -> int:
    with write_session() as session:
        user = create_user(
            session, actor="test", username=username or role, password=PASSWORD, role=role
        )
        return user.id


def app_as(role: str | None) -> AppTest:
    """The app with a user of ``role`` signed in (None: nobody), run once."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if role is not None:
        at.session_state["auth"] = ui.new_session(make_user(role))
    return at.run()


# Every section made only once opened (ui.lazy_expander), by key: tests that check all a page
# can show open them all.
LAZY_SECTIONS = (
    "pay_record",
    "pay_reverse",
    "rec_panel",
    "cb_reprocess_panel",
    "inv_email",
    "inv_open_panel",
)


def open_page(at: AppTest, name: str, *, opened: tuple[str, ...] = ()) -> AppTest:
    """Page ``name``, with the sections keyed ``opened`` (``ui.lazy_expander``) open, as
    after a click on each: their content is made only then."""
    for key in opened:
        at.session_state[key] = True
    return at.switch_page(f"app_pages/{name}.py").run()


def texts(at: AppTest) -> str:
    """Everything a person can read on the page, in one string."""
    parts: list[str] = []
    for kind in (
        "markdown",
        "caption",
        "title",
        "header",
        "subheader",
        "info",
        "success",
        "warning",
        "error",
        "code",
        "text",
        "metric",
    ):
        for element in getattr(at, kind):
            parts.append(str(getattr(element, "value", "")))
            parts.append(str(getattr(element, "label", "")))
    for widget in (*at.text_input, *at.text_area):
        parts.append(str(widget.value or ""))
    return "\n".join(parts)


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def make_attempt(
    invoice,
    *,
    state: str = "settled",
    amount_minor: int | None = None,
    booked: bool = True,
    at=None,
    reference: str | None = None,
    card: tuple[str, str] | None = ("visa", "4242"),
):
    """A payment attempt as the callback pipeline leaves it, booked on the invoice."""
    from datetime import UTC, datetime

    from shared.invoicing import lock_invoice
    from shared.ledger.linkpay import book_linkpay_payment
    from shared.models import PaymentAttempt

    amount = invoice.total_minor if amount_minor is None else amount_minor
    moment = at or datetime.now(UTC)
    with write_session() as session:
        attempt = PaymentAttempt(
            payment_reference=reference or uuid.uuid4().hex * 2,
            channel_id=invoice.channel_id,
            invoice_id=invoice.id,
            order_reference=invoice.number or "",
            state=state,
            is_final=state in ("settled", "failed"),
            initial_amount_minor=amount,
            standing_amount_minor=amount,
            currency=invoice.currency,
            payment_method="card",
            card_brand=card[0] if card else None,
            card_last4=card[1] if card else None,
            transaction_time=moment,
            created_at=moment,
            updated_at=moment,
        )
        session.add(attempt)
        session.flush()
        if booked and state == "settled":
            stored = lock_invoice(session, invoice_id=invoice.id)
            book_linkpay_payment(session, attempt=attempt, invoice=stored, amount=amount)
            stored.paid_at = moment if stored.status == "paid" else None
            session.add(stored)
            session.flush()
        return attempt


_DOWNLOAD_LINK = re.compile(r'<a href="([^"]+)" download[^>]*><span[^>]*>[^<]*</span> (.*?)</a>')


def download_links(at: AppTest) -> list[tuple[str, str]]:
    """(label, address) of every export link the page shows, in order."""
    found: list[tuple[str, str]] = []
    for element in at.get("html"):
        for address, label in _DOWNLOAD_LINK.findall(element.proto.body):
            found.append((html.unescape(label), html.unescape(address)))
    return found
