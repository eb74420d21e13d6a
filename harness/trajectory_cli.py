"""``python -m harness.trajectory RUN_DIR… [--grade]``: the answer-trajectory figures of runs.

Prints each run's figures (``harness.trajectory_stats``) from the ``graded`` events of its
transcripts. ``--grade`` first grades the answers of episodes that have none (a run made with
``scoring.trajectory=false`` or by an older harness) with the run's own task and scoring
settings from its ``config.yaml``, exactly as the runner does during a run, rewrites
``transcripts.jsonl`` (atomically; every line kept, graded events appended to the episodes
that lacked them) and merges the figures into ``summary.json``. Final scores are never touched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.problem import Score
from harness.trajectory import EVENT, annotate
from harness.trajectory_stats import run_stats
from harness.transcript import iter_records, results_by_key

SHOWN = (
    "trajectory_n",
    "first_proposal_accuracy",
    "final_accuracy",
    "discussion_gain",
    "flips_right_to_wrong",
    "flips_wrong_to_right",
    "rescued_rate",
    "talked_out_rate",
    "evaluator_accepted_wrong_rate",
    "evaluator_rejected_right_rate",
    "critics_agreed_wrong_rate",
    "critics_disagreed_right_rate",
)


async def grade_run(run_dir: Path) -> int:
    """Grade the answers of every episode of ``run_dir`` that has none; returns how many."""
    from omegaconf import OmegaConf

    from harness.run_settings import saved_run_settings
    from harness.scoring.context import ScoringContext
    from tasks import get_task

    benchmark, scoring, sandbox = saved_run_settings(OmegaConf.load(run_dir / "config.yaml"))
    task = get_task(benchmark)
    problems = {p.id: p for p in task.load()}
    results = results_by_key(run_dir)
    ctx = ScoringContext(scoring, sandbox)
    lines: list[dict[str, Any]] = []
    graded = 0
    try:
        for ep in iter_records(run_dir / "transcripts.jsonl"):
            lines.append(ep)
            if any(e.get("kind") == EVENT for e in ep.get("events") or []):
                continue
            problem = problems.get(str(ep.get("id")))
            row = results.get((str(ep.get("id")), int(ep.get("repeat", 0))))
            if problem is None or row is None or row.get("attempt") != ep.get("attempt"):
                continue  # a problem no longer in the data, or an attempt no result names
            posed = task.problem_for_repeat(problem, int(ep.get("repeat", 0)))
            final = Score(bool(row.get("correct")), row.get("answer"), row.get("reason"))
            final.details = dict(row.get("score_details") or {})

            async def score(text: str, posed: Any = posed) -> Score:
                return await task.score(posed, text, ctx)

            if await annotate(ep, score, final):
                graded += 1
    finally:
        ctx.close()
    if graded:
        path = run_dir / "transcripts.jsonl"
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for ep in lines:
                f.write(json.dumps(ep, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
    return graded


def update_summary(run_dir: Path) -> dict[str, Any]:
    """Merge the trajectory figures into ``summary.json`` (over the results it counts)."""
    stats = run_stats(run_dir)
    path = run_dir / "summary.json"
    if stats and path.exists():
        summary = json.loads(path.read_text())
        summary.update(stats)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
        tmp.replace(path)
    return stats


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        prog="python -m harness.trajectory",
        description="Answer-trajectory figures of runs (what the discussion did).",
    )
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR")
    ap.add_argument(
        "--grade",
        action="store_true",
        help="grade the answers of episodes that have no graded events, then update summary.json",
    )
    args = ap.parse_args(argv)
    try:
        for name in args.runs:
            run_dir = Path(name)
            if not (run_dir / "results.jsonl").is_file():
                raise HarnessError(f"{run_dir}: not a run directory (no results.jsonl)")
            if args.grade:
                n = asyncio.run(grade_run(run_dir))
                print(f"{run_dir}: graded the answers of {n} episodes")
                stats = update_summary(run_dir)
            else:
                stats = run_stats(run_dir)
            if not stats:
                print(
                    f"{run_dir}: no graded answers (run with scoring.trajectory=true, or --grade)"
                )
                continue
            print(run_dir)
            for key in SHOWN:
                print(f"  {key}: {stats.get(key)}")
            print(f"  trajectory_classes: {stats.get('trajectory_classes')}")
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
