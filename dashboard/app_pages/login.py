"""Log in. Wrong passwords count towards a lockout; every attempt is audited."""

import streamlit as st

from dashboard import preload, ui
from dashboard.i18n import t
from shared.db import write_session
from shared.users import authenticate

st.title("LinkPay Desk")
ui.language_picker(None)
reason = ui.logout_reason()
if reason:
    st.info(reason)

with st.form("login", border=True):
    username = st.text_input(t("Username"), key="login_username", autocomplete="username")
    password = st.text_input(
        t("Password"), type="password", key="login_password", autocomplete="current-password"
    )
    submitted = st.form_submit_button(t("Log in"), type="primary", key="login_submit")

if submitted:
    # Not a ui.page_action: nobody is signed in to hold a permission yet, and a wrong
    # password is no error to roll back, it must be committed to count towards the lockout.
    with write_session() as session:
        result = authenticate(session, username=username, password=password)
    if result.ok and result.user_id is not None:
        ui.sign_in(result.user_id)
        st.rerun()
    st.error(t(result.message, **result.message_values))

# The browser is idle while the user types: the signed-in pages' code is fetched meanwhile.
preload.preload_widget_code()
