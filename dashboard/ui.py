"""What every page shares: the signed-in user and permission checks, page actions (one
unit of work each, their messages), cached reads, tables with paging and exports, money
formatting and form error messages.

Only plain values live in ``st.session_state`` (ids, strings, numbers), never a Session or
an ORM object: a rerun may happen in another thread, long after any session closed.
"""

import dataclasses
import html
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal, NoReturn, TypeVar

import pandas as pd
import streamlit as st
from sqlmodel import select
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard import data, downloads
from dashboard.i18n import (
    ENGLISH,
    LANGUAGE_NAMES,
    amount_formatter,
    error_text,
    language,
    money_text,
    number_text,
    set_language,
    t,
    table_date_format,
    text_in,
)
from dashboard.session_routes import SESSION_END_PATH, SESSION_START_PATH
from shared import exports
from shared.audit import record_audit
from shared.company import CompanySettings, company_settings, local_today
from shared.db import read_session, write_session
from shared.download_links import LINK_MINUTES, DownloadGrant, sign_grant
from shared.errors import ValidationError
from shared.exports import Column, Table
from shared.login_sessions import (
    COOKIE_NAME,
    TOUCH_EVERY_SECONDS,
    at_time,
    check_session,
    end_session,
    session_of_cookie,
    start_session,
    touch_session,
)
from shared.models import User
from shared.states import badge_colours_by_label
from shared.users import can, set_user_language
from shared.views.common import PAGE_SIZES

AUTH_KEY = "auth"
TICKET_KEY = "session_ticket"
GO_TO_KEY = "go_to"
LOGOUT_REASON_KEY = "logout_reason"
BACKGROUND_RERUN_KEY = "background_rerun"
ERRORS_KEY = "form_errors"
FLASH_KEY = "flash"
PAGE = "page"

T = TypeVar("T")

# Cells and badges show a state's label; its colour is set with the state in shared.states.
STATUS_COLORS = badge_colours_by_label()
_CELL_COLORS = {
    "gray": "#eef0f3",
    "blue": "#e3efff",
    "orange": "#fff1dc",
    "green": "#e2f6e7",
    "red": "#fde4e4",
    "violet": "#efe6ff",
}


@dataclass(frozen=True)
class SessionUser:
    user_id: int
    username: str
    role: str
    # The dashboard language the user chose; None: the company's.
    language: str | None = None

    def can(self, permission: str) -> bool:
        return can(self.role, permission)


# --- Signing in and out ------------------------------------------------------------------


def _load_user(user_id: int) -> SessionUser | None:
    with read_session() as session:
        user = session.exec(select(User).where(User.id == user_id)).first()
        if user is None or not user.active:
            return None
        return SessionUser(
            user_id=user.id, username=user.username, role=user.role, language=user.language
        )


# Seconds since the epoch, the clock of session ages; tests run the app on one they control.
clock: Callable[[], float] = time.time


def new_session(user_id: int) -> dict[str, Any]:
    """Signs ``user_id`` in (a ``LoginSession`` row) and returns what ``st.session_state``
    keeps about it: which session, whose, when last active; and the one-time ``ticket`` the
    browser exchanges for its cookie."""
    now = clock()
    with write_session() as session:
        started = start_session(session, user_id=user_id, now=at_time(now))
    return {
        "session_id": started.session_id,
        "user_id": user_id,
        "last_active": now,
        "touched_at": now,
        "ticket": started.ticket,
    }


def sign_in(user_id: int) -> None:
    auth = new_session(user_id)
    st.session_state[TICKET_KEY] = auth.pop("ticket")
    st.session_state[AUTH_KEY] = auth
    st.session_state.pop(LOGOUT_REASON_KEY, None)


def sign_out(*, reason: str = "", reason_values: dict[str, object] | None = None) -> None:
    """Ends the session in every tab of the browser; the cookie then names no session."""
    auth = st.session_state.pop(AUTH_KEY, None)
    if auth:
        user = _load_user(auth["user_id"]) if auth["user_id"] is not None else None
        with write_session() as session:
            end_session(session, session_id=auth["session_id"])
            record_audit(
                session,
                actor=user.username if user else "?",
                action="logout",
                details={"reason": reason or "logout button"},
            )
    if reason:
        # English with its values; the login page shows it in the reader's language.
        st.session_state[LOGOUT_REASON_KEY] = (reason, reason_values or {})


