"""One export of a full dashboard table, the way the pages' download buttons make it
(the invoice list's CSV with ``invoices.invoice_csv_file``; otherwise ``exports.csv_file`` /
``exports.xlsx_file`` over ``invoices.invoice_rows`` or ``audit_log.audit_rows``), in a
process of its own so that its peak memory is the export's. Prints a JSON summary.

Usage (environment as for the product): ``python -m benchmarks.export_worker --format csv``
"""

import argparse
import json
import os
import time

from benchmarks.common import TIMEZONE, rss_mb
from shared import exports
from shared.company import local_today
from shared.views import audit_log, invoices


def _rss_mb() -> float:
    """Peak resident memory of this process (VmHWM). Not getrusage's ru_maxrss: Linux keeps
    that across fork and exec, so a child would report its parent's peak."""
    return rss_mb(os.getpid())[1]


def _source(table: str) -> tuple:
    """(columns, total rows, row stream, CSV maker or None) of a dashboard table, unfiltered;
    the CSV maker is the one its page's "Download CSV" uses instead of the row stream."""
    if table == "audit":
        flt = audit_log.AuditFilter()
        total = audit_log.audit_page(flt, tz=TIMEZONE, limit=1).total
        return audit_log.AUDIT_COLUMNS, total, audit_log.audit_rows(flt, tz=TIMEZONE), None
    today = local_today(TIMEZONE)
    flt = invoices.InvoiceFilter()
    total = invoices.invoice_page(flt, today=today, limit=1).total
    return (
        invoices.INVOICE_COLUMNS,
        total,
        invoices.invoice_rows(flt, today=today),
        lambda: invoices.invoice_csv_file(flt, today=today),
    )


def export(kind: str, table: str) -> dict:
    columns, total, rows, csv_file = _source(table)
    before = _rss_mb()
    started = time.perf_counter()
    cpu_started = time.process_time()
    message = ""
    if kind == "csv":
        handle = csv_file() if csv_file else exports.csv_file(columns, rows)
        written = total
    else:
        handle, result = exports.xlsx_file(columns, rows, sheet_name=table)
        written = result.rows_written
        message = result.message
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    size = handle.seek(0, 2)
    handle.close()
    return {
        "format": kind,
        "table": table,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "rows": written,
        "total_rows": total,
        "bytes": size,
        "peak_rss_mb": _rss_mb(),
        "rss_before_export_mb": before,
        "message": message,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.export_worker")
    parser.add_argument("--format", choices=("csv", "xlsx"), required=True)
    parser.add_argument("--table", choices=("invoices", "audit"), default="invoices")
    args = parser.parse_args()
    print(json.dumps(export(args.format, args.table)))


if __name__ == "__main__":
    main()
