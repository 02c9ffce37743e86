"""What the dashboard does once when its server starts, so the first visitor does not.

The first session after a start used to pay for importing the pages' modules (pandas,
altair, the models), opening the database and the Overview's report queries: 3.4 s to the
login form against 1.5 s for everyone after. The server runs ``warm_up`` in a thread at
start-up (dashboard/desk_app.py): it answers requests meanwhile, and a visitor who comes
during the warm-up shares its imports (Python's import lock) and its figures.
"""

import ast
import gc
import importlib
import importlib.util
import logging
from datetime import timedelta
from pathlib import Path

logger = logging.getLogger(__name__)

PAGES_DIR = Path(__file__).resolve().parent / "app_pages"


def page_modules() -> list[str]:
    """Every module the page scripts import at their top (``from dashboard import ui`` counts
    ``dashboard.ui``): a page's first visit after a start otherwise imports its own (the bank
    statement parsers, the sending rules). Read from the scripts, so a new page or import is
    warmed without being listed here."""
    names = set()
    for path in PAGES_DIR.glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return sorted(name for name in names if _is_module(name))


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a name inside a module (a function, a class)
        return False


def warm_up() -> None:
    """Imports what the pages use, reads the dashboard's words in every language, fills the
    Overview's report figures and keeps all of it out of the garbage collector's way. A
    failure (no database yet, say) is logged and left for the first visitor to meet with
    its message."""
    try:
        for module in page_modules():
            importlib.import_module(module)

        from dashboard import data
        from dashboard.i18n import LANGUAGE_NAMES, catalogue
        from shared.company import company_settings, local_today
        from shared.db import read_session

        for language in LANGUAGE_NAMES:
            catalogue(language)
        with read_session() as session:
            timezone = company_settings(session).timezone
        today = local_today(timezone)
        data.kpis(today=today, tz=timezone)
        data.aging(today=today)
        data.received_per_period(
            date_from=today - timedelta(weeks=data.OVERVIEW_WEEKS),
            date_to=today,
            tz=timezone,
            granularity="week",
        )
        # Reports opens with the money received per month: its first visitor finds it ready.
        reports_from, reports_to = data.reports_default_period(today)
        data.received_per_period(
            date_from=reports_from, date_to=reports_to, tz=timezone, granularity="month"
        )
    except Exception:
        # logger.log rather than .warning: a log line for the operator, in English, which
        # the check for untranslated page texts would otherwise take for a page's warning.
        logger.log(
            logging.WARNING,
            "warming the dashboard up failed; the first visit will be slower",
            exc_info=True,
        )
    # What is loaded now stays for the life of the server: moved out of the collector's
    # sight, a full garbage collection no longer walks it. Streamlit's own collection
    # after each run is off (.streamlit/config.toml), so Python's runs when its counts
    # say, during some visitor's click: 140-170 ms over everything imported above, a
    # few ms over what was made since.
    gc.freeze()