def logout_reason() -> str:
    """Why the user was signed out, in their language; "" after the logout button."""
    stored = st.session_state.get(LOGOUT_REASON_KEY)
    if not stored:
        return ""
    reason, values = stored
    return t(reason, **values)


def log_out() -> None:
    """The logout button: ends the session and has the browser drop its cookie."""
    sign_out()
    st.session_state[GO_TO_KEY] = SESSION_END_PATH


def browser_cookie() -> str | None:
    """The sign-in cookie the browser sent when it opened this tab."""
    return st.context.cookies.get(COOKIE_NAME)


def _auth_from_cookie() -> dict[str, Any] | None:
    """A new tab, or a reload: the session the browser's cookie names, if any."""
    cookie = browser_cookie()
    if not cookie:
        return None
    with read_session() as session:
        session_id = session_of_cookie(session, cookie=cookie)
    if session_id is None:
        return None
    return {"session_id": session_id, "user_id": None, "last_active": 0.0, "touched_at": 0.0}


def session_user(*, touch: bool = True) -> SessionUser | None:
    """The signed-in user, read afresh from the database so a role change, a deactivation
    or a logout in another tab takes effect at the next click. Ends a session idle for too
    long, and any session older than its lifetime, however active.

    ``touch``: this run is the user's own activity and restarts the idle time. A rerun
    the app asked for itself (``background_rerun``) never is, so a page left open on a
    live table or a paying invoice still times out."""
    # The mark is read by the run's first check, the router's, the one that touches.
    users_own_run = touch and not st.session_state.pop(BACKGROUND_RERUN_KEY, False)
    auth = st.session_state.get(AUTH_KEY)
    if not auth:
        auth = _auth_from_cookie()
        if auth is None:
            return None
        st.session_state[AUTH_KEY] = auth
    now = clock()
    with read_session() as session:
        check = check_session(
            session,
            session_id=auth["session_id"],
            now=at_time(now),
            active_at=at_time(auth["last_active"]),
        )
    auth["user_id"] = check.user_id
    if check.ending:
        sign_out(reason=check.ending, reason_values=check.ending_values)
        return None
    if users_own_run:
        auth["last_active"] = now
        # Other tabs of the browser learn of this click from the row, written once a minute.
        if now - auth["touched_at"] >= TOUCH_EVERY_SECONDS:
            with write_session() as session:
                touch_session(session, session_id=auth["session_id"], now=at_time(now))
            auth["touched_at"] = now
    return SessionUser(
        user_id=check.user_id, username=check.username, role=check.role, language=check.language
    )


def hand_over_cookie() -> None:
    """Right after the login form: has the browser exchange its one-time ticket for the
    session cookie in the background, so a reload or a new tab finds the user signed in
    while this tab goes on where it is (a deep link opened while signed out shows its page
    with the login's rerun). After the logout button: has the browser drop the cookie and
    open the login form. Streamlit cannot set a cookie over its websocket; the routes in
    dashboard/desk_app.py do. A POST, so the ticket stays out of access logs and history."""
    ticket = st.session_state.pop(TICKET_KEY, None)
    if ticket is not None:
        # A fetch, not a form: a form's answer reloads the page, and the whole app started
        # again in the browser right after signing in (a second or more before the first
        # click was answered).
        st.html(
            f"""<script>
            fetch({json.dumps(SESSION_START_PATH)}, {{
                method: "POST",
                body: new URLSearchParams({json.dumps({"ticket": ticket})}),
                credentials: "same-origin",
            }});
            </script>""",
            unsafe_allow_javascript=True,
        )
        return
    action = st.session_state.pop(GO_TO_KEY, None)
    if action is None:
        return
    st.html(
        f"""<script>
        const form = document.createElement("form");
        form.method = "post";
        form.action = {json.dumps(action)};
        document.body.appendChild(form);
        form.submit();
        </script>""",
        unsafe_allow_javascript=True,
    )


def background_rerun() -> NoReturn:
    """Reruns the whole app for a reason of its own (a payment arrived on the open page):
    not the user's activity, so it does not extend the session."""
    st.session_state[BACKGROUND_RERUN_KEY] = True
    st.rerun(scope="app")


