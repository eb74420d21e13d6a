"""Trace export on a run written by hand from the transcript schema."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, cli_env, read_jsonl
from tests.training.transcript_fixture import write_run
from training.export import export, used_calls
from training.records import to_samples


def test_m500_records_keep_only_correct_episodes_and_the_calls_they_used(tmp_path):
    run = write_run(tmp_path / "run")
    out = tmp_path / "m500.jsonl"
    counts = export([str(run)], out)
    records = read_jsonl(out)
    # p1 (its stale attempt skipped), p3 once (one per question); p2 was wrong.
    assert [r["question"] for r in records] == [
        "What is 6 times 7? Put the answer in \\boxed{}.",
        "What is 5*5?",
    ]
    assert counts["not_correct"] == 1 and counts["beyond_per_question"] == 1
    r = records[0]
    assert set(r) == {
        "question",
        "solution",
        "expert_recruiter_messages",
        "problem_solver_messages",
        "critic_messages",
        "evaluator_messages",
    }
    assert "41" not in json.dumps(r)  # nothing of the stale attempt
    assert r["expert_recruiter_messages"] == []  # its only call was replaced by a fallback
    solver = r["problem_solver_messages"]
    # The revision continues the proposal's conversation: one conversation, thinking kept.
    assert [m["role"] for m in solver] == ["system", "user", "assistant", "user", "assistant"]
    assert solver[2]["content"] == "<think>6*7 = 42</think>The product is \\boxed{42}."
    assert "weight" not in solver[2]  # our reply, trained; memory's copy is not repeated
    assert solver[4]["content"].startswith("<think>still 42</think>")
    critics = [m for m in r["critic_messages"] if m["role"] == "assistant"]
    # The re-asked reply is context (weight 0); the accepted replies are targets.
    assert [(m["content"], m.get("weight", 1)) for m in critics] == [
        ("Looks fine.", 0),
        ("<think>check</think>Correct. [Agree]", 1),
        ("I doubt the sign. [Disagree]", 1),
    ]
    assert sum(m["role"] == "system" for m in r["critic_messages"]) == 1
    evaluator = [m["content"] for m in r["evaluator_messages"] if m["role"] == "assistant"]
    assert evaluator == ["### Correctness: 1\n### Advice: none\n### Recruiting Suggestion: same"]


def test_per_question_zero_keeps_every_correct_episode(tmp_path):
    run = write_run(tmp_path / "run")
    counts = export([str(run)], tmp_path / "all.jsonl", per_question=0)
    assert counts["exported_episodes"] == 3


def test_used_calls_drop_failed_reasked_and_fallback_calls(tmp_path):
    from harness.transcript import read_episodes

    run = write_run(tmp_path / "run")
    (_, ep), *_ = list(read_episodes(run))
    assert [c["seq"] for c in used_calls(ep)] == [2, 4, 5, 7, 9]


def test_messages_format_through_the_cli_feeds_the_training_loader(tmp_path):
    run = write_run(tmp_path / "sweep" / "point")
    out = tmp_path / "chat.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.export",
            str(tmp_path / "sweep"),
            "--out",
            str(out),
            "--format",
            "messages",
            "--visible-only",
        ],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "10 records from 2 correct episodes" in proc.stdout
    records = read_jsonl(out)
    assert all(r["run"] == str(run) for r in records)
    assert all("<think>" not in m["content"] for r in records for m in r["messages"])
    samples = to_samples(records, "auto", "question", "chat")
    groups = {s.group for s in samples}
    assert len(groups) == 2  # grouped by question
    first = [s for s in samples if s.group == samples[0].group]
    assert [s.order for s in first] == list(range(5))


def test_cli_rejects_a_folder_that_is_not_a_run(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "training.export",
            str(tmp_path),
            "--out",
            str(tmp_path / "x.jsonl"),
        ],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "results.jsonl" in proc.stderr
