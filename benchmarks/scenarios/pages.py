"""Scenarios 3 (pages) and 5 — every dashboard page rendered through AppTest as a signed-in
admin, cold caches, ≤ 2 s each; and the resident memory of that process after visiting
them all, ≤ 400 MB. Measured in a subprocess (benchmarks/pages_worker.py) so the memory
is the dashboard's own, not this runner's."""

import json
import subprocess

from benchmarks.common import BenchDatabase, Figure, Results, python

SCENARIO_PAGES = "3 dashboard pages"
SCENARIO_MEMORY = "5 memory"
TARGET_PAGE_S = 2.0
TARGET_RSS_MB = 400.0


def run(db: BenchDatabase, results: Results) -> None:
    finished = subprocess.run(
        python("-m", "benchmarks.pages_worker"),
        env=db.env(LINKPAY_LOG_LEVEL="WARNING"),
        capture_output=True,
        text=True,
        check=True,
        timeout=1800,
    )
    summary = json.loads(finished.stdout.strip().splitlines()[-1])
    for page in summary["pages"]:
        problems = page["problems"]
        results.add(
            Figure(
                SCENARIO_PAGES,
                f"page '{page['page']}' (AppTest, cold cache)",
                page["seconds"],
                "s",
                target=f"≤ {TARGET_PAGE_S:.0f} s",
                met=page["seconds"] <= TARGET_PAGE_S and not problems,
                note="; ".join(problems)[:300],
            )
        )
    results.add(
        Figure(
            SCENARIO_MEMORY,
            f"dashboard RSS after all {len(summary['pages'])} pages (AppTest process)",
            summary["rss_mb"],
            "MB",
            target=f"≤ {TARGET_RSS_MB:.0f} MB",
            met=summary["rss_mb"] <= TARGET_RSS_MB,
            note=f"peak {summary['peak_rss_mb']:.0f} MB",
        )
    )
