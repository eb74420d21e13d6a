"""``python -m harness.report PATH… [--out DIR] [--wandb ENTITY/PROJECT]
[--wandb-workspace ENTITY/PROJECT [--wandb-report]]``.

Reads run dirs or sweep dirs (every run dir below them, found by ``summary.json``, or by its
results or Hydra folder when a point crashed), and/or the runs of a W&B project, and writes
``leaderboard.md``, ``leaderboard.tex``, ``leaderboard.csv`` and the scaling plots into
``--out`` (default: ``report/`` in the first PATH).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from harness.errors import HarnessError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m harness.report",
        description="Leaderboards (Markdown, LaTeX, CSV) and scaling plots from sweeps.",
    )
    ap.add_argument("paths", nargs="*", help="run dirs or sweep dirs")
    ap.add_argument("--out", help="output folder (default: report/ in the first PATH)")
    ap.add_argument("--wandb", metavar="ENTITY/PROJECT", help="also read the runs of a W&B project")
    ap.add_argument(
        "--publish",
        metavar="[ENTITY/]PROJECT",
        help="log the tables and plots to W&B (online with credentials, else offline)",
    )
    ap.add_argument(
        "--wandb-workspace",
        metavar="ENTITY/PROJECT",
        help="create or update the sweep's W&B comparison workspace (offline: write its spec "
        "into the report folder)",
    )
    ap.add_argument(
        "--wandb-report",
        action="store_true",
        help="with --wandb-workspace: also a W&B Report (leaderboard and the same plots)",
    )
    ap.add_argument(
        "--no-pool-seeds",
        dest="pool_seeds",
        action="store_false",
        help="one entry per seed instead of pooling a setting's seeds",
    )
    ap.add_argument(
        "--cost",
        choices=("total", "completion"),
        default="total",
        help="the cost axis of accuracy_vs_cost.png: prompt + completion, or completion tokens",
    )
    ap.add_argument("--note", help="a line shown under every table and plot title")
    args = ap.parse_args(argv)
    if not args.paths and not args.wandb:
        ap.error("give at least one PATH or --wandb ENTITY/PROJECT")
    if args.wandb_report and not args.wandb_workspace:
        ap.error("--wandb-report needs --wandb-workspace ENTITY/PROJECT")
    return args


def run(args: argparse.Namespace) -> list[Path]:
    from harness.report.entries import make_entries
    from harness.report.plots import cost_plot, scaling_plots
    from harness.report.points import load_points
    from harness.report.render import dataframe, write_all
    from harness.report.trajectory import trajectory_report

    points = load_points(args.paths) if args.paths else []
    if args.wandb:
        from harness.report.wandb_source import points_from_wandb

        points += points_from_wandb(args.wandb)
    if not points:
        where = ", ".join(args.paths) or args.wandb
        raise HarnessError(f"no runs found in {where} (looked for summary.json and results.jsonl)")
    out = Path(args.out) if args.out else Path(args.paths[0] if args.paths else ".") / "report"
    entries = make_entries(points, pool_seeds=args.pool_seeds)
    files = write_all(entries, out, args.note)
    files += scaling_plots(entries, out, args.note)
    files += cost_plot(points, out, args.note, cost=args.cost)
    files += trajectory_report(points, out, args.note)  # what the discussion did, per point
    counts = Counter(p.status for p in points)
    print(
        f"{len(points)} points: "
        + ", ".join(f"{counts[s]} {s}" for s in ("complete", "partial", "failed") if counts[s])
    )
    for f in files:
        print(f"wrote {f}")
    if args.publish:
        from harness.report.publish import publish

        where = publish(out, files, dataframe(entries), args.publish)
        if where:
            print(f"logged to {where}")
    if args.wandb_workspace:
        from harness.report.wandb_view import build

        for line in build(points, args.wandb_workspace, out, report=args.wandb_report):
            print(line)
    return files


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        run(args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
