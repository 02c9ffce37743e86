"""Sign-in sessions behind the dashboard's cookie, on both backends: the ticket is spent
once, a cookie must carry a valid signature and a live token, idle and old sessions end,
and a password change or a deactivation ends every session of that user."""

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.web.server.app_discovery import discover_asgi_app

from dashboard.session_routes import ROUTES
from shared import login_sessions
from shared.audit import SYSTEM_ACTOR
from shared.config import get_settings
from shared.db import read_session, write_session
from shared.login_sessions import (
    COOKIE_NAME,
    check_session,
    end_session,
    redeem_ticket,
    session_of_cookie,
    start_session,
    touch_session,
)
from shared.models import LoginSession, utcnow
from shared.operations.launcher import services
from shared.user_admin import set_user_active
from shared.users import create_user, set_password

PASSWORD = "correct-pass-1"


def _user(username: str = "ilze", role: str = "finance") -> int:
    with write_session() as session:
        return create_user(
            session, actor=SYSTEM_ACTOR, username=username, password=PASSWORD, role=role
        ).id


def _signed_in(user_id: int, *, at=None) -> tuple[int, str]:
    """A session of ``user_id`` started ``at`` and the cookie its browser got for it."""
    now = at or utcnow()
    with write_session() as session:
        started = start_session(session, user_id=user_id, now=now)
    with write_session() as session:
        cookie = redeem_ticket(session, ticket=started.ticket, now=now)
    assert cookie is not None
    return started.session_id, cookie


def _cookie_session(cookie: str) -> int | None:
    with read_session() as session:
        return session_of_cookie(session, cookie=cookie)


def _check(session_id: int, now, active_at=None):
    with read_session() as session:
        return check_session(session, session_id=session_id, now=now, active_at=active_at)


def test_ticket_gives_one_cookie_that_names_the_session(any_db):
    user_id = _user()
    now = utcnow()
    with write_session() as session:
        started = start_session(session, user_id=user_id, now=now)
    with write_session() as session:
        cookie = redeem_ticket(session, ticket=started.ticket, now=now)
    with write_session() as session:
        again = redeem_ticket(session, ticket=started.ticket, now=now)
    assert cookie is not None and again is None
    assert _cookie_session(cookie) == started.session_id
    assert started.ticket not in cookie
    with read_session() as session:
        row = session.get(LoginSession, started.session_id)
    assert row is not None and row.ticket_hash is None
    assert cookie.split(".")[1] not in (row.token_hash or "")


def test_a_ticket_not_used_at_once_is_void(any_db):
    user_id = _user()
    now = utcnow()
    with write_session() as session:
        started = start_session(session, user_id=user_id, now=now)
    late = now + timedelta(seconds=login_sessions.TICKET_SECONDS + 1)
    with write_session() as session:
        assert redeem_ticket(session, ticket=started.ticket, now=late) is None


def test_parallel_use_of_one_ticket_gives_one_cookie(any_db):
    user_id = _user()
    now = utcnow()
    with write_session() as session:
        started = start_session(session, user_id=user_id, now=now)
    barrier = threading.Barrier(8)
    cookies: list[str | None] = []

    def redeem() -> None:
        barrier.wait(timeout=30)
        with write_session() as session:
            cookies.append(redeem_ticket(session, ticket=started.ticket, now=now))

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(cookies) == 8
    assert len([cookie for cookie in cookies if cookie]) == 1


@pytest.mark.parametrize(
    "forge",
    [
        lambda cookie: cookie.rsplit(".", 1)[0],  # unsigned
        lambda cookie: cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"),
        lambda cookie: "1." + cookie.split(".", 1)[1],  # another session, same signature
        lambda cookie: "not a cookie",
    ],
    ids=["unsigned", "bad-signature", "other-session", "garbage"],
)
def test_forged_or_unsigned_cookie_is_refused(any_db, forge):
    other, _ = _signed_in(_user("other"))
    session_id, cookie = _signed_in(_user())
    assert other == 1
    assert _cookie_session(cookie) == session_id
    assert _cookie_session(forge(cookie)) is None


def test_cookie_signed_right_but_with_a_wrong_token_is_refused(any_db):
    session_id, cookie = _signed_in(_user())
    payload = f"{session_id}.{'x' * 43}"
    resigned = login_sessions._sign(payload)
    assert resigned != cookie
    assert _cookie_session(resigned) is None


def test_idle_session_ends_and_a_click_in_another_tab_keeps_it(any_db, monkeypatch):
    monkeypatch.setenv("LINKPAY_SESSION_TIMEOUT_MINUTES", "30")
    start = utcnow()
    session_id, _ = _signed_in(_user(), at=start)
    assert not _check(session_id, start + timedelta(minutes=29)).ended
    idle = _check(session_id, start + timedelta(minutes=31))
    assert idle.ended == "Your session ended after 30 minutes of inactivity."
    with write_session() as session:
        touch_session(session, session_id=session_id, now=start + timedelta(minutes=20))
    assert not _check(session_id, start + timedelta(minutes=31)).ended
    # This tab saw a click the row has not been told of yet.
    seen = start + timedelta(minutes=25)
    assert not _check(session_id, start + timedelta(minutes=52), active_at=seen).ended


