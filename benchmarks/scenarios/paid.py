"""Scenario 2 — callback → paid: payers settle invoices in the sandbox at 50/s through the
invoices' real signed pay links; the sandbox calls the Callback URL, and the callback
service has to ask the API and book the payment. Measured per invoice: from the moment
the sandbox sent its first callback (its delivery log) to the moment the invoice is seen
paid in the database by a poller (every 20 ms, raw driver, so polling adds ≤ 20 ms).

The invoices are issued just before, through the product's own functions (create_draft,
issue_invoice), numbered after the years of generated ones.
"""

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise

import httpx
from sqlmodel import col, select

from benchmarks.common import (
    VAR_DIR,
    BenchDatabase,
    Figure,
    Results,
    cpu_seconds,
    load_average,
    percentile,
    process_tree_cpu,
    use_database,
)
from benchmarks.explain import start_profile, summarise_profile
from benchmarks.stack import Stack
from shared.audit import SYSTEM_ACTOR
from shared.db import read_session, write_session
from shared.invoicing import DraftInput, LineInput, create_draft, issue_invoice
from shared.linkpay.links import pay_link_for
from shared.models import CallbackEvent, Customer, PaymentChannel

SCENARIO = "2 callback→paid"
TARGET_P99_MS = 1000.0
POLL_SECONDS = 0.02
SETTLE_GRACE_SECONDS = 30.0


@dataclass(frozen=True)
class PaidSettings:
    rate: float = 50.0
    seconds: float = 20.0


def issue_invoices(count: int, channel_id: int) -> list[tuple[int, str]]:
    """(invoice id, pay link) of ``count`` new issued invoices on the channel."""
    links = []
    for start in range(0, count, 100):
        with write_session() as session:
            channel = session.get(PaymentChannel, channel_id)
            customers = session.exec(select(Customer).order_by(Customer.id).limit(100)).all()
            for k in range(start, min(start + 100, count)):
                customer = customers[k % len(customers)]
                invoice = create_draft(
                    session,
                    actor=SYSTEM_ACTOR,
                    data=DraftInput(
                        customer_id=customer.id,
                        channel_id=channel_id,
                        lines=[LineInput("Benchmark consulting", "2", f"{50 + k % 50}.25", "21")],
                    ),
                )
                invoice = issue_invoice(session, actor=SYSTEM_ACTOR, invoice_id=invoice.id)
                links.append(
                    (invoice.id, pay_link_for(channel=channel, invoice=invoice, customer=customer))
                )
    return links


class PaidPoller:
    """Which of the invoices the database shows as paid, and since when (wall clock)."""

    def __init__(self, db: BenchDatabase, invoice_ids: list[int]) -> None:
        self.db = db
        self.waiting = set(invoice_ids)
        self.seen_paid: dict[int, float] = {}
        if db.sqlite_path is not None:
            self.conn = sqlite3.connect(db.sqlite_path, check_same_thread=False)
            self.mark = "?"
        else:
            import psycopg

            self.conn = psycopg.connect(db.libpq_url, autocommit=True)
            self.mark = "%s"

    def poll(self) -> None:
        if not self.waiting:
            return
        ids = list(self.waiting)
        marks = ",".join([self.mark] * len(ids))
        rows = self.conn.execute(
            f"SELECT id FROM invoice WHERE status = 'paid' AND id IN ({marks})", ids
        ).fetchall()
        now = time.time()
        for (invoice_id,) in rows:
            self.seen_paid[invoice_id] = now
            self.waiting.discard(invoice_id)

    def close(self) -> None:
        self.conn.close()


