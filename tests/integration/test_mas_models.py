"""The multi-agent protocol on real models through the real CLI: call counts match the protocol
on the tiny model, and SmolLM2-135M (a real instruct model) runs every role end to end."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import read_jsonl, run_cli

# Short role limits keep the random tiny model's rambling cheap.
SHORT_ROLES = [f"mas.role_tokens.{r}=24" for r in ("recruiter", "evaluator", "executor", "ceo")]


def _check_protocol(run: Path, agents: int, turns: int, critic_rounds: int, mas: str) -> None:
    summary = json.loads((run / "summary.json").read_text())
    rows = read_jsonl(run / "results.jsonl")
    assert summary["n"] == len(rows) > 0
    assert summary["calls"] == sum(r["calls"] for r in rows)
    for t in read_jsonl(run / "transcripts.jsonl"):
        roles = Counter((c["role"], c["round"]) for c in t["calls"])
        reviews = [e for e in t["events"] if e["kind"] == "review"]
        assert 1 <= t["rounds"] <= turns
        for rnd in range(1, t["rounds"] + 1):
            n_agents = t["agents"][rnd - 1]
            assert 1 <= n_agents <= agents
            assert roles[("recruiter", rnd)] == 1 and roles[("evaluator", rnd)] == 1
            in_round = [e for e in reviews if e["round"] == rnd]
            assert 1 <= len(in_round) <= critic_rounds
            for e in in_round:  # every critic answered every review
                assert e["agree"] + e["disagree"] + e["abstain"] == n_agents - 1
            assert roles[("critic", rnd)] == (n_agents - 1) * len(in_round)
            # the solver proposes once and revises after each review with an objection
            revisions = sum(1 for e in in_round if e["disagree"] > 0)
            assert roles[("solver", rnd)] == 1 + revisions
            if mas == "ceo":
                assert roles[("ceo", rnd)] == 1
        if mas == "ceo":
            decisions = [e for e in t["events"] if e["kind"] == "ceo_decision"]
            assert decisions and all(1 <= d["agents"] <= agents for d in decisions)
            assert all(d["budget"] <= summary["tokens"] for d in decisions)


def test_protocol_call_counts_on_the_tiny_model(tmp_path, data_dir):
    # both systems in one sweep: one process, the weights loaded once for its four points
    r = run_cli(
        "-m",
        "mas=agentverse,ceo",
        "model=tiny",
        "agents=2,3",
        "tokens=32",
        "turns=2",
        "critic_rounds=2",
        "limit=2",
        "mas.parse_retries=0",
        *SHORT_ROLES,
        f"hydra.sweep.dir={tmp_path}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    runs = sorted(p.parent for p in tmp_path.rglob("summary.json"))
    summaries = [json.loads((run / "summary.json").read_text()) for run in runs]
    assert sorted((s["mas"], s["agents"]) for s in summaries) == [
        ("agentverse", 2), ("agentverse", 3), ("ceo", 2), ("ceo", 3)
    ]  # fmt: skip
    for run, summary in zip(runs, summaries, strict=True):
        _check_protocol(run, summary["agents"], turns=2, critic_rounds=2, mas=summary["mas"])


def test_code_task_runs_the_executor_in_the_sandbox(tmp_path, data_dir):
    r = run_cli(
        "model=oracle",
        "mas=agentverse",
        "benchmark=humaneval",
        "limit=3",
        f"hydra.run.dir={tmp_path}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["accuracy"] == 1.0 and summary["n"] == 3
    for t in read_jsonl(tmp_path / "transcripts.jsonl"):
        runs = [e for e in t["events"] if e["kind"] == "execution"]
        assert runs and runs[0]["verdict"] == "passed"


@pytest.mark.slow
@pytest.mark.parametrize("mas", ["single", "ceo"])
def test_smollm2_runs_the_protocol_end_to_end(tmp_path, mas, data_dir):
    r = run_cli(
        f"mas={mas}",
        "model=smollm2-135m",
        "benchmark=math500",
        "limit=2",
        "tokens=48",
        "turns=1",
        "critic_rounds=1",
        "agents=2",
        *([] if mas == "single" else [*SHORT_ROLES, "mas.parse_retries=0"]),
        f"hydra.run.dir={tmp_path}",
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["n"] == 2 and summary["completion_tokens"] > 0
    transcripts = read_jsonl(tmp_path / "transcripts.jsonl")
    outputs = [c["output"] for t in transcripts for c in t["calls"]]
    assert any(len(o.split()) >= 3 for o in outputs)  # a real model writes words
    if mas == "ceo":
        _check_protocol(tmp_path, 2, turns=1, critic_rounds=1, mas="ceo")


@pytest.mark.slow
def test_llm_judge_is_recorded_beside_the_symbolic_score(tmp_path, data_dir):
    r = run_cli(
        "model=oracle",
        "scoring.judge=smollm2-135m",
        "scoring.judge_tokens=16",
        "limit=3",
        f"hydra.run.dir={tmp_path}",
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["accuracy"] == 1.0  # the symbolic score decides
    assert summary["judge_n"] + summary["judge_unparsed"] == 3
    rows = read_jsonl(tmp_path / "results.jsonl")
    assert all("judge_correct" in r and r["score_details"]["judge"]["output"] for r in rows)


@pytest.mark.slow
def test_a_rerun_asks_for_exactly_the_same_calls(tmp_path, data_dir):
    """Per-call seeds make a rerun identical, so the response cache serves every call."""
    common = [
        "mas=ceo",
        "model=tiny",
        "agents=3",
        "tokens=24",
        "turns=2",
        "limit=3",
        "temperature=0.7",
        *SHORT_ROLES,
        "run.response_cache=true",
        f"run.response_cache_path={tmp_path / 'cache.sqlite'}",
    ]
    first, second = tmp_path / "a", tmp_path / "b"
    assert run_cli(*common, f"hydra.run.dir={first}").returncode == 0
    r = run_cli(*common, f"hydra.run.dir={second}")
    assert r.returncode == 0, r.stderr[-3000:]
    s1 = json.loads((first / "summary.json").read_text())
    s2 = json.loads((second / "summary.json").read_text())
    assert s1["response_cache"]["hits"] == 0
    assert s2["response_cache"] == {"hits": s1["calls"], "misses": 0}
    t1, t2 = read_jsonl(first / "transcripts.jsonl"), read_jsonl(second / "transcripts.jsonl")
    key = lambda t: t["id"]  # noqa: E731
    for a, b in zip(sorted(t1, key=key), sorted(t2, key=key), strict=True):
        # parallel critics finish in any order: compare the calls as a set
        def calls(t):
            return sorted((c["role"], c["round"], c["seed"], c["output"]) for c in t["calls"])  # noqa: E731

        assert calls(a) == calls(b)
