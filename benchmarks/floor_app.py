"""The browser benchmark's floor: the least a Streamlit dashboard page can cost here.

Two pages, each a heading, a 50-row table and a chart, started with the dashboard's own
server flags and ``.streamlit/config.toml``. A dashboard figure divided by this one, measured
in the same browser in the same run, is the part of a click that is LinkPay Desk's own.
With ``?floor=sign-in`` it shows only a bare sign-in form (heading, two fields, a button):
the floor for the first load of the dashboard's login form.

Usage: ``streamlit run benchmarks/floor_app.py`` (the browser scenario starts it itself).
"""

import pandas as pd
import streamlit as st

ROWS = 50


def _table(seed: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Number": [f"INV-2026-{seed * ROWS + n:04d}" for n in range(ROWS)],
            "Customer": [f"Customer {n % 7}" for n in range(ROWS)],
            "Total": [round(100 + (n * 37 + seed) % 900 + 0.25, 2) for n in range(ROWS)],
        }
    )


def _page(title: str, seed: int) -> None:
    st.header(title)
    table = _table(seed)
    st.dataframe(table, hide_index=True)
    st.bar_chart(table, x="Customer", y="Total")


def first() -> None:
    _page("Floor one", 1)


def second() -> None:
    _page("Floor two", 2)


def sign_in_form() -> None:
    st.header("Sign in")
    with st.form("sign-in"):
        st.text_input("Username")
        st.text_input("Password", type="password")
        st.form_submit_button("Log in")


st.set_page_config(page_title="Floor", layout="wide")
if st.query_params.get("floor") == "sign-in":
    sign_in_form()
    st.stop()
st.navigation(
    [
        st.Page(first, title="Floor one", url_path="one", default=True),
        st.Page(second, title="Floor two", url_path="two"),
    ]
).run()
