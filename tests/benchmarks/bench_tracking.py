"""What tracking and reports cost (prints figures; no timed assertions).

    WANDB_MODE=offline .venv/bin/python tests/benchmarks/bench_tracking.py [--rows 500] [--points 200]

1. the W&B tracker (real, offline) as the runner sees it: how long ``start`` and each
   ``progress`` call hold the caller (the runner's event loop), and the wall time of ``finish``
   (per-problem table, run-store artifact, W&B's own finish), for a run store of ``--rows``
   problems;
2. ``python -m harness.report`` over ``--points`` synthetic sweep points (tables and plots).
Target: start and progress well under a millisecond on the caller; finish a few seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from harness.report.cli import parse_args, run  # noqa: E402
from harness.rows import Summary  # noqa: E402
from harness.tracking import build_tracker  # noqa: E402
from tests.report.helpers import write_run  # noqa: E402
from tests.tracking.helpers import ROWS, composed, plain_config, write_store  # noqa: E402


def bench_tracker(rows: int) -> None:
    cfg = composed("tracking.wandb.mode=offline", "mas=ceo")
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        many = [dict(ROWS[i % 2], id=f"p{i}") for i in range(rows)]
        summary = write_store(run_dir, rows=many)
        tracker = build_tracker(cfg.tracking)
        t0 = time.perf_counter()
        tracker.start(run_dir, plain_config(cfg), {"references": {r["id"]: "1" for r in many}})
        start_ms = 1000 * (time.perf_counter() - t0)
        costs = []
        for i in range(1, rows + 1):
            t = time.perf_counter()
            tracker.progress(i, rows, i // 2, 100 * i, 0.01 * i)
            costs.append(time.perf_counter() - t)
        t = time.perf_counter()
        tracker.finish(Summary.from_json(summary))
        finish_s = time.perf_counter() - t
        print(f"tracker start(): {start_ms:.2f} ms on the caller (wandb.init runs behind it)")
        print(
            f"tracker progress(): median {1e6 * statistics.median(costs):.1f} µs, "
            f"max {1e6 * max(costs):.0f} µs per call over {rows} calls"
        )
        print(
            f"tracker finish(): {finish_s:.2f} s (init + table of {rows} rows + artifact + finish)"
        )


def bench_report(points: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        budgets = [1024 * 2**i for i in range(5)]
        for i in range(points):
            write_run(
                root,
                mas=("single", "agentverse", "ceo")[i % 3],
                benchmark=("math500", "aime2024", "gpqa_diamond", "humaneval")[(i // 3) % 4],
                tokens=budgets[(i // 12) % 5],
                seed=i // 60,
                correct=[(i + k) % 3 == 0 for k in range(50)],
            )
        t = time.perf_counter()
        run(parse_args([str(root), "--out", str(root / "report")]))
        print(f"report over {points} points: {time.perf_counter() - t:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=500)
    ap.add_argument("--points", type=int, default=200)
    args = ap.parse_args()
    bench_tracker(args.rows)
    bench_report(args.points)


if __name__ == "__main__":
    main()
