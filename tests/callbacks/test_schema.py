"""Property-based checks from the service's own OpenAPI schema (schemathesis): whatever
arrives at the Callback URL, the service answers as documented and never with a 5xx."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from callback_service.app import create_app
from shared.callbacks.worker import beat
from tests.callbacks.helpers import Shop

CALLBACK = "/callbacks/linkpay/{channel_token}"
EXAMPLES = 25


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_callback_url_answers_as_documented(shop: Shop, method: str, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(start_background=False))
    operation = schema[CALLBACK][method]
    # Half the cases reach the real channel (200/400), the rest random tokens (404).
    strategy = operation.as_strategy(
        generation_mode=mode, path_parameters={"channel_token": shop.token}
    ) | operation.as_strategy(generation_mode=mode)

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate()
        assert response.status_code < 500

    check()


def test_health_answers_as_documented(shop: Shop) -> None:
    beat(detail="a worker in another process")
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(start_background=False))

    @given(case=schema["/health"]["GET"].as_strategy())
    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate()

    check()
