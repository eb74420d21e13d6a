"""Fault tests through the real CLI: ``python -m harness model=openai model.base_url=...``
against a local HTTP server that answers 500s, 429s with Retry-After, slow responses, dropped
connections and context-length errors. The run completes; what the server saw and what the run
recorded agree: every retry counted once, no call lost or counted twice, the API key nowhere in
the run directory, thinking never sent back. A 401 stops the run with one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import read_jsonl, run_cli
from tests.engines.fake_openai_server import COMPLETION_TOKENS, FAULTS, THOUGHT, FakeOpenAI, Script

KEY = "sk-test-DO-NOT-LEAK-8c1f"
N = 6  # problems


def _args(url: str, run_dir: Path, *extra: str) -> list[str]:
    return [
        "model=openai",
        f"model.base_url={url}",
        "model.api_key_env=HARNESS_TEST_API_KEY",
        "model.timeout_s=15",  # a busy machine's answer comes in time; "slow" waits it out
        "model.retry.backoff_base_s=0.05",
        "model.retry.backoff_max_s=0.2",
        "model.price={input: 1.0, cached_input: 0.5, output: 2.0}",
        "benchmark=math500",
        f"limit={N}",
        "tokens=64",
        "run.progress=false",
        "tracking.wandb.mode=disabled",
        f"hydra.run.dir={run_dir}",
        *extra,
    ]


@pytest.mark.slow
def test_run_survives_every_fault_and_counts_exactly(data_dir, tmp_path):
    script = Script(faults=(*FAULTS, "ok", "ok"), api_key=KEY, retry_after_s=1.0, slow_s=300)
    run_dir = tmp_path / "run"
    with FakeOpenAI(script) as srv:
        proc = run_cli(
            *_args(
                srv.url,
                run_dir,
                "mas=agentverse",
                "agents=2",
                "turns=1",
                "critic_rounds=1",
                "mas.parse_retries=0",
            ),
            timeout=600,
            HARNESS_TEST_API_KEY=KEY,
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = srv.log
    assert all(log.faults_served[f] >= 1 for f in FAULTS), dict(log.faults_served)

    # nothing lost: every problem recorded once
    results = read_jsonl(run_dir / "results.jsonl")
    assert sorted(r["id"] for r in results) == sorted({r["id"] for r in results})
    assert len(results) == N

    # what the run counted is what the server saw
    summary = json.loads((run_dir / "summary.json").read_text())
    calls = [c for t in read_jsonl(run_dir / "transcripts.jsonl") for c in t["calls"]]
    answered = [c for c in calls if c["finish_reason"] != "length" or c["completion_tokens"]]
    assert summary["engine_retries"] == srv.expected_retries() >= 4
    assert sum(c["engine_retries"] for c in calls) == summary["engine_retries"]
    assert summary["calls"] == len(calls)
    assert summary["completion_tokens"] == COMPLETION_TOKENS * len(log.ok)
    assert len(answered) == len(log.ok)
    assert summary["cost_usd"] == pytest.approx(sum(c["cost_usd"] or 0 for c in calls))
    assert summary["cost_usd"] > 0

    # a context-length error: clamped and retried, or recorded as a `length` finish
    clamped = [c for c in calls if c.get("clamp")]
    rejected = [c for c in calls if c["finish_reason"] == "length" and not c["completion_tokens"]]
    assert clamped and all(c["clamp"]["sent"] < c["clamp"]["asked"] for c in clamped)
    assert rejected and all(c["error"] for c in rejected)

    # 429 honoured Retry-After: the retry came no sooner than asked
    limited = [k for k, f in log.fault_of.items() if f == "rate_limited"]
    for k in limited:
        times = log.attempts[k]
        assert len(times) >= 2 and times[1] - times[0] >= 0.95

    # thinking kept, never sent back; the key nowhere on disk
    assert any(c["thinking"] and THOUGHT in c["thinking"] for c in calls)
    assert not any(THOUGHT.encode() in raw for raw in log.raw)
    for f in run_dir.rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f


def test_bad_key_stops_the_run_with_one_line(data_dir, tmp_path):
    with FakeOpenAI(Script(api_key="sk-the-right-one")) as srv:
        proc = run_cli(
            *_args(srv.url, tmp_path / "run", "mas=single", "model.model_id=fake-model"),
            timeout=300,
            HARNESS_TEST_API_KEY=KEY,
        )
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "HTTP 401" in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert KEY not in proc.stderr + proc.stdout
    # not hundreds of retries: each request in flight failed once
    assert srv.total_attempts() <= 2 * N


@pytest.mark.slow  # two CLI runs (15 s)
def test_a_dead_engine_ends_the_run_at_once_with_its_reason(data_dir, tmp_path):
    """vLLM after its engine core died: HTTP 500 for every request, /health 503. The run stops
    with exit 3 and one line quoting the server (default backoff, not the test's fast one: no
    ten minutes of retries); what finished is saved and a rerun against a live server resumes."""
    run_dir = tmp_path / "run"
    args = [a for a in _args("URL", run_dir, "mas=single") if "backoff" not in a]
    with FakeOpenAI(Script(dead_after=3, api_key=KEY)) as srv:
        proc = run_cli(
            *[a.replace("URL", srv.url) for a in args],
            "model.max_concurrency=1",
            timeout=120,
            HARNESS_TEST_API_KEY=KEY,
        )
        assert srv.dead()
    assert proc.returncode == 3, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert "the engine is down" in errors[0] and "answers HTTP 503" in errors[0], errors[0]
    assert "rerun to resume" in errors[0] and "Traceback" not in proc.stderr
    saved = read_jsonl(run_dir / "results.jsonl")
    assert 1 <= len(saved) < N
    summary = json.loads((run_dir / "summary.json").read_text())
    assert not summary["complete"] and "the engine is down" in summary["error"]

    port = int(srv.url.rsplit(":", 1)[1].split("/")[0])
    with FakeOpenAI(Script(api_key=KEY), port) as srv:  # the server is back: the rerun resumes
        proc = run_cli(
            *[a.replace("URL", srv.url) for a in args], timeout=120, HARNESS_TEST_API_KEY=KEY
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(read_jsonl(run_dir / "results.jsonl")) == N
    assert len(srv.log.order) == N - len(saved)  # only what was missing was asked
