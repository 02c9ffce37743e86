"""Scenario 4 — export of the full invoice list (N rows) to CSV and XLSX as the dashboard's
download links make them (``benchmarks/export_worker.py``), each in a subprocess that
reports its own peak memory; then the same two files from click to saved file in Chromium
through the running dashboard's export route (``benchmarks/download_worker.py``), with the
dashboard process's memory before, during and after. The baseline is the database's own
command-line client writing the same columns as CSV (``sqlite3 -csv``, or ``psql`` with
``COPY ... TO STDOUT`` on PostgreSQL)."""

import json
import shutil
import subprocess
import tempfile
import time

from benchmarks.common import VAR_DIR, BenchDatabase, Figure, Results, python
from shared.company import local_today

SCENARIO = "4 export"
TARGET_RATIO = 1.5
TARGET_PEAK_MB = 300.0
TARGET_CLICK_TO_FILE_SECONDS = 3.0
TARGET_DASHBOARD_MB = 400.0
OPEN = "('issued', 'sent', 'partially_paid')"
# shared.channels.channel_display_name, as the client writes it.
CHANNEL_NAME = (
    "ch.name || ' · ' || CASE WHEN b.iban = '' THEN b.name WHEN length(b.iban) > 12 "
    "THEN substr(b.iban, 1, 8) || '…' || substr(b.iban, length(b.iban) - 3) ELSE b.iban END"
)


def baseline_sql(*, sqlite: bool, today: str) -> str:
    """The Invoices table's columns, newest first, amounts exact to the cent."""

    def money(column: str) -> str:
        if sqlite:
            return f"printf('%d.%02d', {column} / 100, {column} % 100)"
        return f"to_char({column} / 100.0, 'FM999999999990.00')"

    return (
        'SELECT COALESCE(i.number, \'(draft)\') AS "Number", c.name AS "Customer", '
        f"CASE WHEN i.status IN {OPEN} AND i.due_date < '{today}' THEN 'Overdue' "
        'ELSE i.status END AS "Status", i.issue_date AS "Issue date", '
        'i.due_date AS "Due date", i.currency AS "Currency", '
        f'{money("i.subtotal_minor")} AS "Net", {money("i.vat_minor")} AS "VAT", '
        f'{money("i.total_minor")} AS "Total", {money("i.paid_minor")} AS "Paid", '
        f'{money("i.open_minor")} AS "Open balance", '
        f'{CHANNEL_NAME} AS "Channel" FROM invoice i JOIN customer c ON c.id = i.customer_id '
        "LEFT JOIN payment_channel ch ON ch.id = i.channel_id "
        "LEFT JOIN bank_account b ON b.id = ch.bank_account_id ORDER BY i.id DESC"
    )


def cli_export(db: BenchDatabase) -> tuple[float, str]:
    """Seconds the command-line client needs, and which client it was."""
    today = local_today("Europe/Riga").isoformat()
    target = VAR_DIR / f"baseline-{db.backend}-{db.invoices}.csv"
    if db.sqlite_path is not None:
        client = shutil.which("sqlite3")
        if client is None:
            raise RuntimeError("sqlite3 command-line client missing: apt-get install -y sqlite3")
        args = [
            client,
            "-csv",
            "-header",
            str(db.sqlite_path),
            baseline_sql(sqlite=True, today=today),
        ]
        label = "sqlite3 -csv"
    else:
        sql = baseline_sql(sqlite=False, today=today)
        args = ["psql", db.libpq_url, "-c", f"COPY ({sql}) TO STDOUT WITH CSV HEADER"]
        label = "psql COPY TO STDOUT"
    # Twice, the first untimed: the product's export must not be compared against a cold
    # page cache (another scenario or process may have pushed the tables out of it).
    for _ in range(2):
        with target.open("wb") as out:
            started = time.perf_counter()
            subprocess.run(args, stdout=out, check=True)
            seconds = time.perf_counter() - started
    target.unlink()
    return seconds, label


