"""The real CLI end to end: Hydra compose, tiny model, run store, resume, errors, sweeps."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from harness.transcript import read_episodes
from tests.conftest import ROOT, read_jsonl, run_cli, start_cli, wait_for_results

SUMMARY_KEYS = {
    "benchmark",
    "model",
    "mas",
    "n",
    "accuracy",
    "stderr",
    "wall_s",
    "calls",
    "prompt_tokens",
    "completion_tokens",
}


def test_tiny_model_run_writes_the_run_store(tmp_path, data_dir):
    out = tmp_path / "run"
    r = run_cli(
        "model=tiny",
        "mas=single",
        "benchmark=math500",
        "limit=4",
        "tokens=24",
        f"hydra.run.dir={out}",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) >= SUMMARY_KEYS
    assert summary["n"] == 4 and summary["calls"] == 4
    assert 0 < summary["completion_tokens"] <= 4 * 24
    rows = read_jsonl(out / "results.jsonl")
    assert [r["repeat"] for r in rows] == [0] * 4
    assert {"id", "repeat", "correct", "answer", "completion_tokens", "latency_s"} <= set(rows[0])
    transcripts = read_jsonl(out / "transcripts.jsonl")
    assert len(transcripts) == 4 and transcripts[0]["calls"][0]["role"] == "solver"
    cfg = (out / "config.yaml").read_text()
    assert "tokens: 24" in cfg and "${" not in cfg  # resolved


# Each oracle runs once in CI: MATH-500 (500) in the contract checks (../shared/checks/contracts,
# `make contracts`), MBPP-S (all 427) and HumanEval (164) through this same CLI in
# test_grading_under_load.py (`make test-slow`), with a core kept busy.
@pytest.mark.parametrize(
    ("benchmark", "n"),
    [
        ("aime2024", 30),
        ("aime2025", 30),
        ("scibench", 580),
        ("commongen_hard", 200),
    ],
)
def test_oracle_scores_100_percent_through_the_cli(tmp_path, benchmark, n, data_dir):
    """Data, extraction, scoring and (for code) the real sandbox, end to end."""
    out = tmp_path / "oracle"
    r = run_cli("model=oracle", *f"benchmark={benchmark}".split(), f"hydra.run.dir={out}")
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["n"], summary["accuracy"]) == (n, 1.0)
    assert summary["sandbox_errors"] == 0


def test_replay_scores_unanswered_problems_and_reports_unknown_ids(tmp_path, data_dir):
    first = json.loads((data_dir / "math500.jsonl").read_text().splitlines()[0])
    replay = tmp_path / "replay.jsonl"
    replay.write_text(
        json.dumps({"id": first["unique_id"], "response": f"\\boxed{{{first['answer']}}}"})
        + "\n"
        + json.dumps({"id": "no-such-problem", "response": "\\boxed{1}"})
        + "\n"
    )
    out = tmp_path / "replay"
    r = run_cli("model=replay", f"model.path={replay}", "limit=3", f"hydra.run.dir={out}")
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == 3 and summary["correct"] == 1
    assert summary["unknown_ids"] == ["no-such-problem"]
    assert len(summary["unanswered_ids"]) == 2


KILLED = 12  # problems in the killed run


def test_kill_minus_9_then_rerun_counts_every_problem_once(tmp_path, data_dir):
    """A real kill -9 mid-run; the rerun completes it, every problem counted once and every
    recorded result with exactly one episode. (The project's one kill -9-then-resume test: the
    contract checks of ../shared run their own in CI.)"""
    out = tmp_path / "resume"
    args = [
        "model=tiny",
        "mas=single",
        f"limit={KILLED}",
        "tokens=192",  # long enough that the kill lands mid-run
        "model.max_concurrency=2",
        f"hydra.run.dir={out}",
    ]
    proc = start_cli(*args)
    results = out / "results.jsonl"
    try:
        assert wait_for_results(out, 3, proc, timeout=900), "no 3 results while it ran"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = results.read_text().count("\n")
    assert 3 <= before < KILLED, "the run should have been killed part-way"
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = read_jsonl(results)
    keys = [(row["id"], row["repeat"]) for row in rows]
    assert len(keys) == len(set(keys)) == KILLED
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n"] == KILLED and summary["computed_this_session"] == KILLED - before
    episodes = list(read_episodes(out))
    assert sorted((row["id"], row["repeat"]) for row, _ in episodes) == sorted(keys)
    assert all(row["attempt"] == ep["attempt"] for row, ep in episodes)


def test_finished_run_does_no_work_on_rerun(tmp_path, data_dir):
    out = tmp_path / "again"
    args = ("model=tiny", "mas=single", "limit=2", "tokens=8", f"hydra.run.dir={out}")
    assert run_cli(*args).returncode == 0
    # The model path now points nowhere: a rerun that loaded the model would fail.
    r = run_cli(*args, HARNESS_CACHE=str(tmp_path / "empty-cache"))
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["computed_this_session"] == 0 and summary["n"] == 2
    assert not (tmp_path / "empty-cache").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "tokens=banana",
            "tokens='banana' is not a token count (accepted: 8k, 16k, 32k or an integer)",
        ),
        ("agents=0", "agents=0 must be at least 1"),
        ("benchmark.data_files=/no/such/file.jsonl", "data file not found: /no/such/file.jsonl"),
        ("benchmark.task=nope", "unknown benchmark task 'nope'; accepted: math500"),
    ],
)
def test_bad_input_gives_one_line_and_exit_2(tmp_path, override, message, data_dir):
    r = run_cli("model=oracle", "limit=1", override, f"hydra.run.dir={tmp_path}")
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0, r.stderr
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_group_option_lists_what_is_accepted(tmp_path):
    r = run_cli("model=nope", f"hydra.run.dir={tmp_path}")
    assert r.returncode == 1  # Hydra's own rejection, before the harness runs (README)
    assert "Could not find 'model/nope'" in r.stderr and "tiny" in r.stderr
    assert "Traceback" not in r.stderr


def test_help_and_cfg_job_work_as_in_hydra():
    r = run_cli("--help")
    assert r.returncode == 0 and "agents, tokens" in r.stdout and "mas: " in r.stdout
    r = run_cli("--cfg", "job", "tokens=16k", "mas=ceo")
    assert r.returncode == 0 and "tokens: 16k" in r.stdout and "stop_on:" in r.stdout


def test_sweep_writes_one_run_per_point(tmp_path, data_dir):
    r = run_cli(
        "-m",
        "model=tiny",
        "mas=single",
        "seed=0,1",
        "tokens=16,32",
        "limit=1",
        f"hydra.sweep.dir={tmp_path}",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    summaries = sorted(Path(tmp_path).rglob("summary.json"))
    assert len(summaries) == 4
    points = {
        (json.loads(p.read_text())["seed"], json.loads(p.read_text())["tokens"]) for p in summaries
    }
    assert points == {(0, 16), (0, 32), (1, 16), (1, 32)}
    # the points run in one process, which loads the weights once
    assert (r.stdout + r.stderr).count("loaded ") == 1


def test_repeats_report_clustered_figures_by_domain(tmp_path, data_dir):
    code, math = tmp_path / "code", tmp_path / "math"
    assert (
        run_cli(
            "model=oracle", "benchmark=humaneval", "repeats=2", "limit=3", f"hydra.run.dir={code}"
        ).returncode
        == 0
    )
    assert (
        run_cli(
            "model=oracle", "benchmark=math500", "repeats=2", "limit=3", f"hydra.run.dir={math}"
        ).returncode
        == 0
    )
    s = json.loads((code / "summary.json").read_text())
    assert (s["n"], s["n_problems"], s["pass@1"], s["pass@2"]) == (6, 3, 1.0, 1.0)
    assert "majority_accuracy" not in s
    s = json.loads((math / "summary.json").read_text())
    assert (s["n"], s["majority_accuracy"]) == (6, 1.0) and "pass@2" not in s


def test_a_model_that_cannot_be_loaded_is_one_line(tmp_path, data_dir):
    r = run_cli("model=tiny", "model.path=/no/such/model", "limit=1", f"hydra.run.dir={tmp_path}")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "could not load model 'tiny' from /no/such/model" in r.stderr.strip().splitlines()[-1]


def test_oracle_answers_the_question_posed_in_each_repeat(tmp_path):
    """GPQA reshuffles choices per repeat when asked: the right letter moves, and the oracle
    must follow it (a made-up fixture: GPQA's data is not shared)."""
    fixture = ROOT / "tests" / "fixtures" / "gpqa_diamond.jsonl"
    r = run_cli(
        "model=oracle",
        "benchmark=gpqa_diamond",
        f"benchmark.data_files={fixture}",
        "benchmark.shuffle_per_repeat=true",
        "repeats=3",
        f"hydra.run.dir={tmp_path}",
    )
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert (summary["n"], summary["accuracy"]) == (120, 1.0)
    letters = {}
    for row in read_jsonl(tmp_path / "results.jsonl"):
        letters.setdefault(row["id"], set()).add(row["answer"])
    assert all(len(v) > 1 for v in letters.values())  # the answer letter moved across repeats
