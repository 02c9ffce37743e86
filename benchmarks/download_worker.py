"""Click-to-saved-file of the invoice list's exports in a real browser, and the dashboard
process's memory meanwhile.

Starts the dashboard exactly as ``linkpay-desk dashboard`` does, signs in with Playwright
in Debian's Chromium, opens Invoices (every invoice, newest first) and clicks Download CSV,
then Download XLSX. Each time runs from the click until the browser has the whole file on
disk. The dashboard's resident memory is read from /proc before the click, every 20 ms
while the file comes (its peak) and once the download is over. Prints a JSON summary.

Usage (environment as for the product): ``python -m benchmarks.download_worker``
"""

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

SAMPLE_SECONDS = 0.02
# Settling after a download: the response's last buffers are released.
SETTLE_SECONDS = 2.0


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
    with RssPeak(pid) as sampled:
        started = time.perf_counter()
        with page.expect_download(timeout=TIMEOUT_MS * 5) as download_info:
            link.click()
        download = download_info.value
        download.save_as(target)
        seconds = time.perf_counter() - started
    time.sleep(SETTLE_SECONDS)
    size = target.stat().st_size
    target.unlink()
    return {
        "seconds": seconds,
        "bytes": size,
        "file_name": download.suggested_filename,
        "rss_before_mb": before,
        "rss_peak_mb": max(sampled.peak, before),
        "rss_after_mb": rss_mb(pid)[0],
    }


def measure(target_dir: Path) -> dict:
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
            _log_in(tab, url)
            _switch(tab, "Invoices")
            _idle(tab.page)
            csv = _download(tab.page, "Download CSV", dashboard.pid, target_dir / "export.csv")
            xlsx = _download(tab.page, "Download XLSX", dashboard.pid, target_dir / "export.xlsx")
        browser.close()
    return {"load_average": [load_before, os.getloadavg()], "csv": csv, "xlsx": xlsx}


if __name__ == "__main__":
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    sys.stdout.write(json.dumps(measure(directory)) + "\n")
