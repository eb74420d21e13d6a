"""The viewer on a full MATH-500 ``mas=ceo`` run (prints figures; no timed assertions).

    flock /tmp/harness-heavy.lock .venv/bin/python tests/benchmarks/bench_view.py [--keep DIR]

1. makes the run with the oracle engine (no model: thousands of calls in seconds), once as
   configured (``stop_on=either``: one round per problem) and once with three rounds per
   problem (``mas.stop_on=ceo mas.end_on_correct=false``: 7,500 calls), and with 4 repeats
   (2,000 table rows, 10,000 calls);
2. renders each report (``python -m harness.view``) and their comparison, timing it and
   printing the file size next to the size of the transcripts;
3. opens each page in headless Chromium: time until the table is interactive (the page's
   ``viewer-ready`` performance mark, from navigation start) and until it is on screen
   (``viewer-painted``, after the first frame), then the time to open one episode (click to
   rendered, as Playwright sees it) and to filter the table by text.
Target: interactive in under 2 s; a file well under the transcripts' size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from harness.view import browser  # noqa: E402

DATA = ROOT.parent / "shared" / "benchmarks"


def make_run(out: Path, *overrides: str) -> float:
    if (out / "summary.json").exists():
        return 0.0
    env = dict(os.environ, WANDB_MODE="offline", HF_HUB_OFFLINE="1")
    env.setdefault("HARNESS_DATA_DIR", str(DATA))
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "harness", "model=oracle", "mas=ceo", "benchmark=math500",
         f"hydra.run.dir={out}", *overrides],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - t0


def render(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "harness.view", *args], cwd=ROOT, check=True, capture_output=True
    )
    return time.perf_counter() - t0


def measure_page(context, path: Path) -> dict[str, float]:
    page = context.new_page()
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("html[data-ready='1']", timeout=120_000)
    page.wait_for_function("performance.getEntriesByName('viewer-painted').length > 0")
    marks = page.evaluate(
        """() => ({
          ready: performance.getEntriesByName('viewer-ready')[0].startTime,
          painted: performance.getEntriesByName('viewer-painted')[0].startTime,
          dcl: performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd,
          rows: document.querySelectorAll('tr.row').length,
          nodes: document.getElementsByTagName('*').length,
        })"""
    )
    t0 = time.perf_counter()
    page.locator("tr.row").first.click()
    page.wait_for_selector("tr.detail[data-ready='1']", timeout=60_000)
    marks["open_ms"] = (time.perf_counter() - t0) * 1000
    marks["episode_nodes"] = page.evaluate(
        "document.querySelector('tr.detail').getElementsByTagName('*').length"
    )
    before = page.inner_text("#count")
    t0 = time.perf_counter()
    page.fill("#filter-text", "algebra")
    page.wait_for_function(
        "before => document.getElementById('count').textContent !== before", arg=before
    )
    marks["filter_ms"] = (time.perf_counter() - t0) * 1000
    marks["shown_after_filter"] = page.inner_text("#count")
    page.close()
    return marks


def mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", help="make the runs in (and keep) this folder")
    args = ap.parse_args()
    why = browser.missing()
    if why:
        sys.exit(f"bench_view: {why}")
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-view-"))
    runs = {
        "1 round": (base / "ceo", ()),
        "3 rounds": (base / "ceo3", ("mas.stop_on=ceo", "mas.end_on_correct=false")),
        "4 repeats": (base / "ceo_rep4", ("repeats=4",)),
    }
    pages = {}
    for name, (out, overrides) in runs.items():
        took = make_run(out, *overrides)
        calls = json.loads((out / "summary.json").read_text())["calls"]
        s = render(str(out))
        pages[name] = out / "report.html"
        print(
            f"{name}: run {took:.1f} s; transcripts {mb(out / 'transcripts.jsonl')} "
            f"({calls:,} calls); report {mb(pages[name])} rendered in {s:.2f} s"
        )
    cmp = base / "compare.html"
    s = render(str(runs["1 round"][0]), str(runs["3 rounds"][0]), "--out", str(cmp))
    pages["comparison"] = cmp
    print(f"comparison: {mb(cmp)} rendered in {s:.2f} s")
    with browser.chromium() as context:
        measure_page(context, pages["1 round"])  # warm-up: first launch pays for font caches
        for name, path in pages.items():
            m = measure_page(context, path)
            print(
                f"{name}: table built {m['ready']:.0f} ms and on screen {m['painted']:.0f} ms "
                f"after navigation start (DOMContentLoaded {m['dcl']:.0f} ms; {m['rows']} rows shown, "
                f"{m['nodes']} nodes); "
                f"open one episode {m['open_ms']:.0f} ms ({m['episode_nodes']} nodes); "
                f"filter by text {m['filter_ms']:.0f} ms ({m['shown_after_filter']})"
            )
    print(f"runs and reports in {base}")


if __name__ == "__main__":
    main()
