"""Background delivery of callback notifications, and the bank's delayed answer.

Callbacks live in the store, so the payer's request only writes a row and returns; this
loop sends them, retries on the configured schedule and picks up whatever was pending when
the server last stopped.
"""

import asyncio
import contextlib
import logging
import sqlite3
from datetime import datetime
from urllib.parse import urlsplit

from .callback_http import CallbackClient, CallbackHTTPError
from .service import Sandbox
from .store import CallbackJob, utcnow

log = logging.getLogger(__name__)

_IDLE_SECONDS = 1.0  # also notices work written by other processes (e.g. demo data)
_LEASE_SECONDS = 15.0  # longer than one delivery can take (connect and answer timeouts)


class CallbackDispatcher:
    """Create and run inside the server's event loop (the app's lifespan)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.store = sandbox.store
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._client = CallbackClient()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()

        def wake() -> None:
            # The payment paths run on this loop and set the event directly; the portal's
            # requests run in worker threads and may only touch it thread-safely.
            if _running_loop() is loop:
                self._wake.set()
            else:
                loop.call_soon_threadsafe(self._wake.set)

        self.sandbox.wake = wake
        try:
            while True:
                self._wake.clear()
                try:
                    await self._run_due_work()
                except sqlite3.Error:
                    # A busy or briefly unavailable store must not stop callbacks for good.
                    log.exception("callback dispatcher could not read the store; retrying")
                await self._sleep_until_due()
        finally:
            self.sandbox.wake = lambda: None
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._client.aclose()

    async def _run_due_work(self) -> None:
        # Store calls run on the event loop: each is tens of microseconds on the local file,
        # less than a hop to a worker thread and back.
        now = utcnow()
        self.store.settle_due_bank_payments(now)
        jobs = self.store.claim_due_callbacks(now, lease_seconds=_LEASE_SECONDS)
        for job in jobs:
            task = asyncio.create_task(self._deliver(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _sleep_until_due(self) -> None:
        try:
            wakeup = self.store.next_wakeup()
        except sqlite3.Error:
            wakeup = None
        timeout = _IDLE_SECONDS if wakeup is None else _seconds_until(wakeup)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=min(timeout, _IDLE_SECONDS))

    async def _deliver(self, job: CallbackJob) -> None:
        attempted_at = utcnow()
        status_code, error = await self._send(job.url)
        schedule = self.sandbox.callback_schedule
        retry_in = schedule[job.attempts] if job.attempts < len(schedule) else None
        try:
            self.store.record_delivery(
                job=job,
                attempted_at=attempted_at,
                status_code=status_code,
                error=error,
                retry_in=retry_in,
            )
        except sqlite3.Error:
            # The lease runs out and the callback is sent again: at least once, as EveryPay.
            log.exception("could not record callback %s attempt %s", job.id, job.attempts + 1)
            return
        if status_code is None or not 200 <= status_code < 300:
            self._wake.set()  # its retry may fall due before the loop would look again

    async def _send(self, url: str) -> tuple[int | None, str | None]:
        try:
            status_code = await self._client.get(url)
        except CallbackHTTPError as error:
            log.info("callback to %s failed: %s", _host(url), error.kind)
            return None, str(error)
        if not 200 <= status_code < 300:
            log.info("callback to %s answered %s", _host(url), status_code)
        return status_code, None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _host(url: str) -> str:
    # Callback URLs often carry the receiver's secret token; logs get the host only.
    return urlsplit(url).netloc or "(no host)"


def _seconds_until(moment: datetime) -> float:
    return max(0.0, (moment - utcnow()).total_seconds())