def follow_session() -> None:
    """For a fragment that reruns on a timer: such a run checks the session without
    extending it, and once the session has ended replaces the page with the login form."""
    if session_user(touch=False) is None:
        st.rerun(scope="app")


def require(permission: str = "view") -> SessionUser:
    """Stops the page unless the signed-in user holds ``permission``."""
    user = session_user(touch=False)
    if user is None:
        st.warning(t("Please log in."))
        st.stop()
    if not user.can(permission):
        st.error(t("Your role does not give access to this page."))
        st.stop()
    return user


def guard(permission: str, *, action: str) -> SessionUser | None:
    """Re-checks, at the moment of the action, that the user may do it.

    Pages hide controls a role may not use, but the handler must not trust that: the
    role may have changed since the page was drawn. A refusal is audited and shown.
    """
    user = session_user(touch=False)
    if user is not None and user.can(permission):
        return user
    with write_session() as session:
        record_audit(
            session,
            actor=user.username if user else "?",
            action=action,
            outcome="refused",
            details={"permission": permission, "role": user.role if user else None},
        )
    st.error(t("Your role does not allow this action."))
    return None


# --- The user's language --------------------------------------------------------------------

# The language picked on the login page, before anyone is signed in.
LOGIN_LANGUAGE_KEY = "login_language"


def use_language(user: SessionUser | None) -> None:
    """Sets this run's language: the user's choice, else the one picked on the login page,
    else the company's default."""
    chosen = user.language if user is not None else None
    set_language(chosen or st.session_state.get(LOGIN_LANGUAGE_KEY) or company().ui_language)


def choose_language(user: SessionUser) -> None:
    """Keeps the language the user picked in the sidebar as theirs, for every device."""
    with write_session() as session:
        set_user_language(session, user_id=user.user_id, language=st.session_state["my_language"])
    st.session_state.pop(LOGIN_LANGUAGE_KEY, None)


def language_picker(user: SessionUser | None) -> None:
    """The language switch: in the sidebar for a signed-in user, on the login page before."""
    names = LANGUAGE_NAMES
    if user is None:
        st.segmented_control(
            t("Language"),
            list(names),
            format_func=names.__getitem__,
            default=language(),
            key=LOGIN_LANGUAGE_KEY,
            label_visibility="collapsed",
        )
        return
    st.session_state["my_language"] = language()
    st.selectbox(
        t("Language"),
        list(names),
        format_func=names.__getitem__,
        key="my_language",
        on_change=choose_language,
        args=(user,),
    )


# --- Company, time and money ---------------------------------------------------------------


@st.cache_data(ttl=60, show_spinner=False)
def company() -> CompanySettings:
    with read_session() as session:
        return company_settings(session)


def tz() -> str:
    return company().timezone


def today() -> date:
    return local_today(tz())


def money(amount: Decimal | None, currency: str) -> str:
    """An amount the way the user's language writes it."""
    return money_text(amount, currency)


def after_write() -> None:
    """Cached reads may now be stale; the next rerun reads the database again."""
    data.clear_caches()


# --- Page actions and their messages -------------------------------------------------------


@dataclass(frozen=True)
class Flash:
    """A message about what an action did, shown once."""

    message: str
    kind: Literal["success", "info", "warning", "error"] = "success"
    icon: str | None = None


def flash(message: str | Flash, *, at: str = PAGE) -> None:
    """Keeps ``message`` for the next run, where ``show_flash(at)`` shows it: the rerun after
    a write redraws the page from fresh data, and the message must survive it. One message
    at a time; ``at`` names the place on the page that shows it (the top by default)."""
    shown = Flash(message) if isinstance(message, str) else message
    st.session_state[FLASH_KEY] = (at, shown.kind, shown.message, shown.icon)


def has_flash(at: str = PAGE) -> bool:
    stored = st.session_state.get(FLASH_KEY)
    return stored is not None and stored[0] == at


def show_flash(at: str = PAGE) -> None:
    """Shows, once, the message an action of the previous run kept for this place."""
    if has_flash(at):
        _, kind, message, icon = st.session_state.pop(FLASH_KEY)
        _show(Flash(message, kind, icon))


