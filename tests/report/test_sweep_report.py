"""A real sweep through the CLI (tiny model, W&B offline) → leaderboard, plots and W&B runs, each
number checked against the runs' own summary.json; then the crashed, killed and rerun cases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness.scoring import stats
from harness.tracking.naming import wandb_run_id
from harness.transcript import results_by_key
from tests.conftest import ROOT, cli_env, run_cli, start_cli, wait_for_results
from tests.report.helpers import md_tables
from tests.tracking.wandb_records import offline_runs, run_view

pytestmark = pytest.mark.slow

SWEEP = ("-m", "model=tiny", "mas=single", "tokens=16,32", "seed=0,1", "limit=2")
FILTER_KEYS = ("model", "mas", "benchmark", "agents", "tokens", "turns", "critic_rounds", "seed")
SCALARS = (
    "n",
    "n_expected",
    "complete",
    "accuracy",
    "stderr",
    "correct",
    "calls",
    "prompt_tokens",
    "completion_tokens",
    "tokens_per_problem",
    "no_answer",
    "config_hash",
    "run_id",
)


def _report(*args: str) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, "-m", "harness.report", *args],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def _summaries(sweep: Path) -> dict[Path, dict]:
    return {
        p.parent: json.loads(p.read_text())
        for p in sweep.rglob("summary.json")
        if "wandb" not in p.parts
    }


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def test_sweep_to_leaderboard_plots_and_wandb_then_rerun(tmp_path, data_dir):
    sweep = tmp_path / "sweep"
    r = run_cli(*SWEEP, f"hydra.sweep.dir={sweep}", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    summaries = _summaries(sweep)
    assert len(summaries) == 4 and all(s["complete"] for s in summaries.values())

    # -- one entry per point: every number against that point's summary.json ----------------
    _report(str(sweep), "--no-pool-seeds", "--out", str(tmp_path / "points"))
    csv = pd.read_csv(tmp_path / "points" / "leaderboard.csv")
    assert len(csv) == 4
    tables = md_tables((tmp_path / "points" / "leaderboard.md").read_text())
    for run_dir, s in summaries.items():
        (row,) = csv[csv["sources"] == str(run_dir)].to_dict("records")
        assert (row["tokens"], row["seeds"], row["status"]) == (s["tokens"], s["seed"], "complete")
        for key in ("n", "n_expected", "accuracy", "stderr", "tokens_per_problem", "no_answer"):
            assert row[key] == pytest.approx(s[key]), key
        title = f"tokens={s['tokens']}, seed={s['seed']}"
        acc, cost = tables[title]
        assert acc[0][f"math500 (n={s['n']})"] == f"{pct(s['accuracy'])} ± {pct(s['stderr'])}"
        no_answer = f"{100 * s['no_answer'] / s['n']:.0f}%"
        assert cost[0]["math500"] == f"{s['tokens_per_problem']:,.0f} · {no_answer}"
    tex = (tmp_path / "points" / "leaderboard.tex").read_text()
    assert tex.count(r"\begin{table}") == 4 and r"\toprule" in tex

    # -- default report (into sweep/report): seeds pooled over the points' result lines ------
    out = _report(str(sweep)).stdout
    assert "4 points: 4 complete" in out
    report = sweep / "report"
    tables = md_tables((report / "leaderboard.md").read_text())
    for tokens in (16, 32):
        rows = [
            r
            for d, s in summaries.items()
            if s["tokens"] == tokens
            for r in results_by_key(d).values()
        ]
        pooled = stats.accuracy(rows)
        (acc_row,) = tables[f"tokens={tokens}"][0]
        assert acc_row["math500 (n=4)"] == f"{pct(pooled['accuracy'])} ± {pct(pooled['stderr'])}"
    # (trajectory_scaling.png: the runs graded their answers, harness.trajectory)
    pngs = {p.name for p in report.glob("*.png")}
    assert pngs == {"scaling_tokens.png", "accuracy_vs_cost.png", "trajectory_scaling.png"}

    # -- W&B: one offline run per point, holding the config keys and summary.json's figures --
    group = " ".join(SWEEP[1:])
    ids = {}
    for run_dir, s in summaries.items():
        (folder,) = offline_runs(run_dir)
        view = run_view(folder)
        ids[run_dir] = view["id"]
        assert view["id"] == wandb_run_id(run_dir)
        assert view["group"] == group and view["job_type"] == "math500"
        assert view["name"] == s["run_id"]
        for key in FILTER_KEYS:
            assert view["config"][key] == s[key], key
        for key in SCALARS:
            assert view["summary"][key] == s[key], key
        assert view["exit_code"] == 0
        assert view["config"]["git"] == s["git"]
        problems = [h for h in view["history"] if "problems/_type" in h]
        assert problems and problems[-1]["problems/nrows"] == s["n"]

    # -- the same command again: nothing recomputed, the same W&B run ids resumed ------------
    lines = {d: (d / "results.jsonl").read_text() for d in summaries}
    r = run_cli(*SWEEP, f"hydra.sweep.dir={sweep}", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    for run_dir, s in _summaries(sweep).items():
        assert s["computed_this_session"] == 0 and s["complete"]
        assert (run_dir / "results.jsonl").read_text() == lines[run_dir]
        first, second = offline_runs(run_dir)
        assert run_view(second)["id"] == ids[run_dir] == run_view(first)["id"]


def test_a_crashed_and_a_killed_point_show_as_incomplete(tmp_path, data_dir):
    sweep = tmp_path / "sweep"
    # a sweep with one bad point: its data file does not exist
    r = run_cli(
        "-m",
        "model=tiny",
        "mas=single",
        "tokens=16",
        "limit=2",
        f"benchmark.data_files=null,{tmp_path}/missing.jsonl",
        f"hydra.sweep.dir={sweep}",
        timeout=900,
    )
    assert r.returncode == 2  # the sweep reports its failed point (bad input, README)
    # a point killed (-9) while running
    killed = tmp_path / "killed"
    proc = start_cli("model=tiny", "mas=single", "tokens=16", "limit=40", f"hydra.run.dir={killed}")
    try:
        wait_for_results(killed, 1, proc, timeout=600)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    n_done = len(results_by_key(killed))
    assert 1 <= n_done < 40

    out = tmp_path / "report"
    printed = _report(str(sweep), str(killed), "--out", str(out)).stdout
    assert "3 points: 1 complete, 1 partial, 1 failed" in printed
    csv = pd.read_csv(out / "leaderboard.csv")
    by_status = {row["status"]: row for row in csv.to_dict("records")}
    assert set(by_status) == {"complete", "partial", "failed"}
    assert by_status["partial"]["n"] == n_done and by_status["partial"]["n_expected"] == 40
    assert pd.isna(by_status["failed"]["accuracy"])  # never shown as zero
    md = (out / "leaderboard.md").read_text()
    assert f"(n={n_done}/40)†" in md and "failed‡" in md


def test_a_failed_points_own_error_is_in_the_leaderboard(tmp_path, data_dir):
    sweep = tmp_path / "sweep"
    r = run_cli(
        "-m",
        "model=tiny",
        "mas=single",
        "limit=2",
        f"benchmark.data_files={tmp_path}/missing.jsonl",
        f"hydra.sweep.dir={sweep}",
        timeout=600,
    )
    assert r.returncode == 2 and "missing.jsonl" in r.stderr
    out = tmp_path / "report"
    assert "1 points: 1 failed" in _report(str(sweep), "--out", str(out)).stdout
    assert "missing.jsonl" in (out / "leaderboard.md").read_text()
