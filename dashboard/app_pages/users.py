"""Settings → Users (admin): who may sign in, with which role."""

import streamlit as st

from dashboard import data, ui
from shared.models import Role
from shared.user_admin import set_user_active
from shared.users import MIN_PASSWORD_LENGTH, create_user

FORM = "user_form"
ROLE_HELP = "admin: everything · finance: set-up, invoices, exceptions · manager: view and export"

user = ui.require("users")
st.title("Users")

ui.show_flash()

table = data.user_table(tz=ui.tz())
ui.show_table(table, key="users_table", empty="No users yet.")

st.subheader("Create user")
with st.form(FORM, clear_on_submit=False):
    left, right = st.columns(2)
    username = left.text_input("Username", key="new_username")
    ui.field_error(FORM, "username")
    full_name = right.text_input("Full name", key="new_full_name")
    role = st.radio(
        "Role", [r.value for r in Role], horizontal=True, key="new_role", help=ROLE_HELP
    )
    ui.field_error(FORM, "role")
    password = st.text_input(
        "Password",
        type="password",
        key="new_password",
        help=f"At least {MIN_PASSWORD_LENGTH} characters; tell it to the user privately.",
    )
    ui.field_error(FORM, "password")
    ui.form_errors(FORM, ("username", "role", "password"))
    submitted = st.form_submit_button("Create user", type="primary", key="new_user_submit")
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
        success=f"User {username.strip().lower()} created.",
    )

if table.ids:
    st.subheader("Deactivate or reactivate")
    rows = dict(zip(table.ids, table.rows, strict=True))
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    chosen = pick.selectbox(
        "User",
        list(rows),
        format_func=lambda i: f"{rows[i].username} ({rows[i].role}, active: {rows[i].active})",
        key="user_pick",
    )
    active = rows[chosen].active == "yes"
    if go.button("Deactivate" if active else "Reactivate", key="user_toggle"):
        ui.page_action(
            lambda session: set_user_active(
                session, actor=user.username, user_id=chosen, active=not active
            ),
            permission="users",
            action="user.deactivate" if active else "user.activate",
            success=f"User {rows[chosen].username} {'deactivated' if active else 'reactivated'}.",
        )
