"""CPU time per page switch: the dashboard's process and Chromium's, besides the wall clock.

Scenario 8 times clicks by the wall clock, which on a shared machine moves with the load
average. This tool makes the same page switches (the browser worker's login and clicks) and
reads, per switch, the CPU time the dashboard server spent (``/proc/<pid>/stat``) and the CPU
time of Chromium's processes (renderer, GPU, browser), plus the bytes the server sent over
the websocket: figures that change with the code, not with the neighbours. The first visit
of each page is "cold", the mean of the others "warm" (CPU times tick in 10 ms steps: the
mean of several, not the median). Prints a Markdown table.

Usage (environment as for the product, e.g. the benchmark database's):
``python -m benchmarks.click_cpu [--language lv] [--rounds 6]``
"""

import argparse
import os
import statistics
import time

from playwright.sync_api import sync_playwright

from benchmarks import browser_worker as worker
from benchmarks.common import child, free_port

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_ms(pid: int) -> float:
    """User and system time of the process and of its waited-for children."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) * 1000 / TICKS


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def _browser_cpu_ms() -> float:
    """CPU time of the Chromium processes this process started (through Playwright)."""
    total = 0.0
    for pid in _descendants(os.getpid()):
        try:
            with open(f"/proc/{pid}/comm") as comm:
                if "chrom" not in comm.read():
                    continue
            total += _cpu_ms(pid)
        except OSError:
            continue
    return total


def measure(*, language: str, rounds: int) -> dict[str, dict[str, list[float]]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    previous_language = worker._choose_language(language)
    figures: dict[str, dict[str, list[float]]] = {}
    try:
        with (
            child("click-cpu-dashboard", worker._dashboard_command(port), env=dict(os.environ),
                  health_url=f"{url}/_stcore/health") as server,
            sync_playwright() as playwright,
        ):  # fmt: skip
            browser = playwright.chromium.launch(
                executable_path=worker.CHROMIUM, args=worker.CHROMIUM_ARGS
            )
            with worker._tab(browser) as tab:
                received = [0]
                tab.page.on(
                    "websocket",
                    lambda socket: socket.on(
                        "framereceived",
                        lambda payload: received.__setitem__(0, received[0] + len(payload)),
                    ),
                )
                worker._log_in(tab, url, language)
                shown = {name: worker.text_in(language, name) for name in worker.PAGES}
                sidebar = tab.page.get_by_test_id("stSidebar")
                last = sidebar.get_by_role("link", name=shown[worker.PAGES[-1]], exact=True)
                worker.expect(last).to_be_visible(timeout=worker.TIMEOUT_MS)
                present = [
                    name
                    for name in worker.PAGES
                    if sidebar.get_by_role("link", name=shown[name], exact=True).count()
                ]
                worker._switch(tab, shown[present[-1]])
                for _ in range(rounds):
                    for name in present:
                        wall, server_cpu = time.perf_counter(), _cpu_ms(server.pid)
                        browser_cpu, sent = _browser_cpu_ms(), received[0]
                        worker._switch(tab, shown[name])
                        row = figures.setdefault(
                            name, {"wall": [], "server": [], "browser": [], "kb": []}
                        )
                        row["wall"].append((time.perf_counter() - wall) * 1000)
                        row["server"].append(_cpu_ms(server.pid) - server_cpu)
                        row["browser"].append(_browser_cpu_ms() - browser_cpu)
                        row["kb"].append((received[0] - sent) / 1024)
            browser.close()
    finally:
        worker._restore_language(previous_language)
    return figures


def table(figures: dict[str, dict[str, list[float]]]) -> list[str]:
    lines = [
        "| Page | wall ms cold / warm (median) | dashboard CPU ms cold / warm (mean) "
        "| Chromium CPU ms cold / warm (mean) | websocket KB per switch |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in figures.items():
        lines.append(
            f"| {name} | {row['wall'][0]:.0f} / {statistics.median(row['wall'][1:]):.0f} "
            f"| {row['server'][0]:.0f} / {statistics.mean(row['server'][1:]):.0f} "
            f"| {row['browser'][0]:.0f} / {statistics.mean(row['browser'][1:]):.0f} "
            f"| {statistics.median(row['kb']):.1f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.click_cpu")
    parser.add_argument("--language", choices=sorted(worker.LANGUAGE_NAMES), default="en")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    figures = measure(language=args.language, rounds=args.rounds)
    print(f"Language {args.language}; load average {load_before:.2f} → {os.getloadavg()[0]:.2f}")
    print("\n".join(table(figures)))


if __name__ == "__main__":
    main()
