"""The Customers page's Statement section, driven through Streamlit's AppTest."""

from collections.abc import Iterator
from datetime import date

import pytest

from dashboard import data
from tests.dashboard.conftest import app_as, download_links, no_exceptions, open_page
from tests.ledger.conftest import make_company
from tests.ledger.test_statement import FROM, TO, _history


@pytest.fixture(autouse=True)
def fresh_streamlit_caches() -> Iterator[None]:
    data.clear_caches()
    yield
    data.clear_caches()


def _statement_page(role: str, customer_id: int):
    at = open_page(app_as(role), "customers")
    at.selectbox(key="stmt_customer").set_value(customer_id).run()
    at.date_input(key="stmt_from").set_value(FROM)
    at.date_input(key="stmt_to").set_value(TO).run()
    no_exceptions(at)
    return at


def _frame(at, column: str):
    """The table showing ``column`` (AppTest does not expose a dataframe's key)."""
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


def test_statement_table_closing_balance_and_aging_for_finance(smtp_inbox):
    make_company()
    anna, a, b = _history()

    at = _statement_page("finance", anna.id)

    statement = _frame(at, "Description")
    assert list(statement["Description"]) == [
        "Opening balance",
        "Payment by bank transfer RF18 FEB",
        "Invoice",
        "Credit note KR-1",
        "Refund",
        "Payment by bank transfer",
        "Payment reversed",
        "Closing balance",
    ]
    assert [str(v) for v in statement["Balance"]] == [
        "71.00",
        "0.00",
        "200.00",
        "179.00",
        "189.00",
        "184.00",
        "189.00",
        "189.00",
    ]
    assert list(statement["Document"])[1:3] == [a.number, b.number]
    [closing] = at.metric
    assert (closing.label, closing.value) == ("Closing balance on 2026-03-31 (EUR)", "189.00 EUR")
    aging = _frame(at, "90+ days")
    # Both open invoices fell due in February and March: over 90 days by now.
    assert [str(v) for v in aging.iloc[0]] == [
        "EUR",
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "189.00",
        "189.00",
    ]
    # The customer list's exports, then the statement's PDF.
    assert [label for label, _ in download_links(at)] == ["Download CSV", "Download XLSX"]
    assert [b.label for b in at.get("download_button")] == ["Download PDF"]

    at.text_input(key=f"stmt_cc_{anna.id}").input("books@example.lv")
    next(b for b in at.button if b.label == "Send by e-mail").click().run()

    no_exceptions(at)
    assert [s.value for s in at.success] == [
        "Statement sent to anna@example.lv; cc: books@example.lv."
    ]
    [message] = smtp_inbox.messages
    assert message["Cc"] == "books@example.lv"
    assert message["Subject"].startswith("Salīdzināšanās akts")


def test_manager_sees_the_statement_but_cannot_send_it(db):
    anna, _, _ = _history()

    at = _statement_page("manager", anna.id)

    assert "Closing balance" in list(_frame(at, "Description")["Description"])
    assert not [b for b in at.button if b.label == "Send by e-mail"]


def test_a_reversed_period_is_refused_on_the_page(db):
    anna, _, _ = _history()
    at = _statement_page("finance", anna.id)

    at.date_input(key="stmt_from").set_value(date(2026, 4, 1)).run()

    assert [e.value for e in at.error] == ["“From” must be on or before “To”."]
    assert not [frame for frame in at.dataframe if "Description" in frame.value.columns]
