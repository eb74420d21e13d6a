"""A mas=ceo episode rebuilt, in order, from transcripts.jsonl alone (harness.transcript), on a
code benchmark through the real CLI and the real sandbox; and a crash between a transcript line
and its result line leaves exactly one episode per problem after the resume (a real kill -9
mid-run: tests/integration/test_cli.py)."""

from __future__ import annotations

import json
from collections import Counter

from harness.transcript import SCHEMA, read_episodes, timeline
from tests.conftest import read_jsonl, run_cli

# The oracle's CEO asks for 2 experts; min_agents=3 clamps that to 3 (two critics), and
# end_on_correct=false keeps the second round, in which the executor re-runs its tests.
CEO_ON_MBPP = [
    "mas=ceo",
    "model=oracle",
    "benchmark=mbpp_sanitized",
    "agents=3",
    "turns=2",
    "critic_rounds=2",
    "mas.ceo.min_agents=3",
    "mas.end_on_correct=false",
]
ROUND = ["decide", "recruit", "propose", "review", "review"]


def test_a_ceo_episode_is_rebuilt_in_order_from_the_transcript(tmp_path, data_dir):
    r = run_cli(*CEO_ON_MBPP, "limit=2", f"hydra.run.dir={tmp_path}")
    assert r.returncode == 0, r.stderr[-3000:]
    episodes = list(read_episodes(tmp_path))
    assert len(episodes) == 2
    for row, ep in episodes:
        assert ep["schema"] == SCHEMA and ep["mas"] == "ceo"
        assert ep["attempt"] == row["attempt"] and row["correct"] is True
        items = timeline(ep)
        steps = [(x["round"], x["step"]) for x in items if x["type"] == "call"]
        # the protocol, round by round, exactly as it ran (the critics' order may vary)
        assert steps == [
            *[(1, s) for s in ROUND],
            (1, "write_tests"),  # written once, in the first round with code
            (1, "evaluate"),
            *[(2, s) for s in ROUND],
            (2, "evaluate"),
        ]
        calls = {x["seq"]: x for x in items if x["type"] == "call"}
        events = [x for x in items if x["type"] == "event"]
        kinds = [e["kind"] for e in events]
        # every critic's verdict, each naming its own call
        verdicts = [e for e in events if e["kind"] == "verdict"]
        critic_calls = [c for c in calls.values() if c["role"] == "critic"]
        assert len(verdicts) == len(critic_calls) == 4
        assert sorted(e["call"] for e in verdicts) == sorted(c["seq"] for c in critic_calls)
        assert {(e["round"], e["agent"]) for e in verdicts} == {(1, 1), (1, 2), (2, 1), (2, 2)}
        assert all(e["agree"] is True for e in verdicts)
        # the executor: tests written once, run on each round's solution, output recorded
        (tests,) = [e for e in events if e["kind"] == "tests"]
        assert calls[tests["call"]]["step"] == "write_tests" and tests["code"]
        runs = [e for e in events if e["kind"] == "execution"]
        assert [e["round"] for e in runs] == [1, 2]
        for run in runs:
            assert run["tests_from"] == tests["call"] and tests["code"] in run["program"]
            assert run["verdict"] == "passed" and "verdict: passed" in run["output"]
            assert calls[run["call"]]["step"] == "propose"  # the solution that was run
        # the CEO's decisions and the evaluation, each after the call it came from
        assert kinds.count("ceo_decision") == 2 and kinds.count("evaluation") == 2
        for e in events:
            if e["call"] is not None:
                assert e["call"] < e["seq"]
        decisions = [e for e in events if e["kind"] == "ceo_decision"]
        assert all(d["agents"] == 3 for d in decisions)
        assert "recruit number 2 clamped to 3" in decisions[0]["adjustments"]
        # the evaluator read the executor's report
        evaluate = [c for c in calls.values() if c["step"] == "evaluate"]
        assert all("verdict: passed" in c["messages"][-1]["content"] for c in evaluate)
        # what the solver saw: its own history carried into round 2
        proposals = [c for c in calls.values() if c["step"] == "propose"]
        assert "<history>" in proposals[1]["messages"][-1]["content"]
        assert proposals[0]["output"] in proposals[1]["messages"][-1]["content"]


def test_a_crash_between_transcript_and_result_leaves_one_episode_per_problem(tmp_path, data_dir):
    args = [*CEO_ON_MBPP, "limit=3", f"hydra.run.dir={tmp_path}"]
    assert run_cli(*args).returncode == 0
    results = tmp_path / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    # the state a kill -9 leaves between the two writes: a transcript no result names
    results.write_text("".join(lines[:-1]))
    lost = json.loads(lines[-1])
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = read_jsonl(results)
    transcripts = read_jsonl(tmp_path / "transcripts.jsonl")
    assert len(rows) == 3 and len(transcripts) == 4  # the orphan stays in the file ...
    assert Counter(t["id"] for t in transcripts)[lost["id"]] == 2
    episodes = list(read_episodes(tmp_path))  # ... but is never read as an episode
    assert sorted(row["id"] for row, _ in episodes) == sorted(row["id"] for row in rows)
    assert all(row["attempt"] == ep["attempt"] for row, ep in episodes)
    redone = next(ep for row, ep in episodes if row["id"] == lost["id"])
    assert redone["attempt"] != lost["attempt"]
