"""A number from an allowed but unusual prefix ("R/LV-B", no yearly reset) is a valid
order reference all the way: the signed pay link, the callback intake, the API answer that
books it, and the "-2" reference of the payment that follows a partial one."""

from urllib.parse import urlsplit

import respx

from shared.callbacks.intake import receive_callback
from shared.callbacks.processing import process_event
from shared.db import read_session, write_session
from shared.invoicing import order_reference
from shared.linkpay.links import pay_link_for
from shared.linkpay.signing import parse_query, verify_query
from shared.models import Customer, InvoiceStatus, PaymentChannel
from shared.number_series import SeriesInput, add_series, set_default
from shared.review import accept_partial_payment
from shared.states import ReviewKind
from tests.callbacks.helpers import answer_with, invoice, make_shop, reviews
from tests.utils.factories import API_SECRET


def _callback(token: str, *, payment_reference: str, reference: str) -> int:
    result = receive_callback(
        channel_token=token,
        params={
            "payment_reference": payment_reference,
            "order_reference": reference,
            "event_name": "status_updated",
        },
        http_method="GET",
        remote_addr="127.0.0.1",
    )
    assert result.queued, result.body
    assert result.event_id is not None
    return result.event_id


def _signed_reference(invoice_id: int) -> str:
    """The order reference of the invoice's pay link, once its signature is checked."""
    with read_session() as session:
        current = invoice(invoice_id)
        link = pay_link_for(
            channel=session.get(PaymentChannel, current.channel_id),
            invoice=current,
            customer=session.get(Customer, current.customer_id),
        )
    query = urlsplit(link).query
    assert verify_query(query, API_SECRET)
    return parse_query(query)["order_reference"]


def test_an_odd_prefix_is_paid_through_its_pay_link_and_callbacks(
    any_db: str, api: respx.MockRouter
) -> None:
    with write_session() as session:
        series = add_series(
            session,
            actor="test",
            data=SeriesInput(
                document_type="invoice", prefix="r/lv-b", yearly_reset=False, digits=5
            ),
        )
        set_default(session, actor="test", series_id=series.id)
    shop = make_shop()
    assert shop.invoice.number == "R/LV-B-00001"
    assert _signed_reference(shop.invoice.id) == "R/LV-B-00001"

    first = shop.answer(amount="50.00", order_reference="R/LV-B-00001")
    answer_with(api, first)
    event_id = _callback(
        shop.token, payment_reference=first["payment_reference"], reference="R/LV-B-00001"
    )
    assert "sent to review" in process_event(event_id)
    [item] = reviews(ReviewKind.AMOUNT_MISMATCH)
    with write_session() as session:
        accept_partial_payment(session, actor="finance", review_id=item.id)

    partly = invoice(shop.invoice.id)
    assert order_reference(partly) == "R/LV-B-00001-2"
    assert _signed_reference(shop.invoice.id) == "R/LV-B-00001-2"
    rest = shop.answer(amount="71.00", order_reference="R/LV-B-00001-2")
    answer_with(api, rest)
    process_event(
        _callback(
            shop.token, payment_reference=rest["payment_reference"], reference="R/LV-B-00001-2"
        )
    )
    paid = invoice(shop.invoice.id)
    assert (paid.status, paid.paid_minor, paid.open_minor) == (InvoiceStatus.PAID, 12100, 0)
