"""What the dashboard does once when its server starts, so the first visitor does not.

The first session after a start used to pay for importing the pages' modules (pandas,
altair, the models), opening the database and the Overview's report queries: 3.4 s to the
login form against 1.5 s for everyone after. The server runs ``warm_up`` in a thread at
start-up (dashboard/desk_app.py): it answers requests meanwhile, and a visitor who comes
during the warm-up shares its imports (Python's import lock) and its figures.
"""

import logging
from datetime import timedelta

logger = logging.getLogger(__name__)


def warm_up() -> None:
    """Imports what the pages use and fills the Overview's report figures. A failure (no
    database yet, say) is logged and left for the first visitor to meet with its message."""
    try:
        import altair  # noqa: F401 - imported for its import time
        import pandas  # noqa: F401

        from dashboard import customer_statement, data, invoice_editor, payment_forms  # noqa: F401
        from shared.company import company_settings, local_today
        from shared.db import read_session

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
    except Exception:
        # logger.log rather than .warning: a log line for the operator, in English, which
        # the check for untranslated page texts would otherwise take for a page's warning.
        logger.log(
            logging.WARNING,
            "warming the dashboard up failed; the first visit will be slower",
            exc_info=True,
        )