async def _pay_all(stack: Stack, links: list[tuple[int, str]], rate: float) -> dict[int, str]:
    """invoice id → payment reference, paying at ``rate`` per second (open loop)."""
    references: dict[int, str] = {}
    async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=30) as client:

        async def pay(invoice_id: int, link: str) -> None:
            response = await client.post(
                "/sandbox/pay", json={"url": link, "outcome": "pay", "method": "card"}
            )
            response.raise_for_status()
            references[invoice_id] = response.json()["payment_reference"]

        start = time.perf_counter()
        tasks = []
        for number, (invoice_id, link) in enumerate(links):
            await asyncio.sleep(max(0.0, start + number / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(pay(invoice_id, link)))
        await asyncio.gather(*tasks)
    return references


async def _poll_until_done(poller: PaidPoller, stop: asyncio.Event, deadline: float) -> None:
    while time.monotonic() < deadline and (poller.waiting or not stop.is_set()):
        await asyncio.to_thread(poller.poll)
        await asyncio.sleep(POLL_SECONDS)


async def _run_payments(
    stack: Stack, poller: PaidPoller, links: list, settings: PaidSettings
) -> dict[int, str]:
    done = asyncio.Event()
    deadline = time.monotonic() + settings.seconds + SETTLE_GRACE_SECONDS
    polling = asyncio.create_task(_poll_until_done(poller, done, deadline))
    references = await _pay_all(stack, links, settings.rate)
    done.set()
    await polling
    return references


def _first_callback_sent(stack: Stack, references: dict[int, str]) -> dict[int, float]:
    sent = {}
    with httpx.Client(base_url=stack.sandbox_url, timeout=30) as client:
        for invoice_id, reference in references.items():
            deliveries = client.get(
                "/sandbox/deliveries", params={"payment_reference": reference}
            ).json()
            times = [
                datetime.fromisoformat(d["attempted_at"].replace("Z", "+00:00")).timestamp()
                for d in deliveries
                if d.get("attempted_at")
            ]
            if times:
                sent[invoice_id] = min(times)
    return sent


def _profiled_payments(
    stack: Stack, poller: PaidPoller, links: list, settings: PaidSettings, results: Results
) -> dict[int, str]:
    profile_path = VAR_DIR / "profile-paid.raw"
    profiler = start_profile(stack.callback_pid, settings.seconds, profile_path)
    references = asyncio.run(_run_payments(stack, poller, links, settings))
    if profiler is not None and profiler.wait() == 0 and profile_path.exists():
        results.findings.append(
            f"### {SCENARIO}: where the callback service's time goes (py-spy)\n\n"
            f"{summarise_profile(profile_path)}\n"
        )
    return references


def _report(
    latencies: list[float],
    paid: int,
    count: int,
    settings: PaidSettings,
    results: Results,
    *,
    load: str,
) -> None:
    note = f"{paid}/{count} invoices paid; load average when the payments ended {load}"
    if paid < count:
        note += (
            f"; {count - paid} not paid within {SETTLE_GRACE_SECONDS:.0f} s after the last payment"
        )
    label = f"at {settings.rate:.0f} payments/s for {settings.seconds:.0f} s"
    results.add(Figure(SCENARIO, f"callback→paid p50 {label}", percentile(latencies, 50), "ms"))
    p99 = percentile(latencies, 99)
    results.add(
        Figure(
            SCENARIO,
            f"callback→paid p99 {label}",
            p99,
            "ms",
            target=f"≤ {TARGET_P99_MS:.0f} ms",
            met=p99 is not None and p99 <= TARGET_P99_MS and paid == count,
            note=note,
        )
    )


# The per-callback times the callback service stores (intake, the claim, the close), in
# the order a callback passes them.
TIMES = ("received_at", "claimed_at", "answered_at", "processed_at")


def _service_times(references: dict[int, str]) -> dict[int, tuple[float | None, ...]]:
    """invoice id → (stored, claimed, EveryPay answered, booked), wall clock, of the
    callback that booked the payment (the first one claimed; its duplicates are closed
    with it)."""
    by_reference = {reference: invoice_id for invoice_id, reference in references.items()}
    found: dict[int, tuple[float | None, ...]] = {}
    chunk = list(by_reference)
    columns = [getattr(CallbackEvent, name) for name in TIMES]
    with read_session() as session:
        for start in range(0, len(chunk), 500):
            rows = session.exec(
                select(CallbackEvent.payment_reference, *columns)
                .where(col(CallbackEvent.payment_reference).in_(chunk[start : start + 500]))
                .where(col(CallbackEvent.claimed_at).is_not(None))
                .order_by(col(CallbackEvent.claimed_at))
            ).all()
            for reference, *times in rows:
                invoice_id = by_reference[reference]
                if invoice_id not in found:
                    found[invoice_id] = tuple(_seconds(t) for t in times)
    return found


def _seconds(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


STAGES = (
    ("sent→acked", "the sandbox's request until intake stored the callback"),
    ("acked→claimed", "waiting for a worker (queue and the claim's turn at the database)"),
    ("claimed→answered", "the EveryPay API call"),
    ("answered→booked", "the booking transaction (on SQLite queued for the answer writer)"),
    ("booked→seen paid", "the commit, and the poller's ≤ 20 ms"),
)


def _report_stages(
    sent: dict[int, float],
    service: dict[int, tuple[float | None, ...]],
    paid_at: dict[int, float],
    results: Results,
) -> None:
    """Where callback→paid goes, per callback: p50/p95/p99 of each step, and the median of
    each step among the slowest 1 % of callbacks (what the p99 is made of)."""
    rows: list[tuple[float, list[float]]] = []
    for invoice_id, times in service.items():
        if invoice_id not in sent or invoice_id not in paid_at or None in times:
            continue
        moments = [sent[invoice_id], *times, paid_at[invoice_id]]
        steps = [(b - a) * 1000 for a, b in pairwise(moments)]
        rows.append(((paid_at[invoice_id] - sent[invoice_id]) * 1000, steps))
    if not rows:
        return
    rows.sort(key=lambda row: row[0])
    slowest = rows[-max(1, len(rows) // 100) :]
    for index, (stage, meaning) in enumerate(STAGES):
        values = [steps[index] for _, steps in rows]
        tail = [steps[index] for _, steps in slowest]
        results.add(
            Figure(SCENARIO, f"stage {stage} p50", percentile(values, 50), "ms",
                   note=f"p95 {percentile(values, 95):.0f} ms, p99 {percentile(values, 99):.0f} ms;"
                   f" in the slowest 1 % ({len(slowest)}): median {percentile(tail, 50):.0f} ms;"
                   f" {meaning}; {len(values)} callbacks")
        )  # fmt: skip


def _report_cpu(
    stack: Stack,
    before: dict[int, float],
    after: dict[int, float],
    paid: int,
    results: Results,
) -> None:
    """The callback service's own CPU per paid payment, its processes apart: intake (the
    HTTP process) and the background process that claims, asks EveryPay and books. From
    the kernel's counters, so a busy neighbour does not inflate it as it does wall times."""
    if not paid:
        return
    # A process that started during the phase (a restarted background child) counts whole.
    used = {pid: seconds - before.get(pid, 0.0) for pid, seconds in after.items()}
    intake = used.pop(stack.callback_pid, 0.0)
    background = sum(used.values())
    total_ms = (intake + background) / paid * 1000
    note = (
        f"intake process {intake / paid * 1000:.1f} ms, background process "
        f"{background / paid * 1000:.1f} ms (utime+stime from /proc over the payment phase, "
        f"the acks of duplicate callbacks included); {paid} payments"
    )
    results.add(
        Figure(SCENARIO, "callback service CPU per paid payment", total_ms, "ms", note=note)
    )


def _report_sandbox_cpu(before: float, after: float, paid: int, results: Results) -> None:
    """The sandbox plays EveryPay, which in production runs elsewhere: its share here is
    demand the product would not have to share a core with."""
    if not paid:
        return
    used = after - before
    results.add(
        Figure(SCENARIO, "sandbox CPU per paid payment", used / paid * 1000, "ms",
               note=f"{used:.2f} s user+system over {paid} payments, children included;"
               " /proc/<pid>/stat")
    )  # fmt: skip


def run(db: BenchDatabase, stack: Stack, results: Results, settings: PaidSettings) -> None:
    use_database(db)
    links = issue_invoices(int(settings.rate * settings.seconds), stack.channel_id)
    poller = PaidPoller(db, [invoice_id for invoice_id, _ in links])
    cpu_before = process_tree_cpu(stack.callback_pid)
    sandbox_cpu_before = cpu_seconds(stack.sandbox_pid)
    try:
        references = _profiled_payments(stack, poller, links, settings, results)
        payments_load = load_average()
    finally:
        poller.close()
    _report_cpu(
        stack, cpu_before, process_tree_cpu(stack.callback_pid), len(poller.seen_paid), results
    )
    _report_sandbox_cpu(
        sandbox_cpu_before, cpu_seconds(stack.sandbox_pid), len(poller.seen_paid), results
    )
    sent = _first_callback_sent(stack, references)
    paid_at = poller.seen_paid
    latencies = [(paid_at[i] - sent[i]) * 1000 for i in references if i in sent and i in paid_at]
    _report(latencies, len(paid_at), len(links), settings, results, load=payments_load)
    _report_stages(sent, _service_times(references), paid_at, results)
