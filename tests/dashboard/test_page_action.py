"""``ui.page_action``, the one way a page writes: a refused action leaves nothing of itself
in the database, a done one says so once, and a role without the permission never runs it."""

from sqlmodel import select
from streamlit.testing.v1 import AppTest

from dashboard import ui
from shared.db import read_session
from shared.models import AuditLog
from tests.dashboard.conftest import TIMEOUT, make_user, no_exceptions


def _page(mode: str) -> None:
    """A page with one button whose action writes a row, then either refuses (as a domain
    function does when it finds a problem half-way) or succeeds."""
    import streamlit as st

    from dashboard import ui
    from shared.audit import record_audit
    from shared.errors import ValidationError

    ui.show_flash()
    ui.field_error("test_form", "amount")

    def run(session) -> str:
        record_audit(session, actor="test", action="test.write")
        if mode != "ok":
            raise ValidationError("The amount is more than the open balance.", field="amount")
        return "written"

    if st.button("Go", key="go"):
        ui.page_action(
            run,
            permission="edit",
            action="test.write",
            form="test_form" if mode == "form" else None,
            success=lambda result: f"Done: {result}.",
        )


def _app(mode: str, role: str) -> AppTest:
    at = AppTest.from_function(_page, args=(mode,), default_timeout=TIMEOUT)
    at.session_state["auth"] = ui.new_session(make_user(role))
    return at.run()


def _written() -> int:
    with read_session() as session:
        rows = session.exec(
            select(AuditLog).where(AuditLog.action == "test.write", AuditLog.outcome == "ok")
        ).all()
    return len(rows)


def test_a_refusal_after_a_write_rolls_the_whole_action_back_and_shows_next_to_the_field(any_db):
    at = _app("form", "finance")
    at.button(key="go").click().run()
    no_exceptions(at)
    assert _written() == 0
    assert [e.value for e in at.error] == ["The amount is more than the open balance."]
    assert not at.success


def test_a_refusal_without_a_form_rolls_back_and_shows_where_the_action_was(any_db):
    at = _app("inline", "finance")
    at.button(key="go").click().run()
    no_exceptions(at)
    assert _written() == 0
    assert [e.value for e in at.error] == ["The amount is more than the open balance."]


def test_a_done_action_is_committed_and_said_once_after_the_rerun(db):
    at = _app("ok", "finance")
    at.button(key="go").click().run()
    no_exceptions(at)
    assert _written() == 1
    assert [s.value for s in at.success] == ["Done: written."]
    at.run()
    assert not at.success


def test_a_role_without_the_permission_never_runs_the_action(db):
    at = _app("ok", "manager")
    at.button(key="go").click().run()
    no_exceptions(at)
    assert _written() == 0
    assert [e.value for e in at.error] == ["Your role does not allow this action."]
    with read_session() as session:
        refused = session.exec(select(AuditLog).where(AuditLog.outcome == "refused")).all()
    assert [(r.actor, r.action) for r in refused] == [("manager", "test.write")]
