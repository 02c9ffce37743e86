"""Scenario 1 — callback intake: a sustained 200 callbacks/s, then maximum throughput, from
a load generator in its own process; the baseline is a bare FastAPI endpoint under the same
uvicorn settings, measured the same way in the same run.

The callbacks carry fresh random payment references: intake records them all, and the
workers (on, as in production) ask the sandbox, which answers 404, so they end up as
"not ours" — real work for the worker threads sharing the process with intake.
"""

import json
import subprocess
import time
from dataclasses import dataclass

import httpx

from benchmarks.common import VAR_DIR, BenchDatabase, Figure, Results, child, free_port, python
from benchmarks.explain import start_profile, summarise_profile
from benchmarks.stack import Stack

SCENARIO = "1 intake"
TARGET_P99_MS = 50.0
TARGET_THROUGHPUT_RATIO = 0.5
DRAIN_WINDOW_SECONDS = 15.0


@dataclass(frozen=True)
class IntakeSettings:
    rate: float = 200.0
    sustained_seconds: float = 60.0
    max_seconds: float = 20.0
    concurrency: int = 32


def callback_query(path: str) -> str:
    return f"{path}?payment_reference={{ref}}&order_reference=BENCH-{{i}}&event_name=status_updated"


def load(port: int, path: str, *, rate: float = 0.0, duration: float, concurrency: int) -> dict:
    args = ["-m", "benchmarks.loadgen", "--port", str(port), "--path", path]
    args += ["--duration", str(duration)]
    args += ["--rate", str(rate)] if rate else ["--concurrency", str(concurrency)]
    finished = subprocess.run(
        python(*args), capture_output=True, text=True, check=True, timeout=duration + 120
    )
    return json.loads(finished.stdout)


def _backlog(stack: Stack) -> int | None:
    try:
        return httpx.get(f"{stack.callback_base}/health", timeout=10).json().get("backlog")
    except (httpx.HTTPError, ValueError):
        return None


def _processing_rate(stack: Stack) -> float | None:
    """Callbacks/s the workers get through while the backlog is not empty (nothing else is
    arriving, so this is their own speed on this database)."""
    first = _backlog(stack)
    time.sleep(DRAIN_WINDOW_SECONDS)
    second = _backlog(stack)
    if first is None or second is None or second == 0:
        return None  # drained before the window ended: too small a backlog to tell
    return (first - second) / DRAIN_WINDOW_SECONDS


def _intake_without_workers(stack: Stack, settings: IntakeSettings) -> dict:
    """Diagnostic: the same service and transaction with nothing for the workers to do.
    An unknown Callback URL token is looked up in intake's transaction and answered 404
    (counted, not stored), so no worker ever picks one up."""
    unknown = stack.callback_path.rsplit("/", 1)[0] + "/not-a-channel-token"
    return load(
        stack.callback_port,
        callback_query(unknown),
        duration=settings.max_seconds,
        concurrency=settings.concurrency,
    )


def _bare_baseline(db: BenchDatabase, settings: IntakeSettings, path: str) -> tuple[dict, dict]:
    port = free_port()
    with child(
        "bare-endpoint",
        python("-m", "benchmarks.bare_app", "--port", str(port)),
        env=db.env(LINKPAY_LOG_LEVEL="INFO"),
        health_url=f"http://127.0.0.1:{port}/callbacks/linkpay/warmup",
    ):
        sustained = load(
            port,
            callback_query(path),
            rate=settings.rate,
            duration=min(settings.sustained_seconds, 20.0),
            concurrency=settings.concurrency,
        )
        peak = load(
            port,
            callback_query(path),
            duration=settings.max_seconds,
            concurrency=settings.concurrency,
        )
    return sustained, peak


def _errors_note(run: dict) -> str:
    bad = {k: v for k, v in run["statuses"].items() if not k.startswith("2")}
    parts = [f"{run['ok']:,} acknowledged"]
    if bad or run["errors"]:
        parts.append(f"non-2xx {bad}, errors {run['errors']}")
    return "; ".join(parts)


@dataclass
class IntakeRuns:
    """Load-generator summaries of every phase, and the worker backlog between them."""

    bare_sustained: dict
    bare_peak: dict
    alone: dict
    backlog_before_alone: int | None
    sustained: dict
    backlog_after_sustained: int | None
    peak: dict
    backlog_after_peak: int | None
    processing: float | None


