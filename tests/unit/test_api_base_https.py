"""The API secret travels in every request's Basic auth header: never over plain http to
another machine, neither when a channel is saved nor from a row saved before the rule."""

import httpx
import pytest
import respx
from sqlalchemy import update

from shared.channels import check_connection, credentials
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.linkpay.client import EveryPayClient, Outcome
from shared.models import PaymentChannel
from tests.utils.factories import make_channel


@pytest.mark.parametrize(
    "api_base",
    [
        "http://igw-demo.every-pay.com/api/v4",
        "http://10.0.0.5:8020/api/v4",
        "http://127.0.0.1.evil.example/api/v4",
        "http://localhost.evil.example/api/v4",
    ],
)
def test_saving_a_custom_channel_with_an_http_api_base_is_refused(any_db, api_base) -> None:
    with pytest.raises(ValidationError, match=r"must start with https://") as error:
        make_channel(api_base=api_base)
    assert error.value.field == "api_base"
    with read_session() as session:
        assert session.get(PaymentChannel, 1) is None


@pytest.mark.parametrize(
    "api_base",
    [
        "https://igw-demo.every-pay.com/api/v4",
        "http://127.0.0.1:8020/api/v4",
        "http://127.8.9.10/api/v4",
        "http://[::1]:8020/api/v4",
        "http://localhost:8020/api/v4",
    ],
)
def test_https_and_loopback_api_bases_are_accepted(any_db, api_base) -> None:
    assert make_channel(api_base=api_base).api_base == api_base


def test_a_stored_http_api_base_never_receives_the_secret(db) -> None:
    channel = make_channel(api_base="https://igw-demo.every-pay.com/api/v4")
    with write_session() as session:  # as a row saved before https was required
        session.exec(
            update(PaymentChannel)
            .where(PaymentChannel.id == channel.id)
            .values(api_base="http://igw-demo.every-pay.com/api/v4")
        )
    with read_session() as session:
        stored_credentials = credentials(session.get(PaymentChannel, channel.id))

    with respx.mock(assert_all_mocked=True, assert_all_called=False) as mock:
        anything = mock.route().mock(return_value=httpx.Response(200, json={}))
        with EveryPayClient(stored_credentials) as client:
            result = client.get_payment("a" * 64)
        ok, message = check_connection(actor="test", channel_id=channel.id)

    assert not anything.called
    assert result.outcome is Outcome.TRANSIENT  # retried once the base is fixed, never "failed"
    assert "https://" in result.error
    assert not ok and "https://" in message