def _show(message: Flash) -> None:
    getattr(st, message.kind)(message.message, icon=message.icon)


def page_action(
    run: Callable[..., T],
    *,
    permission: str,
    action: str,
    success: str | Callable[[T], str | Flash] | None = None,
    form: str | None = None,
    then: Callable[[T], object] | None = None,
    on_error: Callable[[ValidationError], object] | None = None,
    flash_at: str = PAGE,
    rerun: bool | Callable[[T], bool] = True,
    own_transaction: bool = False,
) -> bool:
    """Does one thing a person asked for on a page; True once it is done.

    1. Checks ``permission`` again at the moment of the action (``guard``, which audits
       a refusal as ``action``).
    2. Owns the unit of work: opens one ``write_session()``, calls ``run(session)`` and
       commits; a ``ValidationError`` rolls all of it back. With ``own_transaction`` the
       helper opens none and calls ``run()``: for a shared function without a
       ``session`` parameter, which opens its own (see ``shared.db``).
    3. A ``ValidationError`` is shown next to its field (``form``: the message goes to
       ``error.field``, or to the whole form, and the page reruns to draw it), else where
       the action was called, or by ``on_error``.
    4. Once committed: clears the form's errors and the cached reads, calls
       ``then(result)`` for what the page resets, and shows ``success`` (a text, or one
       made from the result): kept for ``show_flash(flash_at)`` in the rerun that follows,
       or, without a rerun, shown at once.

    The domain functions audit what they do; this helper adds no audit row of its own.
    """
    if guard(permission, action=action) is None:
        return False
    try:
        if own_transaction:
            result = run()
        else:
            with write_session() as session:
                result = run(session)
    except ValidationError as error:
        if on_error is not None:
            on_error(error)
        elif form is not None:
            set_errors(form, {error.field or "form": error_text(error)})
            st.rerun()
        else:
            st.error(error_text(error))
        return False
    if form is not None:
        clear_errors(form)
    after_write()
    if then is not None:
        then(result)
    message = success(result) if callable(success) else success
    rerunning = rerun(result) if callable(rerun) else rerun
    if message:
        shown = Flash(message) if isinstance(message, str) else message
        if rerunning:
            flash(shown, at=flash_at)
        else:
            _show(shown)
    if rerunning:
        st.rerun()
    return True


# --- Sections drawn on demand ----------------------------------------------------------------


@contextmanager
def lazy_expander(label: str, *, key: str, icon: str | None = None) -> Iterator[bool]:
    """An expander whose content is made only while it is open; yields whether it is.

    A closed expander's content is otherwise made, sent and laid out by the browser on every
    run of the page, unseen: a form or a table in one slowed down every visit of Payments,
    Callbacks and Invoices. Opening it reruns the page, and it stays open, with what was
    typed, until the user leaves the page.
    """
    with st.expander(label, key=key, icon=icon, on_change="rerun") as section:
        yield bool(section.open)


# --- Form errors next to their fields --------------------------------------------------------


def set_errors(form: str, errors: dict[str, str]) -> None:
    st.session_state.setdefault(ERRORS_KEY, {})[form] = errors


def clear_errors(form: str) -> None:
    st.session_state.setdefault(ERRORS_KEY, {}).pop(form, None)


def field_error(form: str, field: str) -> None:
    message = st.session_state.get(ERRORS_KEY, {}).get(form, {}).get(field)
    if message:
        st.error(message, icon=":material/error:")


def form_errors(form: str, fields: Iterable[str]) -> None:
    """Errors of fields the form does not show one by one (e.g. the whole form)."""
    known = set(fields)
    for field, message in st.session_state.get(ERRORS_KEY, {}).get(form, {}).items():
        if field not in known:
            st.error(message, icon=":material/error:")


# --- Tables, paging, exports ----------------------------------------------------------------


def frame(table: Table) -> pd.DataFrame:
    """The table's rows under its column labels, in the user's language."""
    return pd.DataFrame(list(table.rows), columns=[t(label) for label in table.labels])


