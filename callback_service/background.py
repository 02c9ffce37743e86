"""The service's background work: callback worker threads and the periodic jobs.

In production they run in a child process of the service (``BackgroundProcess``), not
beside the HTTP handlers: Python runs one thread at a time per process, and workers busy
with a backlog would otherwise take turns with the event loop that acknowledges
callbacks, so a burst would slow every answer to EveryPay. Intake wakes the child through
a pipe right after each commit, so callbacks are still applied within milliseconds.
"""

import contextlib
import ctypes
import logging
import logging.config
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

from callback_service.logging_config import log_config
from shared.callbacks.reconciler import reconcile_once
from shared.callbacks.retention import purge_old_callbacks
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
    """Worker threads and periodic jobs in this process."""

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
        self._every(
            "callback retention",
            purge_old_callbacks,
            settings.callback_retention_interval_seconds,
            first=0,
        )

    def stop(self) -> None:
        self._stop.set()
        self.worker.stop()
        for thread in self._threads:
            thread.join(timeout=5)

    def wake(self) -> None:
        self.worker.wake()

    @property
    def alive(self) -> bool:
        return self.worker.alive

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


# A crashed child is started again after this pause, so a child that cannot start (say,
# the database is unreachable at import) does not spin.
RESTART_DELAY_SECONDS = 1.0
STOP_TIMEOUT_SECONDS = 20.0
# Linux: the child gets SIGKILL when the service process dies, even by SIGKILL, so a
# crash of the service is a crash of its workers too (their leases then expire).
_PR_SET_PDEATHSIG = 1


class BackgroundProcess:
    """``Background`` in a child process (``python -m callback_service.background``),
    started again if it dies; its stdin is the wake-up pipe, and its end means stop."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._monitor: threading.Thread | None = None

    def start(self) -> None:
        self._spawn()
        self._monitor = threading.Thread(target=self._watch, name="background-monitor", daemon=True)
        self._monitor.start()

    def wake(self) -> None:
        process = self._process
        if process is None or process.stdin is None:
            return
        # Never blocks: a full pipe already holds wake-ups the child has not read yet,
        # and a dead child is being restarted by the monitor.
        with contextlib.suppress(OSError, ValueError):
            os.write(process.stdin.fileno(), b"w")

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()  # end of input: the child stops its threads and exits
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            log.error("background process did not stop in time; killing it")
            process.kill()
            process.wait(timeout=5)

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
                [sys.executable, "-m", "callback_service.background", str(os.getpid())],
                stdin=subprocess.PIPE,
            )
            assert process.stdin is not None
            os.set_blocking(process.stdin.fileno(), False)
            self._process = process

    def _watch(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            if process is not None and process.poll() is not None and not self._stopping.is_set():
                log.error(
                    "background process exited with %s; starting it again", process.returncode
                )
                if self._stopping.wait(RESTART_DELAY_SECONDS):
                    return
                self._spawn()
            self._stopping.wait(0.5)


def _die_with_parent(parent_pid: int) -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        sys.exit(0)  # the service died before the signal was armed


def main() -> None:
    settings = get_settings()
    logging.config.dictConfig(log_config(settings.log_level, settings.log_format))
    if len(sys.argv) > 1:
        _die_with_parent(int(sys.argv[1]))

    def stop_on_signal(_signum, _frame) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop_on_signal)
    # Below the service's own priority: when the cores are short, acknowledging EveryPay
    # (which retries what is not acknowledged in time) comes before working off a backlog.
    os.nice(settings.background_nice)
    background = Background()
    background.start()
    try:
        while os.read(sys.stdin.fileno(), 4096):
            background.wake()
    except KeyboardInterrupt:
        pass
    finally:
        background.stop()


if __name__ == "__main__":
    main()
