"""Run every benchmark scenario on one database size and backend, print the figures with
their ratios to the in-run baselines, and write them to ``benchmarks/results/``.

    .venv/bin/python -m benchmarks.run --invoices 1000000 --backend sqlite
    .venv/bin/python -m benchmarks.run --backend postgresql --scenarios dashboard,export
    .venv/bin/python -m benchmarks.run --quick          # 20,000 invoices, short load phases
    .venv/bin/python -m benchmarks.run --scenarios bank # bank statement import and matching

The database is generated once per backend and size (``benchmarks/var/``) and reused by
later runs; ``--regenerate`` makes it anew. The HTTP scenarios add rows to it (callbacks,
a few hundred paid invoices), which is noise at any size worth measuring.
"""

import argparse
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from benchmarks import explain
from benchmarks.common import (
    RESULTS_DIR,
    VAR_DIR,
    BenchDatabase,
    Figure,
    Results,
    cpu_neighbour,
    format_figure,
)
from benchmarks.generate import generate
from shared.operations.migrate import upgrade_to_head

SCENARIOS = ("intake", "paid", "slow", "dashboard", "pages", "export", "bank", "browser")
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/linkpay_bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--invoices", type=int, default=20_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--scenarios", default=",".join(SCENARIOS), help=f"comma-separated: {','.join(SCENARIOS)}"
    )
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL, help="database is created/replaced")
    parser.add_argument("--regenerate", action="store_true", help="generate the data anew")
    parser.add_argument("--intake-seconds", type=float, default=60.0, help="sustained phase")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="max-throughput phase")
    parser.add_argument("--intake-rate", type=float, default=200.0)
    parser.add_argument("--paid-seconds", type=float, default=20.0)
    parser.add_argument("--paid-rate", type=float, default=50.0)
    parser.add_argument(
        "--cpu-neighbour",
        action="store_true",
        help="scenarios 1 and 2: run a process burning one core beside the product",
    )
    parser.add_argument("--slow-seconds", type=float, default=45.0, help="slow gateway phase")
    parser.add_argument("--slow-rate", type=float, default=25.0, help="payments/s offered")
    parser.add_argument("--api-delay", type=float, default=3.0, help="slow gateway's latency")
    parser.add_argument(
        "--worker-api-calls", type=int, default=0, help="service's WORKER_API_CALLS; 0: default"
    )
    parser.add_argument("--quick", action="store_true", help="short load phases (10/5/6/20 s)")
    parser.add_argument("--drop", action="store_true", help="drop the PostgreSQL db afterwards")
    parser.add_argument("--label", default="", help="suffix of the result files, e.g. what-if")
    parser.add_argument(
        "--no-profile",
        action="store_true",
        help="no py-spy profile during the load phases (it takes CPU the product then lacks)",
    )
    parser.add_argument(
        "--export-formats",
        default="csv,xlsx",
        help="scenario 4: comma-separated, csv,xlsx (an XLSX of 1 M rows takes minutes)",
    )
    parser.add_argument(
        "--export-repeats", type=int, default=1, help="scenario 4: browser downloads, best of N"
    )
    parser.add_argument(
        "--browser-languages", default="en", help="scenario 8: comma-separated, e.g. en,lv"
    )
    parser.add_argument(
        "--browser-framework-ab",
        action="store_true",
        help="scenario 8: also start the dashboard with runner.postScriptGC=true and "
        "server.fileWatcherType=auto (B), interleaved with the launcher's settings (A)",
    )
    parser.add_argument(
        "--browser-repeats", type=int, default=1, help="scenario 8: runs of each variant"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.intake_seconds, args.max_seconds, args.paid_seconds = 10.0, 5.0, 6.0
        args.slow_seconds = 20.0
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    return args


# --- the database --------------------------------------------------------------------------


def _database(args: argparse.Namespace) -> BenchDatabase:
    data_dir = VAR_DIR / "data"  # the secret key the channel's credentials are encrypted with
    if args.backend == "sqlite":
        url = f"sqlite:///{VAR_DIR / f'bench-sqlite-{args.invoices}.db'}"
    else:
        url = args.pg_url
    return BenchDatabase(url=url, backend=args.backend, invoices=args.invoices, data_dir=data_dir)


def _pg_admin(db: BenchDatabase):
    import psycopg

    admin = make_url(db.libpq_url).set(database="postgres").render_as_string(False)
    return psycopg.connect(admin, autocommit=True), make_url(db.url).database


def _reset_database(db: BenchDatabase) -> None:
    if db.sqlite_path is not None:
        for path in db.sqlite_path.parent.glob(f"{db.sqlite_path.name}*"):
            path.unlink()
        return
    conn, name = _pg_admin(db)
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_postgres(db: BenchDatabase) -> None:
    conn, name = _pg_admin(db)
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(db: BenchDatabase, *, regenerate: bool, results: Results) -> None:
    marker = VAR_DIR / f"bench-{db.backend}-{db.invoices}.json"
    if marker.exists() and not regenerate and _present(db):
        print(f"Reusing the generated database ({marker.name}).", flush=True)
        # Made by an older checkout, perhaps: the product under test needs its own schema.
        upgrade_to_head(db.url)
        results.meta["generation"] = json.loads(marker.read_text())
        return
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    _reset_database(db)
    print(f"Generating {db.invoices:,} invoices on {db.backend} …", flush=True)
    os.environ["LINKPAY_DATA_DIR"] = str(db.data_dir)
    report = generate(db.url, invoices=db.invoices, progress=lambda line: print(f"  {line}"))
    summary = {"rows": dict(report.rows), "seconds": report.seconds, "summary": report.summary()}
    marker.write_text(json.dumps(summary, indent=2))
    results.meta["generation"] = summary
    results.add(
        Figure("0 generate", f"{report.total_rows:,} rows written", report.rows_per_second,
               "rows/s", note=f"{report.seconds:.0f} s including index builds")
    )  # fmt: skip


def _present(db: BenchDatabase) -> bool:
    if db.sqlite_path is not None:
        return db.sqlite_path.exists()
    try:
        import psycopg

        with psycopg.connect(db.libpq_url) as conn:
            return conn.execute("SELECT COUNT(*) FROM invoice").fetchone()[0] >= db.invoices
    except Exception:
        return False


# --- the run -----------------------------------------------------------------------------------


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": os.getloadavg(),
    }