def _profiled_sustained(stack: Stack, results: Results, settings: IntakeSettings) -> dict:
    profile_path = VAR_DIR / "profile-intake.raw"
    profiler = start_profile(stack.callback_pid, settings.sustained_seconds, profile_path)
    sustained = load(
        stack.callback_port,
        callback_query(stack.callback_path),
        rate=settings.rate,
        duration=settings.sustained_seconds,
        concurrency=settings.concurrency,
    )
    if profiler is not None and profiler.wait() == 0 and profile_path.exists():
        results.findings.append(
            f"### {SCENARIO}: where the callback service's time goes at {settings.rate:.0f}/s "
            f"(py-spy)\n\n{summarise_profile(profile_path)}\n"
        )
    return sustained


def measure(
    db: BenchDatabase, stack: Stack, results: Results, settings: IntakeSettings
) -> IntakeRuns:
    # Baselines first, while the callback service is idle: its workers must not compete.
    bare_sustained, bare_peak = _bare_baseline(db, settings, stack.callback_path)
    backlog_before_alone = _backlog(stack)
    alone = _intake_without_workers(stack, settings)
    sustained = _profiled_sustained(stack, results, settings)
    backlog_after_sustained = _backlog(stack)
    peak = load(
        stack.callback_port,
        callback_query(stack.callback_path),
        duration=settings.max_seconds,
        concurrency=settings.concurrency,
    )
    backlog_after_peak = _backlog(stack)
    return IntakeRuns(
        bare_sustained=bare_sustained,
        bare_peak=bare_peak,
        alone=alone,
        backlog_before_alone=backlog_before_alone,
        sustained=sustained,
        backlog_after_sustained=backlog_after_sustained,
        peak=peak,
        backlog_after_peak=backlog_after_peak,
        processing=_processing_rate(stack),
    )


def _report_sustained(runs: IntakeRuns, results: Results, settings: IntakeSettings) -> None:
    sustained, bare = runs.sustained, runs.bare_sustained
    label = f"{settings.rate:.0f}/s for {settings.sustained_seconds:.0f} s"
    results.add(
        Figure(SCENARIO, f"ack p50 at {label}", sustained["p50_ms"], "ms",
               baseline=bare["p50_ms"], note=_errors_note(sustained))
    )  # fmt: skip
    p99 = sustained["p99_ms"]
    results.add(
        Figure(
            SCENARIO,
            f"ack p99 at {label}",
            p99,
            "ms",
            baseline=bare["p99_ms"],
            target=f"≤ {TARGET_P99_MS:.0f} ms",
            met=p99 is not None and p99 <= TARGET_P99_MS and sustained["ok"] > 0,
            note=f"worker backlog afterwards {runs.backlog_after_sustained}",
        )
    )


def _report_throughput(runs: IntakeRuns, results: Results, settings: IntakeSettings) -> None:
    peak, bare = runs.peak, runs.bare_peak["throughput_per_s"]
    results.add(
        Figure(
            SCENARIO,
            f"max intake throughput ({settings.concurrency} connections)",
            peak["throughput_per_s"],
            "req/s",
            baseline=bare,
            target=f"≥ {TARGET_THROUGHPUT_RATIO}× bare endpoint",
            met=bool(bare) and peak["throughput_per_s"] / bare >= TARGET_THROUGHPUT_RATIO,
            note=f"{_errors_note(peak)}; p99 {peak['p99_ms']:.0f} ms; worker backlog "
            f"afterwards {runs.backlog_after_peak}",
        )
    )
    alone = runs.alone
    results.add(
        Figure(
            SCENARIO,
            "diagnostic: max intake throughput with idle workers (unknown token, 404)",
            alone["completed"] / alone["elapsed_s"] if alone["elapsed_s"] else None,
            "req/s",
            baseline=bare,
            note=f"p99 {alone['p99_ms'] or 0:.0f} ms; each request is recorded (intake's "
            f"write is paid) but never processed; worker backlog at the start "
            f"{runs.backlog_before_alone}",
        )
    )
    results.add(
        Figure(
            SCENARIO,
            "worker processing rate, backlog of unknown references",
            runs.processing,
            "callbacks/s",
            note=f"measured over {DRAIN_WINDOW_SECONDS:.0f} s after the load stopped ('–': "
            "drained sooner); each costs an API call (sandbox answers 404) and a write",
        )
    )


def run(db: BenchDatabase, stack: Stack, results: Results, settings: IntakeSettings) -> None:
    runs = measure(db, stack, results, settings)
    _report_sustained(runs, results, settings)
    _report_throughput(runs, results, settings)
