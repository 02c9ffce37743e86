"""Check in VIES: a real local HTTP server stands in for the EU service (no call leaves the
machine); every answer, and every way of not answering, ends in a message, never an error."""

from collections.abc import Iterator

import pytest

from shared.config import get_settings
from shared.vies import ViesOutcome, check_in_vies
from tests.utils.vies_server import FakeVies, fake_vies


@pytest.fixture
def vies(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVies]:
    with fake_vies(monkeypatch) as fake:
        yield fake


def test_a_registered_number_is_confirmed_with_its_holder(vies: FakeVies) -> None:
    vies.body = {
        "countryCode": "LV",
        "vatNumber": "40003009497",
        "valid": True,
        "name": "SIA KOKS",
        "address": "BRĪVĪBAS IELA 1\nRĪGA",
    }

    answer = check_in_vies("LV40003009497")

    assert vies.requests == [{"countryCode": "LV", "vatNumber": "40003009497"}]
    assert answer.outcome == ViesOutcome.VALID
    assert answer.message == (
        "VIES confirms LV40003009497 is a valid VAT number: SIA KOKS, BRĪVĪBAS IELA 1, RĪGA."
    )


def test_an_unregistered_number_is_reported_but_stays_saved(vies: FakeVies) -> None:
    vies.body = {"valid": False, "name": "---", "address": "---", "userError": "INVALID"}

    answer = check_in_vies("EE100931558")

    assert vies.requests == [{"countryCode": "EE", "vatNumber": "100931558"}]
    assert answer.outcome == ViesOutcome.INVALID
    assert "EE100931558 is not a valid VAT number" in answer.message


@pytest.mark.parametrize(
    ("status", "body", "delay"),
    [
        (200, {"valid": False, "userError": "MS_UNAVAILABLE"}, 0.0),
        (500, {"actionSucceed": False, "errorWrappers": [{"error": "SERVICE_UNAVAILABLE"}]}, 0.0),
        (200, b"<html>maintenance</html>", 0.0),
        (200, {"valid": True}, 2.0),
    ],
    ids=["member-state-down", "server-error", "not-json", "too-slow"],
)
def test_when_vies_does_not_answer_the_number_is_saved_anyway(
    vies: FakeVies, status: int, body: object, delay: float
) -> None:
    vies.status, vies.body, vies.delay = status, body, delay

    answer = check_in_vies("LV40003009497")

    assert answer.outcome == ViesOutcome.UNREACHABLE
    assert answer.message == (
        "Could not reach VIES to check LV40003009497; the number is saved anyway."
    )


def test_no_server_at_all_is_unreachable_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKPAY_VIES_URL", "http://127.0.0.1:9/check")
    get_settings.cache_clear()

    assert check_in_vies("LV40003009497").outcome == ViesOutcome.UNREACHABLE


def test_a_number_from_outside_the_eu_is_not_sent(vies: FakeVies) -> None:
    answer = check_in_vies("NO987654321MVA")

    assert vies.requests == []
    assert answer.outcome == ViesOutcome.NOT_EU
    assert answer.message == "VIES knows EU VAT numbers only, not 'NO987654321MVA'."
