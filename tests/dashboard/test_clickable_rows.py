"""A click on a Callbacks or Exceptions row leads to the invoice it is about; callback
states read in people's words."""

from shared.db import write_session
from shared.models import CallbackEvent, ReviewItem
from tests.dashboard.conftest import app_as, no_exceptions, open_page, texts
from tests.utils.factories import make_channel, make_invoice


def _click(at, table_key: str, row: int):
    """A click on row ``row`` of the table ``table_key``, as st.dataframe reports it."""
    at.session_state[table_key] = {"selection": {"rows": [row], "columns": []}}
    return at.run()


def _callback(channel, status: str, *, invoice=None, outcome: str = "") -> None:
    with write_session() as session:
        session.add(
            CallbackEvent(
                channel_id=channel.id,
                payment_reference=status[:2] * 32,
                order_reference=invoice.number if invoice else "INV-ELSEWHERE",
                event_name="status_updated",
                status=status,
                invoice_id=invoice.id if invoice else None,
                outcome=outcome,
            )
        )


def _review(invoice, kind: str = "overpayment") -> int:
    with write_session() as session:
        item = ReviewItem(
            kind=kind,
            dedupe_key=f"{kind}:{invoice.id}",
            reason="Paid twice",
            invoice_id=invoice.id,
        )
        session.add(item)
        session.flush()
        return item.id


def _shown_invoice(at) -> str:
    # AppTest keeps re-running the page last passed to switch_page; follow the app there.
    assert at.query_params["invoice"]
    at = open_page(at, "invoice_detail")
    no_exceptions(at)
    return texts(at)


def test_callback_row_opens_its_invoice_and_reads_in_words(db):
    channel = make_channel()
    invoice = make_invoice(channel=channel)
    _callback(channel, "done", invoice=invoice, outcome="Invoice paid in full.")
    _callback(channel, "pending")  # newest: listed first, applied to no invoice yet

    at = open_page(app_as("manager"), "callbacks")
    no_exceptions(at)
    frame = next(f.value for f in at.dataframe if "Processing status" in f.value.columns)
    assert list(frame["Processing status"]) == ["Waiting", "Done"]
    assert list(frame["Invoice"]) == ["", invoice.number]
    # What a person reads first comes before the long payment reference.
    columns = list(frame.columns)
    assert columns.index("Outcome") < columns.index("Payment reference")

    at = _click(at, "callbacks_table", 0)
    no_exceptions(at)
    assert "not applied to an invoice (yet)" in texts(at)
    assert "invoice" not in at.query_params

    at = _click(at, "callbacks_table", 1)
    assert at.query_params["invoice"] == invoice.number
    assert f"Invoice {invoice.number}" in _shown_invoice(at)


def test_exception_row_opens_its_invoice_for_a_manager(db):
    invoice = make_invoice(channel=make_channel())
    _review(invoice)
    at = _click(open_page(app_as("manager"), "exceptions"), "exceptions_table", 0)
    assert at.query_params["invoice"] == invoice.number
    assert f"Invoice {invoice.number}" in _shown_invoice(at)


def test_exception_row_selects_it_for_the_reviewer(db):
    channel = make_channel()
    first, second = make_invoice(channel=channel), make_invoice(channel=channel)
    first_id, second_id = _review(first), _review(second)
    at = open_page(app_as("finance"), "exceptions")
    no_exceptions(at)
    assert at.selectbox(key="rev_pick").value == second_id  # newest first

    at = _click(at, "exceptions_table", 1)
    no_exceptions(at)
    assert at.selectbox(key="rev_pick").value == first_id
    # Choosing another one in the picker is not undone by the row still selected.
    at.selectbox(key="rev_pick").set_value(second_id).run()
    assert at.selectbox(key="rev_pick").value == second_id

    at.selectbox(key="rev_pick").set_value(first_id).run()
    at.button(key="rev_open_invoice").click().run()
    assert at.query_params["invoice"] == first.number
    assert f"Invoice {first.number}" in _shown_invoice(at)
