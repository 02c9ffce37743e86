"""Settings → Users (admin): who may sign in, with which role."""

import streamlit as st

from dashboard import data, ui
from dashboard.i18n import t
from shared.models import Role
from shared.user_admin import set_user_active
from shared.users import MIN_PASSWORD_LENGTH, create_user

FORM = "user_form"
ROLE_HELP = "admin: everything · finance: set-up, invoices, exceptions · manager: view and export"

user = ui.require("users")
st.title(t("Users"))

ui.show_flash()

table = data.user_table(tz=ui.tz())
# Roles and "yes"/"no" are words the reader reads, shown in their language.
ui.show_table(table, key="users_table", empty=t("No users yet."), label_columns=("Role", "Active"))

st.subheader(t("Create user"))
with st.form(FORM, clear_on_submit=False):
    left, right = st.columns(2)
    username = left.text_input(t("Username"), key="new_username")
    ui.field_error(FORM, "username")
    full_name = right.text_input(t("Full name"), key="new_full_name")
    role = st.radio(
        t("Role"),
        [r.value for r in Role],
        format_func=t,
        horizontal=True,
        key="new_role",
        help=t(ROLE_HELP),
    )
    ui.field_error(FORM, "role")
    password = st.text_input(
        t("Password"),
        type="password",
        key="new_password",
        help=t(
            "At least {count} characters; tell it to the user privately.",
            count=MIN_PASSWORD_LENGTH,
        ),
    )
    ui.field_error(FORM, "password")
    ui.form_errors(FORM, ("username", "role", "password"))
    submitted = st.form_submit_button(t("Create user"), type="primary", key="new_user_submit")
if submitted:
    ui.page_action(
        lambda session: create_user(
            session,
            actor=user.username,
            username=username,
            password=password,
            role=role,
            full_name=full_name,
        ),
        permission="users",
        action="user.create",
        form=FORM,
        # The password must not stay in the widget for the next page view.
        then=lambda _: st.session_state.pop("new_password"),
        success=t("User {username} created.", username=username.strip().lower()),
    )

if table.ids:
    st.subheader(t("Deactivate or reactivate"))
    rows = dict(zip(table.ids, table.rows, strict=True))
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    chosen = pick.selectbox(
        t("User"),
        list(rows),
        format_func=lambda i: t(
            "{username} ({role}, active: {active})",
            username=rows[i].username,
            role=t(rows[i].role),
            active=t(rows[i].active),
        ),
        key="user_pick",
    )
    active = rows[chosen].active == "yes"
    if go.button(t("Deactivate") if active else t("Reactivate"), key="user_toggle"):
        ui.page_action(
            lambda session: set_user_active(
                session, actor=user.username, user_id=chosen, active=not active
            ),
            permission="users",
            action="user.deactivate" if active else "user.activate",
            success=t("User {username} deactivated.", username=rows[chosen].username)
            if active
            else t("User {username} reactivated.", username=rows[chosen].username),
        )
