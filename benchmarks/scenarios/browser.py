"""Scenario 8 — the dashboard as a person feels it: Chromium timing every page switch and
list action, against a floor app (benchmarks/floor_app.py: two Streamlit pages with a
50-row table and a chart; a bare sign-in form for the login form's first load) measured the
same way in the same run. Targets: first load of the
login form ≤ 1 s; a page switch or list action ≤ 2× the floor cold and ≤ 0.5 s at 1 M
invoices, ≤ 1.5× warm. The load average before and after is recorded beside the figures:
a browser figure on a busy machine says little on its own.

Variants: the benchmark user's language (``en``, ``lv``) and, for the A/B of the per-click
framework overhead, the launcher's Streamlit settings (A) or Streamlit's defaults (B). The
variants run interleaved, ``repeats`` times each, so a change of load on the shared machine
hits all of them; every run is reported on its own, and the findings compare them per page.
"""

import json
import statistics
import subprocess
from dataclasses import dataclass

from benchmarks.common import BenchDatabase, Figure, Results, python

SCENARIO = "8 browser"
TARGET_FIRST_LOAD_MS = 1000.0
TARGET_COLD_RATIO = 2.0
TARGET_COLD_MS = 500.0
TARGET_WARM_RATIO = 1.5


@dataclass(frozen=True)
class BrowserSettings:
    languages: tuple[str, ...] = ("en",)
    framework_ab: bool = False
    repeats: int = 1


def run(db: BenchDatabase, results: Results, settings: BrowserSettings) -> None:
    sides = (False, True) if settings.framework_ab else (False,)
    summaries: dict[str, list[dict]] = {}
    for repeat in range(settings.repeats):
        for language in settings.languages:
            for framework_defaults in sides:
                variant = _variant(language, framework_defaults)
                print(f"  run {repeat + 1}: {variant} …", flush=True)
                summary = _measure(db, language=language, framework_defaults=framework_defaults)
                summaries.setdefault(variant, []).append(summary)
                add_figures(summary, results, prefix=f"[{variant} #{repeat + 1}] ")
    add_comparisons(summaries, results)


def _variant(language: str, framework_defaults: bool) -> str:
    return f"{language} {'B' if framework_defaults else 'A'}"