def product_version() -> str:
    """The commit measured; other engineers may be changing the product while this runs."""
    from benchmarks.common import PROJECT_ROOT

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", "shared", "dashboard", "callback_service")
    return git("rev-parse", "--short", "HEAD") + (" + uncommitted changes" if dirty else "")


def run_scenarios(db: BenchDatabase, args: argparse.Namespace, results: Results) -> None:
    from benchmarks.scenarios import (
        bank_statement,
        browser,
        dashboard_data,
        export,
        intake,
        pages,
        paid,
        slow_gateway,
    )

    if {"paid", "intake", "slow"} & set(args.scenarios):
        from benchmarks.stack import discard_leftover_load, running_stack

        service_env = {}
        if args.worker_api_calls:
            service_env["LINKPAY_WORKER_API_CALLS"] = str(args.worker_api_calls)
        with running_stack(db, service_env=service_env) as stack:
            if "intake" in args.scenarios:
                print("Scenario 1: callback intake …", flush=True)
                settings = intake.IntakeSettings(
                    rate=args.intake_rate,
                    sustained_seconds=args.intake_seconds,
                    max_seconds=args.max_seconds,
                )
                with cpu_neighbour(args.cpu_neighbour):
                    intake.run(db, stack, results, settings)
                # Its load of unknown references must not queue ahead of real payments.
                discard_leftover_load(db)
            if "paid" in args.scenarios:
                print("Scenario 2: callback → paid …", flush=True)
                settings = paid.PaidSettings(args.paid_rate, args.paid_seconds)
                with cpu_neighbour(args.cpu_neighbour):
                    paid.run(db, stack, results, settings)
            if "slow" in args.scenarios:
                print("Scenario 6: slow gateway …", flush=True)
                settings = slow_gateway.SlowSettings(
                    rate=args.slow_rate, seconds=args.slow_seconds, api_delay=args.api_delay
                )
                slow_gateway.run(db, stack, results, settings)
    if "dashboard" in args.scenarios:
        print("Scenario 3: dashboard data …", flush=True)
        dashboard_data.run(db, results)
    if "pages" in args.scenarios:
        print("Scenarios 3 and 5: dashboard pages and memory …", flush=True)
        pages.run(db, results)
    if "export" in args.scenarios:
        print("Scenario 4: export …", flush=True)
        formats = tuple(x.strip() for x in args.export_formats.split(",") if x.strip())
        export.run(db, results, formats=formats, repeats=args.export_repeats)
    if "bank" in args.scenarios:
        print("Scenario 7: bank statement import and matching …", flush=True)
        bank_statement.run(db, results)
    if "browser" in args.scenarios:
        print("Scenario 8: the dashboard in Chromium against the floor app …", flush=True)
        settings = browser.BrowserSettings(
            languages=tuple(x.strip() for x in args.browser_languages.split(",") if x.strip()),
            framework_ab=args.browser_framework_ab,
            repeats=args.browser_repeats,
        )
        browser.run(db, results, settings)


