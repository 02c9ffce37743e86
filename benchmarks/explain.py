"""Finding out why: the SQL a product function runs with its query plans, and a py-spy
profile of a running process summarised by where its time goes."""

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event

from shared.db import get_engine

PRODUCT_PACKAGES = ("shared/", "callback_service/", "dashboard/")
SKIP = ("PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def captured_sql(call: Callable[[], Any]) -> list[tuple[str, Any]]:
    """Every statement (with its parameters) the call sends to the product's engine."""
    engine = get_engine()
    statements: list[tuple[str, Any]] = []

    def record(_conn, _cursor, statement, parameters, _context, _executemany) -> None:
        if not statement.lstrip().upper().startswith(SKIP):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        result = call()
        if hasattr(result, "__next__"):  # a streaming generator runs when consumed
            next(result, None)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return statements


def query_plan(statement: str, parameters: Any) -> list[str]:
    """EXPLAIN QUERY PLAN on SQLite; EXPLAIN ANALYZE (real timings) on PostgreSQL."""
    engine = get_engine()
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return [row[3] for row in rows]
        rows = connection.exec_driver_sql(f"EXPLAIN ANALYZE {statement}", parameters)
        return [row[0] for row in rows]


def explain(call: Callable[[], Any]) -> str:
    """Markdown: each statement of the call, then its plan."""
    parts = []
    for statement, parameters in captured_sql(call):
        plan = "\n".join(query_plan(statement, parameters))
        parts.append(
            f"```sql\n{statement.strip()}\n-- parameters: {parameters}\n```\n```\n{plan}\n```"
        )
    return "\n".join(parts)


# --- py-spy ------------------------------------------------------------------------------------


# Off with --no-profile: py-spy sampling a hundred threads 50 times a second took ~0.2 of
# one of two cores in the measured phase (callback → paid), CPU the product then lacked.
PROFILING = {"on": True}


def start_profile(pid: int, seconds: float, target: Path) -> subprocess.Popen | None:
    """py-spy sampling ``pid`` and its child processes (the callback service's background
    worker process) for ``seconds`` into collapsed stacks, or None without py-spy (or
    with profiling turned off)."""
    spy = shutil.which("py-spy") or shutil.which(str(Path(sys.executable).parent / "py-spy"))
    if spy is None or not PROFILING["on"]:
        return None
    return subprocess.Popen(
        [spy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "50", "--nonblocking",
         "--subprocesses", "--format", "raw", "-o", str(target)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _ours(frame: str) -> bool:
    """py-spy names a frame "function (path:line)", the path relative when it can."""
    _, _, where = frame.partition(" (")
    return where.startswith(PRODUCT_PACKAGES) or any(f"/{p}" in where for p in PRODUCT_PACKAGES)


def summarise_profile(path: Path, *, top: int = 12) -> str:
    """Markdown: the leaf functions taking most samples, and the product call paths to them."""
    leaves: Counter = Counter()
    paths: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        samples = int(count)
        total += samples
        leaves[frames[-1]] += samples
        product = [f.split(" (")[0] for f in frames if _ours(f)]
        paths[(" → ".join(product[-3:]) or "(outside the product)", frames[-1])] += samples
    if not total:
        return "(no samples)"
    lines = [f"{total:,} samples. Leaf functions:", ""]
    lines += [f"- {100 * n / total:.0f} % `{leaf}`" for leaf, n in leaves.most_common(top)]
    lines += ["", "Product call paths to them:", ""]
    lines += [
        f"- {100 * n / total:.0f} % {product} ⇒ `{leaf.split(' (')[0]}`"
        for (product, leaf), n in paths.most_common(top)
    ]
    return "\n".join(lines)
