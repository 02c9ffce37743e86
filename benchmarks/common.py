"""What every scenario shares: the database under test, child processes, timing, figures."""

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from shared.config import get_settings
from shared.db import dispose_engines
from shared.security import reset_key_cache

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
# Databases, keys, logs and export files: large and local, ignored by git ("var/").
VAR_DIR = BENCH_DIR / "var"
RESULTS_DIR = BENCH_DIR / "results"
TIMEZONE = "Europe/Riga"


@dataclass(frozen=True)
class BenchDatabase:
    url: str
    backend: str
    invoices: int
    data_dir: Path

    @property
    def sqlite_path(self) -> Path | None:
        if self.backend != "sqlite":
            return None
        return Path(make_url(self.url).database or "")

    @property
    def libpq_url(self) -> str:
        """The URL as psql and psycopg.connect want it (no SQLAlchemy driver suffix)."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(False)

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of a product process working on this database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LINKPAY_")}
        env.update(
            LINKPAY_DATA_DIR=str(self.data_dir),
            LINKPAY_DATABASE_URL=self.url,
            PYTHONPATH=str(PROJECT_ROOT),
        )
        env.update(extra)
        return env


def use_database(db: BenchDatabase) -> None:
    """Points this process's product code (settings, engine, secret key) at ``db``."""
    for key, value in db.env().items():
        if key.startswith("LINKPAY_"):
            os.environ[key] = value
    get_settings.cache_clear()
    dispose_engines()
    reset_key_cache()


# --- figures -------------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured number, its in-run baseline (when there is one) and its target."""

    scenario: str
    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline


@dataclass
class Results:
    meta: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        print(f"  {format_figure(figure)}", flush=True)
        return figure

    def as_json(self) -> str:
        figures = [{**asdict(f), "ratio": f.ratio} for f in self.figures]
        return json.dumps(
            {"meta": self.meta, "figures": figures, "findings": self.findings}, indent=2
        )


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit in ("ms", "s") and value < 10:
        return f"{value:.2f} {unit}"
    return f"{value:,.0f} {unit}" if abs(value) >= 10 else f"{value:.2f} {unit}"


def format_figure(f: Figure) -> str:
    verdict = {True: "met", False: "MISSED", None: ""}[f.met]
    ratio = f"×{f.ratio:.2f}" if f.ratio is not None else ""
    base = _number(f.baseline, f.unit) if f.baseline is not None else ""
    return (
        f"[{f.scenario}] {f.name}: {_number(f.value, f.unit)}"
        f"{f' (baseline {base}, {ratio})' if base else ''}"
        f"{f' target {f.target}: {verdict}' if f.target else ''}"
        f"{f' — {f.note}' if f.note else ''}"
    )


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def timed(call: Callable[[], Any], *, repeat: int = 3, warmup: int = 1) -> tuple[float, Any]:
    """Median wall time in ms over ``repeat`` runs after ``warmup`` runs; the last result."""
    result = None
    for _ in range(warmup):
        result = call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


# --- child processes -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(probe: Callable[[], Any], *, timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(interval)


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code < 500
    except httpx.HTTPError:
        return False


@contextmanager
def child(
    name: str, args: list[str], *, env: dict[str, str], health_url: str | None = None
) -> Iterator[subprocess.Popen]:
    """A child process with its output in ``var/logs/NAME.log``, stopped on exit."""
    logs = VAR_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(
            args, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            if health_url:
                wait_until(lambda: process.poll() is not None or _http_ok(health_url), timeout=60)
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited early; see {logs / f'{name}.log'}")
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


@contextmanager
def cpu_neighbour(enabled: bool) -> Iterator[None]:
    """A process burning one core for as long as the block runs, when ``enabled``: a
    production machine is shared too, and figures that hold only on an idle one are not
    the figures users get."""
    if not enabled:
        yield
        return
    with child("cpu-neighbour", python("-c", "while True: pass"), env=dict(os.environ)):
        yield


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as written beside each figure."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(child) for child in task.read_text().split()]
    return found


def process_tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) each process of the tree under ``pid`` has used so far,
    from /proc/<pid>/stat: a whole service, its background child included, whatever the
    wall clock of a shared machine does meanwhile."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[int, float] = {}
    waiting = [pid]
    while waiting:
        current = waiting.pop()
        try:
            # Fields after the command name (which may hold spaces) start at "state".
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            waiting += _children(current)
        except (OSError, IndexError):
            continue  # ended meanwhile
        used[current] = (int(fields[11]) + int(fields[12])) / ticks
    return used


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process and its living children have used so far."""
    return sum(process_tree_cpu(pid).values())


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process in MiB, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)
