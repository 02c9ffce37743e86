"""LinkPay Desk dashboard: the router and the sign-in gate.

Served by dashboard/desk_app.py (``streamlit run dashboard/desk_app.py``), which adds the
routes that set the sign-in cookie. Someone not signed in gets the login page and nothing
else, at whatever address they opened, so a link keeps its page and query until after the
login; the pages a signed-in user sees depend on their role, and every page checks the role
again itself. ``?invoice=<number or id>`` and ``?customer=<id or reg. no.>`` on any page
open that invoice or customer.
"""

from pathlib import Path

import streamlit as st

from dashboard import preload, streamlit_words, ui
from dashboard.i18n import t

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"

# An emoji, not a ":material/...:" icon: Streamlit fetches a Material page icon from a public
# font CDN as the favicon (an offline or strict-CSP install shows it broken, and every visit
# is announced), while an emoji becomes an inline image. The navigation's Material icons
# are drawn with the font Streamlit bundles, and are not used as the favicon once this is set.
st.set_page_config(page_title="LinkPay Desk", page_icon="💳", layout="wide")


def _page(name: str, title: str, icon: str, *, default: bool = False) -> st.Page:
    return st.Page(PAGES_DIR / f"{name}.py", title=title, icon=icon, url_path=name, default=default)


# Query parameters that name a record, and the page that shows it.
DEEP_LINKS = {"invoice": "invoice_detail", "customer": "customers"}
FOLLOWED_LINK_KEY = "followed_link"
PAGE_NAMES = (
    "overview",
    "bank_accounts",
    "bank_statements",
    "customers",
    "invoices",
    "invoice_detail",
    "outbox",
    "payments",
    "callbacks",
    "exceptions",
    "reports",
    "company",
    "users",
    "audit_log",
)

user = ui.session_user()
ui.use_language(user)
streamlit_words.add_style_sheet()
if user is None:
    navigation = st.navigation(
        [
            _page("login", t("Log in"), ":material/login:", default=True),
            *(
                st.Page(PAGES_DIR / "login.py", title=t("Log in"), url_path=name)
                for name in PAGE_NAMES
            ),
        ],
        position="hidden",
    )
else:
    invoicing = [
        _page("customers", t("Customers"), ":material/groups:"),
        _page("invoices", t("Invoices"), ":material/receipt_long:"),
        _page("invoice_detail", t("Invoice detail"), ":material/description:"),
        _page("outbox", t("Outbox"), ":material/outbox:"),
    ]
    settings = [
        _page("company", t("Company"), ":material/business:"),
        _page("numbering", t("Numbering"), ":material/format_list_numbered:"),
    ]
    if user.can("users"):
        settings.append(_page("users", t("Users"), ":material/manage_accounts:"))
    if user.can("audit"):
        settings.append(_page("audit_log", t("Audit log"), ":material/history:"))
    navigation = st.navigation(
        {
            t("Overview"): [_page("overview", t("Overview"), ":material/dashboard:", default=True)],
            t("Money"): [
                _page("bank_accounts", t("Bank accounts"), ":material/account_balance:"),
                _page("bank_statements", t("Bank statements"), ":material/receipt:"),
            ],
            t("Invoicing"): invoicing,
            t("Payments"): [
                _page("payments", t("Payments"), ":material/credit_card:"),
                _page("callbacks", t("Callbacks"), ":material/call_received:"),
                _page("exceptions", t("Exceptions"), ":material/report:"),
            ],
            t("Reports"): [_page("reports", t("Reports"), ":material/bar_chart:")],
            t("Settings"): settings,
        },
        # Every page one click away: by default Streamlit folds a menu of more than
        # twelve pages behind "View more", which hid Reports and Settings.
        expanded=True,
    )
    with st.sidebar:
        st.caption(
            t("Signed in as **{username}** ({role})", username=user.username, role=t(user.role))
        )
        ui.language_picker(user)
        if st.button(t("Log out"), key="logout", icon=":material/logout:"):
            ui.log_out()
            st.rerun()
        preload.preload_widget_code()
    # A link is followed once: the user may go on to another page from where it led.
    link = next(((p, st.query_params[p]) for p in DEEP_LINKS if p in st.query_params), None)
    if link is not None and st.session_state.get(FOLLOWED_LINK_KEY) != link:
        st.session_state[FOLLOWED_LINK_KEY] = link
        linked = DEEP_LINKS[link[0]]
        if navigation.url_path != linked:
            st.switch_page(
                st.Page(PAGES_DIR / f"{linked}.py", url_path=linked),
                query_params=st.query_params.to_dict(),
            )

ui.hand_over_cookie()
navigation.run()
