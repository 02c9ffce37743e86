"""Click-to-saved-file of the invoice list's exports in a real browser, and the dashboard
process's memory meanwhile.

Starts the dashboard exactly as ``linkpay-desk dashboard`` does, signs in with Playwright
in Debian's Chromium, opens Invoices (every invoice, newest first) and clicks Download CSV,
then Download XLSX (``--formats`` picks some; ``--repeats`` downloads each N times in turn).
Each time runs from the click until the browser has the whole file on disk. The dashboard's
resident memory is read from /proc before the click, every 20 ms while the file comes (its
peak) and once the download is over; its CPU time (user + system) is read before and after.
Prints a JSON summary: per format the fastest download, and every download's figures.

Usage (environment as for the product):
``python -m benchmarks.download_worker DIR [--formats csv,xlsx] [--repeats N]``
"""

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from benchmarks.browser_worker import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    _dashboard_command,
    _idle,
    _log_in,
    _switch,
    _tab,
)
from benchmarks.common import child, free_port, rss_mb
from dashboard.i18n import ENGLISH

SAMPLE_SECONDS = 0.02
# Settling after a download: the response's last buffers are released.
SETTLE_SECONDS = 2.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` and its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class RssPeak:
    """The highest resident memory of process ``pid`` while running, sampled."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid)[0])
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> "RssPeak":
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _download(page: Page, label: str, pid: int, target: Path) -> dict:
    link = page.get_by_test_id("stMain").get_by_role("link", name=label, exact=True)
    expect(link).to_be_visible(timeout=TIMEOUT_MS)
    before = rss_mb(pid)[0]
    cpu_before = cpu_seconds(pid)
    with RssPeak(pid) as sampled:
        started = time.perf_counter()
        with page.expect_download(timeout=TIMEOUT_MS * 5) as download_info:
            link.click()
        download = download_info.value
        download.save_as(target)
        seconds = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    time.sleep(SETTLE_SECONDS)
    size = target.stat().st_size
    target.unlink()
    return {
        "seconds": seconds,
        "dashboard_cpu_seconds": cpu,
        "load_average": os.getloadavg(),
        "bytes": size,
        "file_name": download.suggested_filename,
        "rss_before_mb": before,
        "rss_peak_mb": max(sampled.peak, before),
        "rss_after_mb": rss_mb(pid)[0],
    }


LABELS = {"csv": "Download CSV", "xlsx": "Download XLSX"}


def measure(target_dir: Path, formats: tuple[str, ...] = ("csv", "xlsx"), repeats: int = 1) -> dict:
    port = free_port()
    command = _dashboard_command(port)
    url = f"http://127.0.0.1:{port}"
    load_before = os.getloadavg()
    with (
        child("download-dashboard", command, env=dict(os.environ),
              health_url=f"{url}/_stcore/health") as dashboard,
        sync_playwright() as playwright,
    ):  # fmt: skip
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        with _tab(browser) as tab:
            tab.page.context.set_default_timeout(TIMEOUT_MS)
            _log_in(tab, url, ENGLISH)
            _switch(tab, "Invoices")
            _idle(tab.page)
            runs: dict[str, list[dict]] = {kind: [] for kind in formats}
            for _ in range(repeats):
                for kind in formats:
                    target = target_dir / f"export.{kind}"
                    runs[kind].append(_download(tab.page, LABELS[kind], dashboard.pid, target))
        browser.close()
    fastest = {kind: min(runs[kind], key=lambda run: run["seconds"]) for kind in formats}
    return {"load_average": [load_before, os.getloadavg()], **fastest, "runs": runs}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.download_worker")
    parser.add_argument("directory", type=Path, nargs="?", default=Path.cwd())
    parser.add_argument("--formats", default="csv,xlsx", help="comma-separated: csv,xlsx")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    formats = tuple(kind.strip() for kind in args.formats.split(",") if kind.strip())
    sys.stdout.write(json.dumps(measure(args.directory, formats, args.repeats)) + "\n")
