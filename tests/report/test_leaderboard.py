"""Leaderboards and plots from run directories written in the runner's layout and schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import pandas as pd
import pytest

from harness.errors import HarnessError
from harness.report.cli import parse_args, run
from harness.report.plots import pareto_front
from harness.report.wandb_source import points_from_wandb
from harness.scoring import stats
from tests.report.helpers import md_tables, rows_for, write_run

ROOT = Path(__file__).resolve().parents[2]


def report(*args: str) -> Path:
    files = run(parse_args(list(args)))
    return files[0].parent


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def test_one_table_per_setting_seeds_pooled_and_the_baseline_in_each(tmp_path):
    runs = {}
    for agents in (2, 3):
        for seed in (0, 1):
            correct = [True, agents == 3, seed == 1, False]
            runs[agents, seed] = write_run(tmp_path, agents=agents, seed=seed, correct=correct)
    for seed in (0, 1):  # mas=single does not use `agents`: it belongs in both tables
        write_run(tmp_path, mas="single", seed=seed, correct=[True, False, False, False])
    write_run(tmp_path, benchmark="aime2024", agents=3, correct=[False, True])

    out = report(str(tmp_path))
    tables = md_tables((out / "leaderboard.md").read_text())
    # agents=2 holds only pooled seeds 0,1; at agents=3 aime2024 ran one seed: each cell says
    titles = {"agents=2 (seeds 0,1 pooled)": "", "agents=3": " [seeds 0,1 pooled]"}
    assert set(tables) >= set(titles)
    for (title, mark), agents in zip(titles.items(), (2, 3), strict=True):
        rows = {r["system"]: r for r in tables[title][0]}
        assert set(rows) == {"agentverse", "single"}
        pooled = stats.accuracy(
            [
                r
                for seed in (0, 1)
                for r in rows_for([True, agents == 3, seed == 1, False], seed=seed)
            ]
        )
        cell = rows["agentverse"]["math500 (n=8)"]
        want = f"{pct(pooled['accuracy'])} ± {pct(pooled['stderr'])}{mark}"
        assert cell.replace("**", "") == want
        # the best complete entry of the column is bold, the other is not
        single = rows["single"]["math500 (n=8)"]
        assert "**" in cell and "**" not in single
        assert single == f"25.0 ± 25.0{mark}"
    # aime2024 was only run at agents=3: shown as not run at agents=2, never as 0
    assert {r["aime2024"] for r in tables["agents=2 (seeds 0,1 pooled)"][0]} == {"—"}
    aime = {r["system"]: r for r in tables["agents=3"][0]}["agentverse"]
    assert aime["aime2024 (n=2)"] == "50.0 ± 50.0 [seed=0]"

    csv = pd.read_csv(out / "leaderboard.csv")
    assert len(csv) == 4  # agentverse at agents=2 and 3, single, aime2024 (seeds pooled)
    assert set(csv["seeds"].astype(str)) == {"0,1", "0"}

    # --no-pool-seeds: one entry per seed, and seed becomes a table setting
    out2 = report(str(tmp_path), "--no-pool-seeds", "--out", str(tmp_path / "r2"))
    tables = md_tables((out2 / "leaderboard.md").read_text())
    assert "agents=2, seed=1" in tables
    row = {r["system"]: r for r in tables["agents=2, seed=1"][0]}["agentverse"]
    s = json.loads((runs[2, 1] / "summary.json").read_text())
    assert row["math500 (n=4)"].replace("**", "") == f"{pct(s['accuracy'])} ± {pct(s['stderr'])}"


def test_partial_failed_and_crashed_points_are_marked_never_zero(tmp_path):
    write_run(tmp_path, seed=0, correct=[True, True, True, True])
    write_run(
        tmp_path, seed=1, correct=[True, True], n_expected=4, complete=False, error="interrupted"
    )
    crashed = write_run(tmp_path, seed=2, correct=[True], summary=False, limit=4)
    failed = tmp_path / "tiny" / "math500" / "agentverse" / "bad-point"
    (failed / ".hydra").mkdir(parents=True)
    (failed / ".hydra" / "config.yaml").write_text(
        "model:\n  name: tiny\nmas:\n  name: agentverse\nbenchmark:\n  name: math500\n"
        "agents: 3\ntokens: abc\nturns: 3\ncritic_rounds: 2\nrepeats: 1\nseed: 3\n"
    )
    (failed / "harness.log").write_text(
        "[2026-11-29 12:00:00,000][harness][ERROR] - tokens='abc' is not a token count\n"
    )
    write_run(tmp_path, seed=4, correct=[False, True], legacy=True)  # before `complete` existed

    out = report(str(tmp_path), "--no-pool-seeds")
    csv = pd.read_csv(out / "leaderboard.csv", dtype={"seeds": str}).set_index("seeds")
    assert csv.loc["0", "status"] == "complete" and csv.loc["4", "status"] == "complete"
    assert csv.loc["1", "status"] == "partial" and csv.loc["1", "n"] == 2
    assert csv.loc["2", "status"] == "partial" and csv.loc["2", "n_expected"] == 4
    assert csv.loc["3", "status"] == "failed" and pd.isna(csv.loc["3", "accuracy"])
    md = (out / "leaderboard.md").read_text()
    tables = md_tables(md)
    cell = tables["tokens=2048, seed=1"][0][0]["math500"]
    assert cell == "100.0 ± 0.0 (n=2/4)†"
    assert "**" not in cell  # an incomplete run is never the best
    assert tables["tokens=2048, seed=2"][0][0]["math500"] == "100.0 (n=1/4)†"
    assert tables["tokens=abc, seed=3"][0][0]["math500"] == "failed‡"
    assert "tokens='abc' is not a token count" in md and str(failed) in md
    assert "no summary.json" in md and str(crashed) in md
    tex = (out / "leaderboard.tex").read_text()
    assert r"$^\dagger$" in tex and r"$^\ddagger$" in tex

    # pooled, an incomplete seed makes the whole entry incomplete (and says which)
    out = report(str(tmp_path), "--out", str(tmp_path / "pooled"))
    md = (out / "leaderboard.md").read_text()
    assert "partial, n=" in md and "seed 1: interrupted" in md


def test_points_that_differ_outside_the_knobs_are_kept_apart(tmp_path):
    write_run(tmp_path / "a", correct=[True, True], config_hash="aaaa1111")
    write_run(tmp_path / "b", correct=[False, False], config_hash="bbbb2222")
    out = report(str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "r"))
    rows = md_tables((out / "leaderboard.md").read_text())["Accuracy"][0]
    assert {r["model"] for r in rows} == {"tiny [config aaaa1111]", "tiny [config bbbb2222]"}


def test_latex_is_booktabs_without_vertical_rules(tmp_path):
    write_run(tmp_path, benchmark="gpqa_diamond", correct=[True, False])
    write_run(tmp_path, mas="ceo", benchmark="gpqa_diamond", correct=[True, True])
    tex = (report(str(tmp_path)) / "leaderboard.tex").read_text()
    spec = tex.split(r"\begin{tabular}{")[1].split("}")[0]
    assert "|" not in spec and spec == "llr"
    assert tex.index(r"\toprule") < tex.index(r"\midrule") < tex.index(r"\bottomrule")
    assert r"gpqa\_diamond" in tex and r"\textbf{100.0}" in tex and r"\hline" not in tex


def test_where_the_tokens_go_by_role(tmp_path):
    write_run(tmp_path, correct=[True, False])
    md = (report(str(tmp_path)) / "leaderboard.md").read_text()
    (row,) = md_tables(md)["Where the tokens go"][0]
    # per problem: solver 100 + 50, critic 200 + 50 (helpers.rows_for)
    assert row["solver"] == "150 (38%)" and row["critic"] == "250 (62%)"
    assert row["system"] == "agentverse"


def test_pareto_front_keeps_what_no_cheaper_point_beats():
    pts = [(4, 20), (1, 10), (2, 5), (3, 20), (5, 30), (5, 25)]
    assert pareto_front(pts) == [(1, 10), (3, 20), (5, 30)]


def test_plots_are_written_for_each_swept_knob(tmp_path):
    for tokens in (1024, 2048, 4096):
        for mas in ("agentverse", "ceo"):
            write_run(tmp_path, mas=mas, tokens=tokens, correct=[True, tokens > 1024, False])
    out = report(str(tmp_path), "--note", "synthetic runs")
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["accuracy_vs_cost.png", "scaling_tokens.png"]
    for p in out.glob("*.png"):
        h, w, _ = matplotlib.image.imread(p).shape
        assert h > 300 and w > 300


class _Run:
    def __init__(self, id, config, summary, state="finished"):
        self.id, self.config, self.summary_metrics, self.state = id, config, summary, state


class _Api:
    """A stand-in for wandb.Api: the real one needs the network and an account."""

    def __init__(self, runs):
        self._runs = runs

    def runs(self, path):
        assert path == "team/proj"
        return self._runs


def test_points_from_a_wandb_project_through_a_stub_api():
    cfg = {"model": "tiny", "mas": "ceo", "benchmark": "math500", "tokens": 2048, "seed": 0}
    full = {"n": 4, "accuracy": 0.5, "stderr": 0.25, "n_expected": 4, "complete": True}
    runs = [
        _Run("a", cfg, full),
        _Run("b", {**cfg, "seed": 1}, {**full, "n": 2, "complete": True}, state="crashed"),
        _Run("c", {"lr": 0.1}, {"loss": 1.0}),  # not a harness run
    ]
    points = points_from_wandb("team/proj", api_factory=lambda: _Api(runs))
    assert [(p.source, p.status) for p in points] == [
        ("wandb:team/proj/a", "complete"),
        ("wandb:team/proj/b", "partial"),
    ]
    assert points[1].error == "W&B run state: crashed"
    with pytest.raises(HarnessError, match="ENTITY/PROJECT"):
        points_from_wandb("proj", api_factory=lambda: _Api([]))


def test_no_runs_is_one_line_and_exit_2(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "harness.report", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"error: no runs found in {tmp_path} (looked for summary.json and results.jsonl)"
    ]


def test_publish_logs_tables_and_plots_to_an_offline_wandb_run(tmp_path):
    from tests.tracking.wandb_records import offline_runs, run_view

    for tokens in (1024, 2048):
        write_run(tmp_path, tokens=tokens, correct=[True, tokens > 1024])
    out = report(str(tmp_path), "--publish", "team/harness-reports")
    (folder,) = offline_runs(out)
    view = run_view(folder)
    assert view["job_type"] == "report"
    logged = {k.split("/_type")[0] for h in view["history"] for k in h if k.endswith("/_type")}
    assert {"leaderboard", "plots/scaling_tokens", "plots/accuracy_vs_cost"} <= logged
    (art,) = [a for a in view["artifacts"] if a["type"] == "report"]
    assert {"leaderboard.md", "leaderboard.tex", "leaderboard.csv"} <= set(art["files"])


def test_a_run_without_token_counts_still_gets_its_cost_plot(tmp_path):
    """model=oracle counts no tokens: the cost axis turns linear instead of dropping the point."""
    run_dir = write_run(tmp_path, model="oracle", correct=[True, True])
    s = json.loads((run_dir / "summary.json").read_text())
    (run_dir / "summary.json").write_text(json.dumps({**s, "tokens_per_problem": 0.0}))
    out = report(str(tmp_path))
    assert (out / "accuracy_vs_cost.png").exists()
