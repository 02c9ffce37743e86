"""The service's background work: callback worker threads and the periodic jobs."""

import logging
import threading
from collections.abc import Callable

from shared.callbacks.reconciler import reconcile_once
from shared.callbacks.worker import CallbackWorker
from shared.config import get_settings

log = logging.getLogger(__name__)

# Reminders wait a little after start-up: they are not urgent, and a service that is
# restarted in a loop should not hammer the mail server.
REMINDERS_FIRST_DELAY_SECONDS = 60.0


def send_reminders() -> None:
    # Imported here: reminders are another module's concern, and a failure to import it
    # must not stop callbacks from being processed.
    from shared.reminders import send_due_reminders

    result = send_due_reminders()
    log.info("reminders: %s", result)


class Background:
    def __init__(self) -> None:
        self.worker = CallbackWorker()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        settings = get_settings()
        self.worker.start()
        self._every("reconciler", reconcile_once, settings.reconcile_interval_seconds, first=0)
        self._every(
            "reminders",
            send_reminders,
            settings.reminder_interval_seconds,
            first=min(REMINDERS_FIRST_DELAY_SECONDS, settings.reminder_interval_seconds),
        )

    def stop(self) -> None:
        self._stop.set()
        self.worker.stop()
        for thread in self._threads:
            thread.join(timeout=5)

    def _every(
        self, name: str, job: Callable[[], object], interval: float, *, first: float
    ) -> None:
        def loop() -> None:
            if self._stop.wait(first):
                return
            while True:
                try:
                    job()
                except Exception:
                    log.exception("%s failed; next run in %s s", name, interval)
                if self._stop.wait(interval):
                    return

        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