def _column_config(columns: Sequence[Column]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    day = table_date_format()
    for column in columns:
        label = t(column.label)
        if column.kind == "money" and language() == ENGLISH:
            config[label] = st.column_config.NumberColumn(label, format="%.2f")
        elif column.kind == "datetime":
            config[label] = st.column_config.DatetimeColumn(label, format=f"{day} HH:mm")
        elif column.kind == "date":
            config[label] = st.column_config.DateColumn(label, format=day)
    return config


def _translated_cell(value: Any) -> Any:
    return t(value) if isinstance(value, str) and value else value


def _badge_style(value: Any) -> str:
    color = STATUS_COLORS.get(str(value))
    return f"background-color: {_CELL_COLORS[color]}" if color else ""


def show_table(
    table: Table,
    *,
    key: str,
    empty: str,
    badge_columns: Sequence[str] = (),
    label_columns: Sequence[str] = (),
    clickable: bool = False,
) -> int | None:
    """The table, or ``empty`` when it has no rows. ``badge_columns`` hold a state's label,
    shown as a coloured badge; they and ``label_columns`` hold English labels (a kind, a
    method), shown in the user's language. ``clickable``: a click on a row selects it, and
    the row's position in ``table.rows`` is returned (None while none is)."""
    if not table.rows:
        st.info(empty)
        return None
    data: Any = frame(table)
    for label in (*badge_columns, *label_columns):
        if label in table.labels:
            data[t(label)] = data[t(label)].map(_translated_cell)
    badges = [t(label) for label in badge_columns if label in table.labels]
    amounts = [t(column.label) for column in table.columns if column.kind == "money"]
    localised = language() != ENGLISH and amounts
    if badges or localised:
        data = data.style
    if badges:
        data = data.map(_badge_style, subset=badges)
    if localised:
        # Streamlit's number formats know only the decimal point; the styler's text is shown
        # while the column still sorts by the number.
        data = data.format(amount_formatter(), subset=amounts, na_rep="")
    shown = st.dataframe(
        data,
        key=key,
        hide_index=True,
        width="stretch",
        column_config=_column_config(table.columns),
        on_select="rerun" if clickable else "ignore",
        selection_mode="single-row",
    )
    rows = shown.selection.rows if clickable else []
    return rows[0] if rows else None


def filter_from_url(key: str, param: str, parse: Callable[[str], Any] = str) -> None:
    """Before the widget ``key``: a list filter given in the address (``?param=...``, from
    a link a colleague sent) fills the widget when the page opens. A value ``parse``
    refuses (ValueError, KeyError) is ignored."""
    raw = st.query_params.get(param)
    if raw is None or key in st.session_state:
        return
    try:
        st.session_state[key] = parse(raw)
    except (ValueError, KeyError):
        return


def filter_to_url(param: str, value: str) -> None:
    """Keeps a list filter in the address, so a reload or a copied link shows the same list."""
    if value:
        st.query_params[param] = value
    else:
        st.query_params.pop(param, None)


def paging(key: str, signature: object) -> tuple[int, int]:
    """(offset, limit) for a paged list; a new filter starts again at the first page."""
    state = st.session_state.setdefault(f"{key}_paging", {"offset": 0, "signature": None})
    if state["signature"] != repr(signature):
        state.update(offset=0, signature=repr(signature))
    limit = st.session_state.get(f"{key}_size", PAGE_SIZES[1])
    return state["offset"], limit


def pager(key: str, table: Table) -> None:
    """ "Rows X–Y of N" with previous / next buttons, a page number to jump to and the page
    size: page 5,000 of a million invoices is one entry away, not 5,000 clicks."""
    state = st.session_state[f"{key}_paging"]
    limit = st.session_state.get(f"{key}_size", PAGE_SIZES[1])
    pages = max(-(-table.total // limit), 1)
    box = f"{key}_page_number"
    # The box shows the page on screen, also after Previous / Next or a new filter moved it.
    st.session_state[box] = min(table.offset // limit + 1, pages)

    # Callbacks, run before the page's next run: that one run shows the new rows (a button's
    # True followed by st.rerun() made every page turn two runs of the whole page).
    def jump() -> None:
        state["offset"] = (min(st.session_state[box], pages) - 1) * limit

    def back() -> None:
        state["offset"] = max(table.offset - limit, 0)

    def forward() -> None:
        state["offset"] = table.offset + limit

    left, previous, number, following, size = st.columns(
        [2, 1, 1, 1, 1], vertical_alignment="bottom"
    )
    if table.total:
        left.caption(
            t(
                "Rows {first}–{last} of {total}",
                first=number_text(table.first_row_number),
                last=number_text(table.last_row_number),
                total=number_text(table.total),
            )
        )
    else:
        left.caption(t("No rows"))
    previous.button(t("Previous"), key=f"{key}_prev", disabled=table.offset <= 0, on_click=back)
    number.number_input(
        t("Page (of {pages})", pages=number_text(pages)),
        min_value=1,
        max_value=pages,
        step=1,
        key=box,
        on_change=jump,
    )
    following.button(
        t("Next"),
        key=f"{key}_next",
        disabled=table.last_row_number >= table.total,
        on_click=forward,
    )
    size.selectbox(t("Rows per page"), PAGE_SIZES, index=PAGE_SIZES.index(limit), key=f"{key}_size")


# A plain anchor with ``download``: the browser saves the file in the same tab, where
# st.link_button would open a new one.
_DOWNLOAD_LINK_STYLE = (
    "display:inline-block;padding:0.25rem 0.75rem;border:1px solid rgba(49,51,63,0.2);"
    "border-radius:0.5rem;color:inherit;text-decoration:none;line-height:1.6"
)


def _download_link(label: str, url: str) -> None:
    st.html(
        f'<a href="{html.escape(url)}" download style="{_DOWNLOAD_LINK_STYLE}">'
        f'<span aria-hidden="true">&#x2B73;</span> {html.escape(label)}</a>'
    )


def export_buttons(
    *,
    key: str,
    columns: Sequence[Column],
    rows: Callable[[], Iterable[Sequence[Any]]],
    total: int,
    file_stem: str,
    user: SessionUser,
    csv_chunks: Callable[[], Iterable[bytes]] | None = None,
    label_columns: Sequence[str] = (),
) -> None:
    """CSV and XLSX of exactly the columns shown and every row the filter matches.

    The buttons are links to the export route (dashboard/downloads.py), which makes the
    file when one is followed and streams it as it is made. ``csv_chunks`` makes the same
    CSV faster, where the database can format it. The files speak the user's language, as
    the table does: an accountant files them as they are. ``label_columns`` (as for
    ``show_table``, badge columns included) hold English labels, translated cell by cell;
    the database's own CSV cannot, so it serves English only.
    """
    if not user.can("export") or not total:
        return
    # Read now: the files are made later, by the route, outside this run.
    code = language()
    translated = [i for i, column in enumerate(columns) if column.label in label_columns]
    columns = [dataclasses.replace(column, label=t(column.label)) for column in columns]
    if code != ENGLISH and translated:
        csv_chunks = None
        source = rows

        def rows() -> Iterable[Sequence[Any]]:
            for row in source():
                cells = list(row)
                for index in translated:
                    if isinstance(cells[index], str) and cells[index]:
                        cells[index] = text_in(code, cells[index])
                yield cells

    # The route's clock: the wall clock, whatever clock the session ages run on.
    now = time.time()
    expires_at = int(now) + LINK_MINUTES * 60
    export_id = downloads.prepare(
        downloads.PreparedExport(
            key=key, file_stem=file_stem, columns=tuple(columns), rows=rows, csv_chunks=csv_chunks
        ),
        tab=get_script_run_ctx().session_id,
        expires_at=expires_at,
        now=now,
    )

    def link(file_format: str) -> str:
        token = sign_grant(
            DownloadGrant(
                export_id=export_id,
                export_key=key,
                file_format=file_format,
                language=code,
                user_id=user.user_id,
                login_session_id=st.session_state[AUTH_KEY]["session_id"],
                expires_at=expires_at,
            )
        )
        return f"{downloads.EXPORT_PATH}?token={token}"

    left, right = st.columns(2)
    with left.container(key=f"{key}_csv"):
        _download_link(t("Download CSV"), link("csv"))
    with right.container(key=f"{key}_xlsx"):
        _download_link(t("Download XLSX"), link("xlsx"))
    if exports.xlsx_is_capped(total):
        st.caption(
            t(
                "Excel holds at most {cap} rows: the XLSX file has the first {cap} of "
                "{total}. Download CSV to get every row.",
                cap=number_text(exports.EXCEL_MAX_DATA_ROWS),
                total=number_text(total),
            )
        )
