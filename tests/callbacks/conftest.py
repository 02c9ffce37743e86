"""Fixtures for callback tests."""

from collections.abc import Iterator

import pytest
import respx

from tests.callbacks.helpers import API_BASE, Shop, make_shop


@pytest.fixture
def shop(any_db: str) -> Shop:
    return make_shop()


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API_BASE, assert_all_called=False) as router:
        yield router
