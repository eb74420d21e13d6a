"""Runner control flow with scripted engines: failures of the engine are not wrong answers."""

from __future__ import annotations

import asyncio
import json

import pytest
from hydra import compose, initialize_config_dir

import harness.runner as runner
from harness.engines.base import Completion, Engine, Request
from harness.errors import HarnessError
from tests.conftest import ROOT, read_jsonl


class Scripted(Engine):
    """Answers every problem correctly except those in ``fail`` (raises for them)."""

    def __init__(self, answers: dict[str, str], fail: set[str]) -> None:
        super().__init__(8)
        self.answers, self.fail, self.calls = answers, fail, 0

    async def _generate(self, request: Request) -> Completion:
        self.calls += 1
        if request.problem_id in self.fail or "*" in self.fail:
            raise RuntimeError("CUDA error: device-side assert triggered")
        return Completion(self.answers[request.problem_id], 10, 5)


def _cfg(limit: int):
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return compose(
            "config",
            overrides=[
                "model=oracle",
                "mas=single",
                "model.max_concurrency=4",
                # the retries are the point here, not their waits (2 + 4 + 8 s by default)
                "mas.engine_backoff_s=0.01",
                f"limit={limit}",
                "run.progress=false",
            ],
        )


def _engine(monkeypatch, fail: set[str]) -> Scripted:
    made = {}

    def build(model_cfg, problems, **_):
        made["e"] = Scripted({p.id: p.reference_response for p in problems}, fail)
        return made["e"]

    monkeypatch.setattr(runner, "build_engine", build)
    return made


def test_a_failing_call_is_retried_on_rerun_not_scored_wrong(tmp_path, monkeypatch, data_dir):
    first = json.loads((data_dir / "math500.jsonl").read_text().splitlines()[0])["unique_id"]
    _engine(monkeypatch, {first})
    summary = asyncio.run(runner.run_async(_cfg(4), tmp_path))
    assert summary["n"] == 3 and summary["not_recorded_engine_errors"] == 1
    assert first not in {r["id"] for r in read_jsonl(tmp_path / "results.jsonl")}
    made = _engine(monkeypatch, set())
    summary = asyncio.run(runner.run_async(_cfg(4), tmp_path))
    assert (summary["n"], summary["accuracy"], made["e"].calls) == (4, 1.0, 1)


def test_an_engine_failing_everywhere_stops_the_run(tmp_path, monkeypatch, data_dir):
    made = _engine(monkeypatch, {"*"})
    with pytest.raises(HarnessError, match="failed on 8 problems in a row"):
        asyncio.run(runner.run_async(_cfg(100), tmp_path))
    assert made["e"].calls < 100
    assert not (tmp_path / "results.jsonl").exists() or not read_jsonl(tmp_path / "results.jsonl")


def test_nothing_to_do_builds_no_engine(tmp_path, monkeypatch, data_dir):
    _engine(monkeypatch, set())
    asyncio.run(runner.run_async(_cfg(2), tmp_path))
    monkeypatch.setattr(runner, "build_engine", lambda *a, **k: pytest.fail("engine built"))
    summary = asyncio.run(runner.run_async(_cfg(2), tmp_path))
    assert summary["computed_this_session"] == 0 and summary["n"] == 2


class Stalling(Engine):
    """Answers correctly, slowly; one problem's call raises ``exc`` once the others are busy."""

    def __init__(self, answers: dict[str, str], bad: str, exc: Exception) -> None:
        super().__init__(8)
        self.answers, self.bad, self.exc = answers, bad, exc
        self.cancelled = 0

    async def _generate(self, request: Request) -> Completion:
        if request.problem_id == self.bad:
            await asyncio.sleep(0.05)
            raise self.exc
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return Completion(self.answers[request.problem_id], 10, 5)


def test_a_fatal_engine_error_stops_the_run_after_cancelling_episodes(
    tmp_path, monkeypatch, data_dir
):
    """Episodes in flight are cancelled and awaited before the scoring context closes: nothing
    is scored against a closing sandbox, and summary.json says the run failed and why."""
    from harness.engines.base import FatalEngineError
    from harness.scoring.context import ScoringContext

    first = json.loads((data_dir / "math500.jsonl").read_text().splitlines()[0])["unique_id"]
    made = {}

    def build(model_cfg, problems, **_):
        answers = {p.id: p.reference_response for p in problems}
        made["e"] = Stalling(answers, first, FatalEngineError("401 invalid API key"))
        return made["e"]

    monkeypatch.setattr(runner, "build_engine", build)
    events: list[str] = []
    real_close = ScoringContext.close
    monkeypatch.setattr(
        ScoringContext, "close", lambda self: (events.append("close"), real_close(self))
    )
    import tasks.common

    real_score = tasks.common.MathTask.score

    async def score(self, problem, response, ctx):
        events.append("score")
        return await real_score(self, problem, response, ctx)

    monkeypatch.setattr(tasks.common.MathTask, "score", score)
    with pytest.raises(HarnessError, match="401 invalid API key"):
        asyncio.run(runner.run_async(_cfg(6), tmp_path))
    assert made["e"].cancelled == 5  # the other episodes were cancelled, not abandoned
    assert events == ["close"]  # and none was scored, before or after the close
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["complete"] is False and "401 invalid API key" in summary["error"]
    assert summary["sessions"][-1]["outcome"] == "failed"


def test_the_failure_streak_trips_at_its_limit_and_a_served_problem_resets_it():
    streak = runner.FailureStreak(3)
    streak.failed(RuntimeError("a"))
    streak.failed(RuntimeError("b"))
    streak.served()
    streak.failed(RuntimeError("c"))
    streak.failed(RuntimeError("d"))
    with pytest.raises(runner.EngineDown, match=r"3 problems in a row \(last: e\)"):
        streak.failed(RuntimeError("e"))


def test_the_scoring_context_closes_before_the_engine_is_released(tmp_path, monkeypatch, data_dir):
    from harness.scoring.context import ScoringContext

    events: list[str] = []

    class Releasing(Scripted):
        async def release(self) -> None:
            events.append("release")
            await super().release()

    def build(model_cfg, problems, **_):
        return Releasing({p.id: p.reference_response for p in problems}, set())

    monkeypatch.setattr(runner, "build_engine", build)
    real_close = ScoringContext.close
    monkeypatch.setattr(
        ScoringContext, "close", lambda self: (events.append("close"), real_close(self))
    )
    summary = asyncio.run(runner.run_async(_cfg(2), tmp_path))
    assert summary["complete"] and summary["n"] == 2
    assert events == ["close", "release"]
