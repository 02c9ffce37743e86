"""The export route: a signed, short-lived link plus the same sign-in's cookie streams the
file the page's table holds, byte for byte as the generic export writes it, on both
backends; anything less (altered or expired link, no cookie, another user's cookie, a
role without "export") gets a short page with a 4xx status and no file."""

import io
import time
from dataclasses import replace
from datetime import date

import openpyxl
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from dashboard import downloads
from shared import exports
from shared.audit import SYSTEM_ACTOR
from shared.db import write_session
from shared.download_links import DownloadGrant, sign_grant
from shared.login_sessions import COOKIE_NAME, redeem_ticket, start_session
from shared.models import Role, User, utcnow
from shared.users import PERMISSIONS, create_user
from shared.views.invoices import INVOICE_COLUMNS, InvoiceFilter, invoice_csv_chunks, invoice_rows
from tests.dashboard.test_exports import tricky_invoices  # noqa: F401 - a fixture

TODAY = date(2026, 5, 20)


def _signed_in(role: str, username: str) -> tuple[int, int, str]:
    """(user id, login session id, cookie) of a new sign-in of a new ``role`` user."""
    now = utcnow()
    with write_session() as session:
        user_id = create_user(
            session, actor=SYSTEM_ACTOR, username=username, password="correct-pass-1", role=role
        ).id
        started = start_session(session, user_id=user_id, now=now)
    with write_session() as session:
        cookie = redeem_ticket(session, ticket=started.ticket, now=now)
    return user_id, started.session_id, cookie


def _prepared(*, fast: bool) -> str:
    flt = InvoiceFilter()
    export = downloads.PreparedExport(
        key="invoices_export",
        file_stem="invoices",
        columns=INVOICE_COLUMNS,
        rows=lambda: invoice_rows(flt, today=TODAY),
        csv_chunks=(lambda: invoice_csv_chunks(flt, today=TODAY)) if fast else None,
    )
    return downloads.prepare(
        export, tab=f"tab-{fast}", expires_at=time.time() + 600, now=time.time()
    )


def _grant(export_id: str, user_id: int, session_id: int, file_format: str = "csv"):
    return DownloadGrant(
        export_id=export_id,
        export_key="invoices_export",
        file_format=file_format,
        language="en",
        user_id=user_id,
        login_session_id=session_id,
        expires_at=int(time.time()) + 600,
    )


def _get(grant_or_token, cookie: str | None):
    token = grant_or_token if isinstance(grant_or_token, str) else sign_grant(grant_or_token)
    client = TestClient(Starlette(routes=downloads.ROUTES), base_url="http://desk.test")
    if cookie is not None:
        client.cookies.set(COOKIE_NAME, cookie)
    return client.get(
        downloads.EXPORT_PATH, params={"token": token}, headers={"accept-encoding": "gzip"}
    )


def _generic_csv() -> bytes:
    with exports.csv_file(INVOICE_COLUMNS, invoice_rows(InvoiceFilter(), today=TODAY)) as f:
        return f.read()


@pytest.mark.parametrize("fast", [True, False], ids=["database-csv", "row-stream"])
def test_the_link_streams_the_same_bytes_as_the_generic_file(tricky_invoices, fast):  # noqa: F811
    user_id, session_id, cookie = _signed_in("finance", "ilze")
    response = _get(_grant(_prepared(fast=fast), user_id, session_id), cookie)
    assert response.status_code == 200
    assert response.content == _generic_csv()
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="invoices.csv"')
    assert response.headers.get("content-encoding", "identity") == "identity"


def test_the_xlsx_link_streams_the_workbook_of_the_same_rows(tricky_invoices):  # noqa: F811
    user_id, session_id, cookie = _signed_in("finance", "ilze")
    response = _get(_grant(_prepared(fast=True), user_id, session_id, "xlsx"), cookie)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="invoices.xlsx"'
    )
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    target = io.BytesIO()
    exports.write_xlsx(target, INVOICE_COLUMNS, invoice_rows(InvoiceFilter(), today=TODAY))
    expected = openpyxl.load_workbook(io.BytesIO(target.getvalue())).active
    cells = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert cells == [[cell.value for cell in row] for row in expected.iter_rows()]
    assert len(cells) > 10


def test_an_altered_made_up_or_expired_link_is_refused(tricky_invoices):  # noqa: F811
    user_id, session_id, cookie = _signed_in("finance", "ilze")
    grant = _grant(_prepared(fast=True), user_id, session_id)
    token = sign_grant(grant)
    payload, _, signature = token.partition(".")
    forged_payload = sign_grant(replace(grant, user_id=user_id + 1)).partition(".")[0]
    for bad in (f"{forged_payload}.{signature}", f"{payload}.{signature[:-2]}xx", "", "abc"):
        refused = _get(bad, cookie)
        assert refused.status_code == 403, bad
        assert "not valid" in refused.text and "Traceback" not in refused.text
    expired = _get(replace(grant, expires_at=int(time.time()) - 1), cookie)
    assert expired.status_code == 410 and "expired" in expired.text
    assert _get(grant, cookie).status_code == 200


def test_the_link_alone_or_with_anyone_elses_cookie_downloads_nothing(tricky_invoices):  # noqa: F811
    user_id, session_id, cookie = _signed_in("finance", "ilze")
    _other_id, _other_session, other_cookie = _signed_in("finance", "janis")
    _same_id, _second_session, second_cookie = _signed_in("manager", "anna")
    grant = _grant(_prepared(fast=True), user_id, session_id)
    for wrong in (None, "", other_cookie, second_cookie, cookie + "x"):
        refused = _get(grant, wrong)
        assert refused.status_code == 403, wrong
        assert "invoices" not in refused.headers.get("content-disposition", "")
        assert "signed-in user" in refused.text
    assert _get(grant, cookie).status_code == 200


def test_a_role_without_export_or_a_closed_account_gets_nothing(tricky_invoices, monkeypatch):  # noqa: F811
    user_id, session_id, cookie = _signed_in("manager", "ieva")
    grant = _grant(_prepared(fast=True), user_id, session_id)
    assert _get(grant, cookie).status_code == 200
    # Every role may export today; the route asks the role's permissions all the same.
    monkeypatch.setitem(PERMISSIONS, Role.MANAGER, frozenset({"view"}))
    assert _get(grant, cookie).status_code == 403

    user_id, session_id, cookie = _signed_in("finance", "ilze")
    grant = _grant(_prepared(fast=True), user_id, session_id)
    assert _get(grant, cookie).status_code == 200
    with write_session() as session:
        session.get(User, user_id).active = False
    assert _get(grant, cookie).status_code == 403


def test_a_link_of_a_page_run_since_replaced_is_gone(tricky_invoices):  # noqa: F811
    user_id, session_id, cookie = _signed_in("finance", "ilze")
    first = _prepared(fast=True)
    _prepared(fast=True)  # the tab's next run of the page
    gone = _get(_grant(first, user_id, session_id), cookie)
    assert gone.status_code == 410 and "Reload the page" in gone.text