def markdown(results: Results) -> str:
    meta = results.meta
    m = meta["machine"]
    neighbour = (
        "a process burning one core beside the product (scenarios 1 and 2)"
        if meta.get("cpu_neighbour")
        else "no CPU neighbour"
    )
    lines = [
        f"# Benchmarks: {meta['invoices']:,} invoices on {meta['backend']}",
        "",
        f"{meta['started']} · {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB · "
        f"Python {m['python']}, SQLite {m['sqlite']} · load average at start "
        f"{', '.join(f'{x:.2f}' for x in m['load_average_at_start'])} · "
        f"product {meta['product']} · {neighbour} · `{meta['command']}`",
        "",
        "| Scenario | Measure | Value | Baseline | Ratio | Target | Met | Note |",
        "|---|---|---:|---:|---:|---|---|---|",
    ]
    for f in results.figures:
        value = format_figure(Figure(f.scenario, "", f.value, f.unit)).split(": ", 1)[1]
        base = (
            format_figure(Figure(f.scenario, "", f.baseline, f.unit)).split(": ", 1)[1]
            if f.baseline is not None
            else ""
        )
        ratio = f"×{f.ratio:.2f}" if f.ratio is not None else ""
        met = {True: "yes", False: "**NO**", None: ""}[f.met]
        note = f.note.replace("|", "/")
        cells = (f.scenario, f.name, value, base, ratio, f.target, met, note)
        lines.append("| " + " | ".join(cells) + " |")
    if results.findings:
        lines += ["", "## Findings", "", *results.findings]
    return "\n".join(lines) + "\n"


def write_results(results: Results, db: BenchDatabase, label: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    stem = RESULTS_DIR / f"{db.backend}-{db.invoices}{f'-{label}' if label else ''}"
    stem.with_suffix(".json").write_text(results.as_json())
    stem.with_suffix(".md").write_text(markdown(results))
    return stem.with_suffix(".md")


def _exit_on_sigterm(_signum, _frame) -> None:
    # SystemExit unwinds the context managers, which stop the child servers.
    sys.exit(143)


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    args = parse_args(argv)
    explain.PROFILING["on"] = not args.no_profile
    db = _database(args)
    results = Results(
        meta={
            "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "backend": db.backend,
            "invoices": db.invoices,
            "command": " ".join(["python -m benchmarks.run", *(argv or sys.argv[1:])]),
            "machine": machine(),
            "product": product_version(),
            "cpu_neighbour": args.cpu_neighbour,
        }
    )
    started = time.perf_counter()
    try:
        prepare(db, regenerate=args.regenerate, results=results)
        run_scenarios(db, args, results)
    finally:
        results.meta["seconds"] = round(time.perf_counter() - started)
        results.meta["load_average_at_end"] = os.getloadavg()
        path = write_results(results, db, args.label)
        if args.drop and db.backend == "postgresql":
            drop_postgres(db)
    print()
    print(markdown(results))
    print(f"Written to {path} and {path.with_suffix('.json')}")


if __name__ == "__main__":
    main()
