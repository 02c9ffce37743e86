"""The dashboard as served: Streamlit's app (dashboard/streamlit_app.py) plus the routes
that set and drop the sign-in cookie (dashboard/session_routes.py) and the one that streams
exports (dashboard/downloads.py).

Started with ``streamlit run dashboard/desk_app.py`` (``linkpay-desk run`` and
``linkpay-desk dashboard`` do that): ``streamlit run`` finds ``app`` here and serves it, with
the same command-line options and ``.streamlit/config.toml`` as a plain script.

Why routes: a page script runs over Streamlit's websocket and has no HTTP response to set a
cookie on, and a cookie written by JavaScript cannot be HttpOnly. Reading the cookie needs
no route: ``st.context.cookies`` holds those the browser sent with the websocket.
"""

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st

from dashboard import downloads, session_routes
from dashboard.warm_up import warm_up


@asynccontextmanager
async def _warm_up_in_background(_app: st.App) -> AsyncIterator[None]:
    # A thread, so the server listens at once; see dashboard/warm_up.py.
    threading.Thread(target=warm_up, name="dashboard-warm-up", daemon=True).start()
    yield


app = st.App(
    Path(__file__).resolve().parent / "streamlit_app.py",
    routes=[*session_routes.ROUTES, *downloads.ROUTES],
    lifespan=_warm_up_in_background,
)
