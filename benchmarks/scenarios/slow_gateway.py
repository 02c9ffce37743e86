"""Scenario 6 — slow gateway: payers settle invoices at 25/s (as in scenario 2) while the
sandbox's API answers every lookup after 3 s (its ``api_delay_seconds`` fault switch).
Each payment needs one lookup, so keeping up with 20/s takes about 60 lookups in flight;
the offered rate is above the target so that the verified rate shows the capacity, not
the load. Measured: verifications per second in the steady part of the run against the
offered rate, the unpaid backlog when the payers stop, and callback→paid.

Verifications are counted from the moment each invoice is seen paid (DB poll every
20 ms). The rate is taken over the middle 80 % of them, which leaves out the start (nothing
is verified before the first answers come back) and the end (the backlog draining after
the payers stop): it is the offered rate when the service keeps up, its capacity when not.
"""

import asyncio
import time
from dataclasses import dataclass

import httpx

from benchmarks.common import (
    VAR_DIR,
    BenchDatabase,
    Figure,
    Results,
    percentile,
    use_database,
)
from benchmarks.explain import start_profile, summarise_profile
from benchmarks.scenarios.paid import (
    PaidPoller,
    _first_callback_sent,
    _pay_all,
    issue_invoices,
)
from benchmarks.stack import Stack

SCENARIO = "6 slow gateway"
TARGET_PER_SECOND = 20.0
STEADY = (0.1, 0.9)
DRAIN_SECONDS = 60.0
POLL_SECONDS = 0.02


@dataclass(frozen=True)
class SlowSettings:
    rate: float = 25.0
    seconds: float = 45.0
    api_delay: float = 3.0


async def _run(
    stack: Stack, poller: PaidPoller, links: list, settings: SlowSettings
) -> tuple[dict[int, str], float, float, int]:
    """Pays at the offered rate while polling; returns the references, when paying
    started and ended (wall clock), and how many were unpaid when it ended."""
    stop = asyncio.Event()

    async def poll() -> None:
        deadline = time.monotonic() + settings.seconds + DRAIN_SECONDS
        while time.monotonic() < deadline and (poller.waiting or not stop.is_set()):
            await asyncio.to_thread(poller.poll)
            await asyncio.sleep(POLL_SECONDS)

    polling = asyncio.create_task(poll())
    started = time.time()
    references = await _pay_all(stack, links, settings.rate)
    ended = time.time()
    await asyncio.to_thread(poller.poll)
    unpaid_at_end = len(poller.waiting)
    stop.set()
    await polling
    return references, started, ended, unpaid_at_end


def _set_api_delay(stack: Stack, seconds: float) -> None:
    httpx.post(
        f"{stack.sandbox_url}/sandbox/faults", json={"api_delay_seconds": seconds}, timeout=60
    ).raise_for_status()


def run(db: BenchDatabase, stack: Stack, results: Results, settings: SlowSettings) -> None:
    use_database(db)
    links = issue_invoices(int(settings.rate * settings.seconds), stack.channel_id)
    poller = PaidPoller(db, [invoice_id for invoice_id, _ in links])
    _set_api_delay(stack, settings.api_delay)
    profile_path = VAR_DIR / "profile-slow-gateway.raw"
    profiler = start_profile(stack.callback_pid, settings.seconds, profile_path)
    try:
        references, started, ended, unpaid_at_end = asyncio.run(
            _run(stack, poller, links, settings)
        )
    finally:
        _set_api_delay(stack, 0.0)
        poller.close()
    if profiler is not None and profiler.wait() == 0 and profile_path.exists():
        results.findings.append(
            f"### {SCENARIO}: where the callback service's time goes (py-spy)\n\n"
            f"{summarise_profile(profile_path)}\n"
        )
    paid_at = poller.seen_paid
    times = sorted(paid_at.values())
    first, last = (int(len(times) * share) for share in STEADY)
    steady_seconds = times[last] - times[first] if last > first else 0.0
    per_second = (last - first) / steady_seconds if steady_seconds else 0.0
    offered = len(links) / (ended - started)
    label = f"at {offered:.1f} payments/s offered, API {settings.api_delay:.0f} s"
    results.add(
        Figure(
            SCENARIO,
            f"verified/s {label}",
            per_second,
            "/s",
            target=f"≥ {TARGET_PER_SECOND:.0f}/s",
            met=per_second >= TARGET_PER_SECOND,
            note=f"{last - first} verified in {steady_seconds:.0f} s, the middle 80 %",
        )
    )
    sent = _first_callback_sent(stack, references)
    latencies = [(paid_at[i] - sent[i]) * 1000 for i in references if i in sent and i in paid_at]
    results.add(
        Figure(
            SCENARIO,
            f"callback→paid p99 {label}",
            percentile(latencies, 99),
            "ms",
            note=f"p50 {percentile(latencies, 50) or 0:.0f} ms; "
            f"{len(paid_at)}/{len(links)} paid within {DRAIN_SECONDS:.0f} s after the last",
        )
    )
    results.add(
        Figure(
            SCENARIO,
            f"unpaid when the payers stop {label}",
            unpaid_at_end,
            "invoices",
            note=f"≈ {unpaid_at_end / max(per_second, 0.1):.0f} s of backlog at the verified rate",
        )
    )
