"""The two HTTP routes of the dashboard beside Streamlit's own (see dashboard/desk_app.py):
exchange the login form's one-time ticket for the sign-in cookie, and drop the cookie after
the logout button. The cookie is HttpOnly and SameSite=Strict; shared/login_sessions.py
says what it holds."""

from urllib.parse import parse_qs, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from shared.config import get_settings
from shared.db import write_session
from shared.login_sessions import COOKIE_NAME, redeem_ticket
from shared.models import utcnow

SESSION_START_PATH = "/session/start"
SESSION_END_PATH = "/session/end"

_FORM_LIMIT = 4096


async def _form(request: Request) -> dict[str, str] | None:
    """The posted form, or None when it comes from another site (a page elsewhere must
    not sign the browser in or out) or is larger than a ticket needs."""
    origin = request.headers.get("origin")
    # Behind a proxy that rewrites Host, the dashboard's public address is the one to match.
    ours = {
        request.headers.get("host"),
        urlsplit(get_settings().resolved_dashboard_base_url).netloc,
    }
    if origin and urlsplit(origin).netloc not in ours:
        return None
    body = await request.body()
    if len(body) > _FORM_LIMIT:
        return None
    return {name: values[0] for name, values in parse_qs(body.decode("utf-8", "replace")).items()}


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or (
        get_settings().resolved_dashboard_base_url.startswith("https://")
    )


def _redeem(ticket: str) -> str | None:
    with write_session() as session:
        return redeem_ticket(session, ticket=ticket, now=utcnow())


async def start_session(request: Request) -> Response:
    """The login form's ticket in, the session cookie out. Posted by the signed-in page
    itself in the background (ui.hand_over_cookie): nothing to show, nowhere to go."""
    form = await _form(request)
    if form is None:
        return PlainTextResponse("Forbidden", status_code=403)
    # The database is synchronous; Starlette's thread pool keeps the event loop free.
    cookie = await run_in_threadpool(_redeem, form.get("ticket", ""))
    response = Response(status_code=204)
    if cookie is not None:
        response.set_cookie(
            COOKIE_NAME,
            cookie,
            max_age=get_settings().session_max_hours * 3600,
            path="/",
            httponly=True,
            samesite="strict",
            secure=_secure(request),
        )
    return response


async def end_session(request: Request) -> Response:
    """After the logout button (the session row is already gone): drop the cookie."""
    if await _form(request) is None:
        return PlainTextResponse("Forbidden", status_code=403)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(
        COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


ROUTES = [
    Route(SESSION_START_PATH, start_session, methods=["POST"]),
    Route(SESSION_END_PATH, end_session, methods=["POST"]),
]
