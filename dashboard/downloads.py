"""The dashboard's CSV and XLSX exports, streamed from the database to the browser.

A page run prepares each export it offers (``prepare``: the columns and the function that
reads the rows with the page's filter, sort and language) and links to ``/export`` with a
signed, short-lived token naming it (shared/download_links.py). The file is made only when
the link is followed, and the route hands it over as it is made: the dashboard process never
holds a whole file, and nothing compresses it on the way (a 1 M-row CSV costs seconds of
CPU to gzip, more than its transfer on any office network).

Prepared exports live in this process, which is the one that serves both the pages and
this route; one per browser tab and table, replaced by the tab's next run and dropped when
their links expire, so they cannot pile up.
"""

import html
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response, StreamingResponse
from starlette.routing import Route

from dashboard.i18n import ENGLISH, text_in
from shared import exports
from shared.db import read_session
from shared.download_links import LinkExpired, LinkRefused, read_grant
from shared.exports import Column
from shared.login_sessions import COOKIE_NAME, at_time, check_session, session_of_cookie
from shared.users import can

EXPORT_PATH = "/export"
FILE_CHUNK_BYTES = 1 << 20
MIME_TYPES = {"csv": exports.CSV_MIME, "xlsx": exports.XLSX_MIME}


@dataclass(frozen=True)
class PreparedExport:
    key: str
    file_stem: str
    columns: tuple[Column, ...]
    rows: Callable[[], Iterable[Sequence[Any]]]
    # The same CSV as ``rows`` gives, formatted by the database (the invoice list).
    csv_chunks: Callable[[], Iterable[bytes]] | None = None


@dataclass(frozen=True)
class _Entry:
    export: PreparedExport
    tab: str
    expires_at: float


_lock = threading.Lock()
_entries: dict[str, _Entry] = {}
_latest: dict[tuple[str, str], str] = {}


def prepare(export: PreparedExport, *, tab: str, expires_at: float, now: float) -> str:
    """Keeps ``export`` for the links of one page run of browser tab ``tab``; its id."""
    export_id = secrets.token_urlsafe(16)
    with _lock:
        for expired in [key for key, entry in _entries.items() if entry.expires_at <= now]:
            _forget(expired)
        replaced = _latest.get((tab, export.key))
        if replaced is not None:
            _forget(replaced)
        _entries[export_id] = _Entry(export, tab, expires_at)
        _latest[(tab, export.key)] = export_id
    return export_id


def _forget(export_id: str) -> None:
    entry = _entries.pop(export_id)
    if _latest.get((entry.tab, entry.export.key)) == export_id:
        del _latest[(entry.tab, entry.export.key)]


def _prepared(export_id: str, *, now: float) -> PreparedExport | None:
    with _lock:
        entry = _entries.get(export_id)
    return entry.export if entry is not None and entry.expires_at > now else None


def _refusal(status: int, message: str, code: str) -> Response:
    text = html.escape(text_in(code, message))
    back = html.escape(text_in(code, "Back to LinkPay Desk"))
    body = (
        '<!doctype html><html><head><meta charset="utf-8"><title>LinkPay Desk</title></head>'
        f'<body style="font-family: sans-serif; margin: 3rem"><p>{text}</p>'
        f'<p><a href="/">{back}</a></p></body></html>'
    )
    return HTMLResponse(body, status_code=status)


def _holder_may_export(cookie: str, *, user_id: int, login_session_id: int, now: float) -> bool:
    """Whether ``cookie`` is the live sign-in the link was made for, of a user who may
    export now (a role changed or an account closed since the page ran counts)."""
    with read_session() as session:
        if session_of_cookie(session, cookie=cookie) != login_session_id:
            return False
        holder = check_session(session, session_id=login_session_id, now=at_time(now))
    return not holder.ended and holder.user_id == user_id and can(holder.role, "export")


def _closing(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """``chunks``, closed however the download ends: a browser that cancels must not
    leave a database cursor open."""
    iterator = iter(chunks)
    try:
        yield from iterator
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def _csv_bytes(export: PreparedExport) -> Iterator[bytes]:
    if export.csv_chunks is not None:
        yield from _closing(export.csv_chunks())
        return
    for chunk in exports.csv_chunks(export.columns, export.rows()):
        yield chunk.encode("utf-8")


def _xlsx_bytes(export: PreparedExport) -> Iterator[bytes]:
    """The workbook written to a temporary file first (a zip file's directory comes last),
    then read out of it; the response has started meanwhile, so the browser shows the
    download as under way."""
    handle, _ = exports.xlsx_file(export.columns, export.rows(), sheet_name=export.file_stem)
    with handle:
        while chunk := handle.read(FILE_CHUNK_BYTES):
            yield chunk


def _attachment(file_name: str) -> str:
    return f"attachment; filename=\"{file_name}\"; filename*=UTF-8''{quote(file_name)}"


async def download(request: Request) -> Response:
    """A prepared export as a file, to the signed-in user it was prepared for."""
    now = time.time()
    try:
        grant = read_grant(request.query_params.get("token", ""), now=now)
    except LinkRefused as refused:
        if isinstance(refused, LinkExpired):
            return _refusal(410, str(refused), refused.language)
        return _refusal(403, str(refused), ENGLISH)
    code = grant.language
    cookie = request.cookies.get(COOKIE_NAME, "")
    allowed = bool(cookie) and await run_in_threadpool(
        _holder_may_export,
        cookie,
        user_id=grant.user_id,
        login_session_id=grant.login_session_id,
        now=now,
    )
    if not allowed:
        return _refusal(403, "This download is only for the signed-in user who asked for it.", code)
    export = _prepared(grant.export_id, now=now)
    if export is None or export.key != grant.export_key:
        return _refusal(
            410, "This download link has expired. Reload the page and download again.", code
        )
    body = _csv_bytes(export) if grant.file_format == "csv" else _xlsx_bytes(export)
    return StreamingResponse(
        _closing(body),
        media_type=MIME_TYPES[grant.file_format],
        headers={
            "Content-Disposition": _attachment(f"{export.file_stem}.{grant.file_format}"),
            # Streamlit's server gzips every response the browser accepts gzip for;
            # Starlette's GZipMiddleware passes a response that names its encoding.
            "Content-Encoding": "identity",
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


ROUTES = [Route(EXPORT_PATH, download, methods=["GET"])]
