"""Streamlit's widget code is fetched once after signing in, so a page's first visit does not
wait for it."""

from dashboard import preload
from tests.dashboard.conftest import app_as, no_exceptions, open_page


def _preloads(at) -> list[str]:
    return [
        element.proto.body for element in at.get("html") if "import(new URL(" in element.proto.body
    ]


def test_the_widget_code_is_imported_once_per_tab(db):
    at = app_as("finance")
    no_exceptions(at)
    (script,) = _preloads(at)
    for file in preload.widget_code_files():
        assert f'"{file}"' in script
    at = open_page(at, "invoices")
    no_exceptions(at)
    assert _preloads(at) == []


def test_every_part_is_found_in_the_installed_streamlit():
    files = preload.widget_code_files()
    assert [file.split(".")[0] for file in files] == list(preload.WIDGET_CODE)


def test_nobody_signed_in_gets_no_preload(db):
    at = app_as(None)
    no_exceptions(at)
    assert _preloads(at) == []
