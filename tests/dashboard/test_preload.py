"""Streamlit's widget code is fetched once per tab, from the login form on, so signing in and
a page's first visit do not wait for it."""

from dashboard import preload
from tests.dashboard.conftest import PASSWORD, app_as, make_user, no_exceptions, open_page


def _preloads(at) -> list[str]:
    return [
        element.proto.body for element in at.get("html") if "import(new URL(" in element.proto.body
    ]


def test_the_login_form_preloads_and_signing_in_does_not_again(db):
    make_user("finance")
    at = app_as(None)
    no_exceptions(at)
    (script,) = _preloads(at)
    for file in preload.widget_code_files():
        assert f'"{file}"' in script
    at.text_input(key="login_username").input("finance")
    at.text_input(key="login_password").input(PASSWORD)
    at = at.button(key="login_submit").click().run()
    no_exceptions(at)
    assert "finance" in at.sidebar.caption[0].value
    assert _preloads(at) == []


def test_a_tab_that_opens_signed_in_preloads_once(db):
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