def product_export(db: BenchDatabase, kind: str, table: str = "invoices") -> dict:
    finished = subprocess.run(
        python("-m", "benchmarks.export_worker", "--format", kind, "--table", table),
        env=db.env(LINKPAY_LOG_LEVEL="WARNING"),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(finished.stdout)


def run(
    db: BenchDatabase,
    results: Results,
    *,
    formats: tuple[str, ...] = ("csv", "xlsx"),
    repeats: int = 1,
) -> None:
    baseline_seconds, label = cli_export(db)
    runs = []
    if "csv" in formats:
        csv = product_export(db, "csv")
        runs.append(csv)
        results.add(
            Figure(
                SCENARIO,
                f"CSV, {csv['rows']:,} rows",
                csv["seconds"],
                "s",
                baseline=baseline_seconds,
                target=f"≤ {TARGET_RATIO}× {label}",
                met=csv["seconds"] <= TARGET_RATIO * baseline_seconds,
                note=f"{csv['bytes'] / 1e6:,.0f} MB; {csv['cpu_seconds']:.2f} s CPU",
            )
        )
    if "xlsx" in formats:
        xlsx = product_export(db, "xlsx")
        results.add(
            Figure(
                SCENARIO,
                f"XLSX, {xlsx['rows']:,} rows",
                xlsx["seconds"],
                "s",
                baseline=baseline_seconds,
                note=(xlsx["message"] or "under Excel's row limit: nothing capped")
                + f"; {xlsx['bytes'] / 1e6:,.0f} MB; {xlsx['cpu_seconds']:.1f} s CPU",
            )
        )
        # The invoice list of N invoices fits in a sheet; the audit log (~2 entries per
        # invoice) shows the cap and its message from N = 525,000 on.
        audit = product_export(db, "xlsx", "audit")
        results.add(
            Figure(
                SCENARIO,
                f"XLSX of the audit log, {audit['total_rows']:,} rows",
                audit["seconds"],
                "s",
                note=f"{audit['rows']:,} rows written. Message: "
                + (audit["message"] or "(none: under the limit)"),
            )
        )
        runs += [xlsx, audit]
    for run_ in runs:
        results.add(
            Figure(
                SCENARIO,
                f"peak memory of the {run_['format'].upper()} export process ({run_['table']})",
                run_["peak_rss_mb"],
                "MB",
                target=f"< {TARGET_PEAK_MB:.0f} MB",
                met=run_["peak_rss_mb"] < TARGET_PEAK_MB,
                note=f"{run_['rss_before_export_mb']:.0f} MB after imports, before the export",
            )
        )
    browser_downloads(
        db,
        results,
        baseline_seconds=baseline_seconds,
        label=label,
        formats=formats,
        repeats=repeats,
    )


def browser_downloads(
    db: BenchDatabase,
    results: Results,
    *,
    baseline_seconds: float,
    label: str,
    formats: tuple[str, ...],
    repeats: int,
):
    with tempfile.TemporaryDirectory() as directory:
        finished = subprocess.run(
            python(
                "-m",
                "benchmarks.download_worker",
                directory,
                "--formats",
                ",".join(formats),
                "--repeats",
                str(repeats),
            ),
            env=db.env(LINKPAY_LOG_LEVEL="WARNING"),
            capture_output=True,
            text=True,
            check=True,
        )
    measured = json.loads(finished.stdout)
    load = ", ".join(f"{value:.2f}" for value in measured["load_average"][0])
    for kind in formats:
        run_ = measured[kind]
        times = ", ".join(f"{each['seconds']:.2f}" for each in measured["runs"][kind])
        results.add(
            Figure(
                SCENARIO,
                f"{kind.upper()} in Chromium, click to saved file",
                run_["seconds"],
                "s",
                baseline=baseline_seconds if kind == "csv" else None,
                target=f"≤ {TARGET_CLICK_TO_FILE_SECONDS:.0f} s" if kind == "csv" else "",
                met=run_["seconds"] <= TARGET_CLICK_TO_FILE_SECONDS if kind == "csv" else None,
                note=f"{run_['bytes'] / 1e6:,.0f} MB {run_['file_name']}; "
                + (f"baseline {label}; " if kind == "csv" else "")
                + f"best of {len(measured['runs'][kind])} ({times} s); "
                + f"dashboard CPU {run_['dashboard_cpu_seconds']:.2f} s; "
                + f"load average before {load}",
            )
        )
        peak = max(run_["rss_before_mb"], run_["rss_peak_mb"], run_["rss_after_mb"])
        results.add(
            Figure(
                SCENARIO,
                f"dashboard memory around the {kind.upper()} download (before / peak / after)",
                peak,
                "MB",
                target=f"≤ {TARGET_DASHBOARD_MB:.0f} MB",
                met=peak <= TARGET_DASHBOARD_MB,
                note=f"{run_['rss_before_mb']:.0f} / {run_['rss_peak_mb']:.0f} / "
                f"{run_['rss_after_mb']:.0f} MB",
            )
        )
