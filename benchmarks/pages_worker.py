"""Every dashboard page rendered with ``streamlit.testing.v1.AppTest`` as a signed-in admin,
in a process of its own: the time of each page's first (cold-cache) run, and this process's
resident memory after all of them — it runs the same page scripts, caches and queries as
the ``streamlit run`` server process would for one user. Prints a JSON summary.

Usage (environment as for the product): ``python -m benchmarks.pages_worker``
"""

import json
import os
import time

import streamlit as st
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from benchmarks.common import PROJECT_ROOT, rss_mb
from dashboard import ui
from shared.db import read_session
from shared.models import User

APP = PROJECT_ROOT / "dashboard" / "streamlit_app.py"
PAGES_DIR = PROJECT_ROOT / "dashboard" / "app_pages"
PAGE_TIMEOUT = 120
# The router's own order; pages that do not exist (yet) are skipped.
PAGE_ORDER = (
    "overview", "bank_accounts", "customers", "invoices", "invoice_detail", "outbox",
    "payments", "callbacks", "exceptions", "reports", "company", "users", "audit_log",
)  # fmt: skip


def _admin_id() -> int:
    with read_session() as session:
        user = session.exec(select(User).where(User.role == "admin").order_by(User.id)).first()
    if user is None:
        raise RuntimeError("no admin user in the benchmark database")
    return user.id


def _problems(at: AppTest) -> list[str]:
    return [str(e.value)[:200] for e in at.exception] + [str(e.value)[:200] for e in at.error]


def visit_all() -> dict:
    at = AppTest.from_file(str(APP), default_timeout=PAGE_TIMEOUT)
    at.session_state["auth"] = ui.new_session(_admin_id())
    at.run()
    pages = []
    for name in PAGE_ORDER:
        if not (PAGES_DIR / f"{name}.py").exists():
            continue
        # Cold caches: the page's queries run, as for the first visitor after the TTL.
        st.cache_data.clear()
        at.session_state["auth"]["last_active"] = time.time()
        started = time.perf_counter()
        at.switch_page(f"app_pages/{name}.py").run()
        seconds = time.perf_counter() - started
        pages.append({"page": name, "seconds": seconds, "problems": _problems(at)})
    current, peak = rss_mb(os.getpid())
    return {"pages": pages, "rss_mb": current, "peak_rss_mb": peak}


def main() -> None:
    print(json.dumps(visit_all()))


if __name__ == "__main__":
    main()