def test_touch_never_moves_last_seen_back(any_db):
    start = utcnow()
    session_id, _ = _signed_in(_user(), at=start)
    with write_session() as session:
        touch_session(session, session_id=session_id, now=start + timedelta(minutes=10))
        touch_session(session, session_id=session_id, now=start + timedelta(minutes=5))
    with read_session() as session:
        row = session.get(LoginSession, session_id)
    assert row.last_seen_at == start + timedelta(minutes=10)


def test_session_ends_after_its_lifetime_however_active(any_db):
    start = utcnow()
    session_id, _ = _signed_in(_user(), at=start)
    late = start + timedelta(hours=12, minutes=1)
    with write_session() as session:
        touch_session(session, session_id=session_id, now=late)
    assert _check(session_id, late).ended.startswith("Your session ended 12 h after")


def test_logout_password_change_and_deactivation_end_the_sessions(any_db):
    user_id = _user()
    admin_id = _user("boss", "admin")
    first, first_cookie = _signed_in(user_id)
    second, second_cookie = _signed_in(user_id)
    admins, _ = _signed_in(admin_id)

    with write_session() as session:
        end_session(session, session_id=first)
    assert _cookie_session(first_cookie) is None
    assert _check(first, utcnow()).ended
    assert _cookie_session(second_cookie) == second

    with write_session() as session:
        set_password(session, actor="boss", username="ilze", password="another-pass-2")
    assert _cookie_session(second_cookie) is None
    assert _check(admins, utcnow()).ended == ""

    _, third_cookie = _signed_in(user_id)
    with write_session() as session:
        set_user_active(session, actor="boss", user_id=user_id, active=False)
    assert _cookie_session(third_cookie) is None
    with read_session() as session:
        left = session.exec(select(LoginSession.user_id)).all()
    assert left == [admin_id]


def test_ended_sessions_are_swept_when_someone_logs_in(any_db):
    start = utcnow()
    _signed_in(_user(), at=start)
    other = _user("other")
    _signed_in(other, at=start + timedelta(hours=13))
    with read_session() as session:
        assert session.exec(select(LoginSession.user_id)).all() == [other]


def _client() -> TestClient:
    return TestClient(Starlette(routes=ROUTES), base_url="http://desk.test")


def test_start_route_sets_an_httponly_strict_cookie(any_db):
    user_id = _user()
    with write_session() as session:
        started = start_session(session, user_id=user_id, now=utcnow())
    response = _client().post("/session/start", data={"ticket": started.ticket})
    # The signed-in page posts it in the background and stays where it is.
    assert response.status_code == 204
    assert "location" not in response.headers
    set_cookie = response.headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE_NAME}=")
    flags = {part.strip().lower() for part in set_cookie.split(";")}
    assert "httponly" in flags and "samesite=strict" in flags and "path=/" in flags
    assert _cookie_session(response.cookies[COOKIE_NAME]) == started.session_id

    replayed = _client().post("/session/start", data={"ticket": started.ticket})
    assert "set-cookie" not in replayed.headers


def test_routes_refuse_a_form_posted_from_another_site(any_db):
    with write_session() as session:
        started = start_session(session, user_id=_user(), now=utcnow())
    response = _client().post(
        "/session/start",
        data={"ticket": started.ticket},
        headers={"origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_end_route_drops_the_cookie(any_db):
    response = _client().post("/session/end", data={}, follow_redirects=False)
    assert response.status_code == 303
    set_cookie = response.headers["set-cookie"].lower()
    assert set_cookie.startswith(f"{COOKIE_NAME}=") and "max-age=0" in set_cookie


def test_the_dashboard_command_serves_the_app_with_its_cookie_routes(isolated_settings):
    """``streamlit run`` serves ``app`` of the file it is given, with the routes, only when
    it finds it there; otherwise it would run the file as an empty page."""
    desk_app = Path(__file__).resolve().parents[2] / "dashboard" / "desk_app.py"
    found = discover_asgi_app(desk_app)
    assert found.is_asgi_app and found.import_string == "desk_app:app"
    dashboard = next(
        service
        for service in services(get_settings(), with_demo_smtp=False)
        if service.name == "dashboard"
    )
    assert dashboard.command[2:5] == ["streamlit", "run", str(desk_app)]
    assert {"--runner.postScriptGC", "--server.fileWatcherType"} <= set(dashboard.command)


def test_behind_an_https_proxy_the_cookie_is_secure_and_the_public_origin_accepted(
    any_db, monkeypatch
):
    monkeypatch.setenv("LINKPAY_DASHBOARD_BASE_URL", "https://desk.example.com")
    get_settings.cache_clear()
    with write_session() as session:
        started = start_session(session, user_id=_user(), now=utcnow())
    response = _client().post(
        "/session/start",
        data={"ticket": started.ticket},
        headers={"origin": "https://desk.example.com"},
    )
    assert response.status_code == 204
    flags = {part.strip().lower() for part in response.headers["set-cookie"].split(";")}
    assert "secure" in flags
