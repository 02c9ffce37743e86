"""The sidebar lists every page a role may open, Settings included: none hidden behind
"View more"."""

import streamlit as st

from tests.dashboard.conftest import app_as, no_exceptions


def test_admin_sees_settings_without_view_more(db, monkeypatch):
    shown: list[dict] = []
    real = st.navigation

    def navigation(pages, **options):
        shown.append({"pages": pages, **options})
        return real(pages, **options)

    monkeypatch.setattr(st, "navigation", navigation)
    no_exceptions(app_as("admin"))
    menu = shown[-1]
    titles = [page.title for page in menu["pages"]["Settings"]]
    assert titles == ["Company", "Numbering", "Users", "Audit log"]
    assert menu.get("expanded") is True