def _measure(db: BenchDatabase, *, language: str, framework_defaults: bool) -> dict:
    options = ["--language", language] + (["--framework-defaults"] if framework_defaults else [])
    finished = subprocess.run(
        python("-m", "benchmarks.browser_worker", *options),
        env=db.env(LINKPAY_LOG_LEVEL="WARNING"),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if finished.returncode != 0:
        raise RuntimeError(f"the browser worker failed:\n{finished.stderr[-4000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def _actions(summary: dict) -> dict[str, list[float]]:
    """Every timed action of a run by its English name: page switches, list actions, then
    the switch between reports."""
    listed = {f"Invoices: {name}": times for name, times in summary["list_action_ms"].items()}
    return {**summary["page_switch_ms"], **listed, **summary["report_action_ms"]}


def add_comparisons(summaries: dict[str, list[dict]], results: Results) -> None:
    """Findings: per action, the warm median of every run of each variant (ms and × floor),
    then Latvian ÷ English and B − A (the per-click cost of Streamlit's defaults)."""
    variants = list(summaries)
    if len(variants) < 2:
        return
    names = list(_actions(summaries[variants[0]][0]))
    columns = [(v, i) for v in variants for i in range(len(summaries[v]))]
    header = ["Action"] + [f"{v} #{i + 1} warm ms (× floor)" for v, i in columns]
    compared = [(a, b) for a in variants for b in variants if _compares(a, b)]
    header += [_comparison_name(a, b) for a, b in compared]
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]

    def warm(summary: dict, name: str) -> float | None:
        times = _actions(summary).get(name)
        return statistics.median(times[1:]) if times else None

    def median_of_runs(variant: str, name: str) -> float | None:
        found = [w for s in summaries[variant] if (w := warm(s, name)) is not None]
        return statistics.median(found) if found else None

    for name in names:
        cells = [name]
        for variant, index in columns:
            summary = summaries[variant][index]
            value = warm(summary, name)
            floor = statistics.median(summary["floor_switch_ms"])
            cells.append("" if value is None else f"{value:.0f} (×{value / floor:.2f})")
        for a, b in compared:
            first, second = median_of_runs(a, name), median_of_runs(b, name)
            if first is None or second is None:
                cells.append("")
            elif a.endswith("A") and b.endswith("B"):
                cells.append(f"{second - first:+.0f} ms")
            else:
                cells.append(f"×{second / first:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    loads = [
        f"{v} #{i + 1}: {summaries[v][i]['load_average'][0][0]:.2f} → "
        f"{summaries[v][i]['load_average'][1][0]:.2f}"
        for v, i in columns
    ]
    results.findings += [
        "Warm medians per run; comparisons use the median over runs of each variant. "
        "A: the launcher's settings; B: runner.postScriptGC=true, fileWatcherType=auto.",
        "",
        *lines,
        "",
        "Load average (1 min) before → after each run: " + "; ".join(loads) + ".",
    ]


def _compares(a: str, b: str) -> bool:
    """Latvian against English on the same side; B against A in the same language."""
    (lang_a, side_a), (lang_b, side_b) = a.split(), b.split()
    return (side_a == side_b and lang_a == "en" and lang_b != "en") or (
        lang_a == lang_b and side_a == "A" and side_b == "B"
    )


def _comparison_name(a: str, b: str) -> str:
    if a.split()[1] == b.split()[1]:
        return f"{b} ÷ {a}"
    return f"{b} − {a}"


def add_figures(summary: dict, results: Results, *, prefix: str = "") -> None:
    before, after = summary["load_average"]
    load = f"load average {before[0]:.2f} → {after[0]:.2f}"
    results.meta["browser_load_average"] = summary["load_average"]
    floor_load = statistics.median(summary["first_load_ms"]["floor"])
    form_floor = statistics.median(summary["first_load_ms"]["floor_sign_in"])
    first_load = statistics.median(summary["first_load_ms"]["dashboard"])
    results.add(
        Figure(SCENARIO, f"{prefix}floor: first load of a bare sign-in form (median)",
               form_floor, "ms", note="the same Streamlit server flags, nothing else on the page")
    )  # fmt: skip
    results.add(
        Figure(SCENARIO, f"{prefix}first load of the login form (new browser context, median)",
               first_load, "ms", baseline=form_floor, target=f"≤ {TARGET_FIRST_LOAD_MS:.0f} ms",
               met=first_load <= TARGET_FIRST_LOAD_MS,
               note=f"floor: the bare sign-in form; {load}")
    )  # fmt: skip
    results.add(
        Figure(SCENARIO, f"{prefix}very first load after the dashboard started",
               summary["very_first_load_ms"], "ms", baseline=form_floor,
               target=f"≤ {TARGET_FIRST_LOAD_MS:.0f} ms",
               met=summary["very_first_load_ms"] <= TARGET_FIRST_LOAD_MS)
    )  # fmt: skip
    if "sign_in_ms" in summary:
        results.add(
            Figure(SCENARIO, f"{prefix}sign-in: Log in clicked → signed-in page with its cookie",
                   summary["sign_in_ms"], "ms", baseline=floor_load, note="floor: first table")
        )  # fmt: skip
    floor = statistics.median(summary["floor_switch_ms"])
    results.add(Figure(SCENARIO, f"{prefix}floor: page switch (median)", floor, "ms", note=load))
    for name, times in _actions(summary).items():
        cold, warm = times[0], statistics.median(times[1:])
        results.add(
            Figure(SCENARIO, f"{prefix}{name} (cold)", cold, "ms", baseline=floor,
                   target=f"≤ {TARGET_COLD_RATIO:.0f}× floor and ≤ {TARGET_COLD_MS:.0f} ms",
                   met=cold <= TARGET_COLD_RATIO * floor and cold <= TARGET_COLD_MS)
        )  # fmt: skip
        results.add(
            Figure(SCENARIO, f"{prefix}{name} (warm, median)", warm, "ms", baseline=floor,
                   target=f"≤ {TARGET_WARM_RATIO}× floor", met=warm <= TARGET_WARM_RATIO * floor)
        )  # fmt: skip
