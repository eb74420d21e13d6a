"""The episode's machinery, pinned with a scripted engine: the transcript schema of every call
and event, one ``seq`` shared by both, engine errors inside an episode (rejected, fatal,
unavailable), the recovery of a reasoning model's cut-off thinking, role token budgets, and
typed settings."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from typing import Any

import pytest

from harness.engines.base import (
    Completion,
    EngineUnavailable,
    FatalEngineError,
    Request,
    RequestRejected,
)
from harness.errors import ConfigError
from harness.mas.base import CallRecord, EpisodeAborted
from harness.mas.settings import ReasoningSettings, mas_settings
from harness.settings import compose, from_node
from harness.transcript import STEPS, timeline
from tests.unit.test_mas import (
    CODE,
    DISAGREE,
    RIGHT,
    WRONG,
    FakeSandbox,
    ScriptedEngine,
    ceo_says,
    events,
    make,
    mas_cfg,
    reasoning,
    run,
)

CALL_FIELDS = [f.name for f in dataclasses.fields(CallRecord)]


class FailingEngine(ScriptedEngine):
    """Raises ``failures[role]`` (a list consumed call by call; None answers normally)."""

    def __init__(self, failures: dict[str, list[Exception | None]], *a: Any, **kw: Any):
        super().__init__(*a, **kw)
        self.failures = {k: list(v) for k, v in failures.items()}

    async def _generate(self, request: Request) -> Completion:
        queue = self.failures.get(request.role)
        if queue:
            exc = queue.pop(0)
            if exc is not None:
                self.requests.append(request)
                raise exc
        return await super()._generate(request)


# -- the transcript ---------------------------------------------------------------------------


def test_calls_and_events_share_one_seq_and_carry_the_schema() -> None:
    sandbox = FakeSandbox()
    engine = ScriptedEngine(
        {
            "ceo": ceo_says(recruit="3"),
            "solver": [CODE.reference_response],
            "critic": [DISAGREE, "fine [Agree]"],
            "executor": "### Code:\n```python\nassert add(1, 2) == 3\n```",
            "evaluator": [WRONG, RIGHT],
        },
        "code",
    )
    result = run(make("ceo", agents=3, turns=2, critic_rounds=2, sandbox=sandbox), engine, CODE)
    t = result.transcript()
    assert set(t) == {"rounds", "agents", "error", "calls", "events"}
    seqs = [c["seq"] for c in t["calls"]] + [e["seq"] for e in t["events"]]
    assert sorted(seqs) == list(range(1, len(seqs) + 1))  # one counter, no gaps, no repeats
    for c in t["calls"]:
        assert list(c) == CALL_FIELDS
        assert c["step"] in STEPS
        assert c["raw"].endswith(c["output"]) and c["max_tokens_sent"] == c["max_tokens"]
        assert 0 <= c["start_s"] <= c["end_s"]
    call_seqs = {c["seq"] for c in t["calls"]}
    for e in t["events"]:
        assert {"kind", "seq", "round", "call"} <= set(e)
        assert e["call"] is None or e["call"] in call_seqs
        assert e["call"] is None or e["call"] < e["seq"]  # an event follows its call
    critics = [c for c in t["calls"] if c["role"] == "critic"]
    assert {(c["agent"], c["iteration"]) for c in critics if c["round"] == 1} >= {(1, 1), (2, 1)}
    assert all(c["expert"] for c in critics)
    verdicts = [e for e in t["events"] if e["kind"] == "verdict"]
    assert len(verdicts) == len(critics)
    assert {e["call"] for e in verdicts} == {c["seq"] for c in critics}
    steps = [(c["round"], c["step"]) for c in t["calls"]]
    assert steps[:4] == [(1, "decide"), (1, "recruit"), (1, "propose"), (1, "review")]
    assert (1, "revise") in steps and (1, "write_tests") in steps
    # the timeline rebuilds the order the protocol ran in
    kinds = [x.get("step") or x.get("kind") for x in timeline(t)]
    assert kinds.index("write_tests") < kinds.index("tests") < kinds.index("execution")
    assert kinds.index("execution") < kinds.index("evaluate") < kinds.index("evaluation")


def test_budget_forcing_keeps_both_requests_in_one_call() -> None:
    def solver(request: Request, n: int) -> str:
        return "\\boxed{42}" if request.prefix.endswith("</think>\n\n") else "hmm, thinking"

    engine = ScriptedEngine({"solver": solver, "evaluator": RIGHT}, finish={"solver": "length"})
    result = run(
        make(critic_rounds=1),
        engine,
        reasoning={"force_think": True, "budget_forcing": True, "budget_forcing_tokens": 9},
    )
    call = next(c for c in result.calls if c.role == "solver")
    assert call.prefix == "<think>\n"
    assert call.raw == "<think>\nhmm, thinking\n</think>\n\n\\boxed{42}"
    assert call.thinking == "hmm, thinking" and call.output == "\\boxed{42}"
    assert call.completion_tokens == 6  # both requests (3 + 3)


# -- engine errors inside an episode ----------------------------------------------------------


def test_rejected_request_is_recorded_and_the_episode_goes_on() -> None:
    rejected = RequestRejected("prompt longer than the context", finish_reason="length")
    engine = FailingEngine({"solver": [rejected]}, {"evaluator": RIGHT})
    result = run(make(tokens=4000), engine)
    first, second = [c for c in result.calls if c.role == "solver"][:2]
    assert first.finish_reason == "length" and "context" in first.error
    assert (first.max_tokens, second.max_tokens) == (4000, 2000)  # as the original: ask for less
    assert second.attempt == 1 and second.error is None
    (error,) = events(result, "engine_error")
    assert error["call"] == first.seq and error["fatal"] is False
    assert result.error is None and result.response


def test_a_request_that_can_never_succeed_is_not_asked_again() -> None:
    engine = FailingEngine({"critic": [RequestRejected("bad parameter")] * 2}, {"evaluator": RIGHT})
    result = run(make(agents=3, critic_rounds=1, parse_retries=3), engine)
    assert Counter(c.role for c in result.calls)["critic"] == 2  # no re-ask
    assert {e["used"] for e in events(result, "fallback") if e["role"] == "critic"} == {"abstain"}
    assert result.error is None


def test_fatal_engine_error_stops_the_episode() -> None:
    engine = FailingEngine({"recruiter": [FatalEngineError("invalid API key")]})
    with pytest.raises(FatalEngineError):
        run(make(), engine)


def test_unavailable_engine_is_retried_with_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    sleep = asyncio.sleep

    async def fake_sleep(delay: float, *a: Any) -> None:
        waits.append(delay)
        await sleep(0)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    down = EngineUnavailable("connection refused")
    engine = FailingEngine({"solver": [down, down, None]}, {"evaluator": RIGHT})
    result = run(make(engine_retries=3, engine_backoff_s=0.5), engine)
    solver = next(c for c in result.calls if c.role == "solver")
    assert solver.engine_retries == 2 and solver.error is None and solver.attempt == 0
    assert waits == [0.5, 1.0]
    assert result.error is None and not events(result, "engine_error")
    engine = FailingEngine({"solver": [down] * 3}, {"evaluator": RIGHT})
    with pytest.raises(EpisodeAborted):
        run(make(engine_retries=2, engine_backoff_s=0.5), engine)


# -- reasoning models -------------------------------------------------------------------------

CUT = "<think>on and on and on"


def test_cut_off_thinking_is_reasked_with_changed_sampling() -> None:
    engine = ScriptedEngine(
        {"solver": [CUT, "<think>short</think>\\boxed{42}"], "evaluator": RIGHT},
        finish={"solver": "length"},
    )
    reasoning = {"reasoning_model": True, "think_retry_budget": 0.5, "retry_temperature": 0.7}
    result = run(make(tokens=1000, critic_rounds=1), engine, reasoning=reasoning)
    first, second = [c for c in result.calls if c.role == "solver"][:2]
    assert first.thinking_cut and first.temperature == 0.0 and first.max_tokens == 1000
    assert (second.attempt, second.max_tokens, second.temperature) == (1, 500, 0.7)
    assert second.seed != first.seed and second.messages == first.messages
    (recovery,) = events(result, "think_recovery")
    assert recovery["call"] == first.seq and recovery["max_tokens"] == 500
    assert result.response == "\\boxed{42}" and result.error is None


def test_cut_off_thinking_falls_back_after_the_retries() -> None:
    engine = ScriptedEngine({"solver": CUT, "evaluator": RIGHT}, finish={"solver": "length"})
    reasoning = {"reasoning_model": True, "think_retries": 2}
    result = run(make(critic_rounds=0, turns=1, parse_retries=0), engine, reasoning=reasoning)
    solver = [c for c in result.calls if c.role == "solver"]
    assert len(solver) == 3 and len(events(result, "think_recovery")) == 2
    assert [e["used"] for e in events(result, "fallback") if e["role"] == "solver"] == [
        "no solution"
    ]
    assert result.error is None  # the model ran out of tokens: a wrong answer, not an error
    assert "thinking cut off" in events(result, "final_solution_issue")[0]["reason"]


def test_a_non_reasoning_model_is_never_reasked_identically() -> None:
    engine = ScriptedEngine({"solver": ["", "\\boxed{42}"], "evaluator": RIGHT})
    result = run(make(critic_rounds=0, turns=1), engine)
    first, second = [c for c in result.calls if c.role == "solver"]
    assert first.temperature == 0.0 and second.temperature == 0.7  # reasoning.retry_temperature
    assert not events(result, "think_recovery")


def test_reasoning_model_comes_from_the_model_config() -> None:
    assert compose(["model=m1-32b"]).reasoning.reasoning_model is True
    assert compose(["model=tiny"]).reasoning.reasoning_model is False
    assert compose(["model=oracle"]).reasoning.reasoning_model is False


# -- token budgets ----------------------------------------------------------------------------


def test_the_ceo_budget_sets_the_solver_and_critics_only() -> None:
    engine = ScriptedEngine({"ceo": ceo_says(tokens="2048"), "evaluator": RIGHT})
    mas = make(
        "ceo",
        tokens=8192,
        **{"role_tokens.critic": 4096, "role_tokens.ceo": 1000, "ceo.budget_menu": [2048, 8192]},
    )
    limits = {c.role: c.max_tokens for c in run(mas, engine).calls}
    assert limits == {
        "ceo": 1000,
        "recruiter": 8192,
        "solver": 2048,
        "critic": 2048,  # the CEO's budget replaces the explicit critic limit, as in the original
        "evaluator": 8192,
    }


def test_the_ceo_may_recruit_beyond_agents_when_configured() -> None:
    engine = ScriptedEngine({"ceo": ceo_says(recruit="4"), "evaluator": RIGHT})
    result = run(make("ceo", agents=2, **{"ceo.max_agents": 4}), engine)
    assert result.agents == [4]
    assert Counter(c.role for c in result.calls)["critic"] == 3


# -- typed settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "over, message",
    [
        ({"memory": "forever"}, "mas.memory='forever'"),
        ({"history_window.critic": 0}, "mas.history_window.critic=0"),
        ({"role_tokens.manager": 8}, "mas.role_tokens.manager"),
        ({"parse_retry": 2}, "unknown key mas.parse_retry"),
        ({"end_on_correct": "sometimes"}, "mas.end_on_correct"),
    ],
)
def test_bad_mas_settings_are_one_line_errors(over: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        make(**over)


def test_ceo_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="mas.ceo.budget_roles"):
        make("ceo", **{"ceo.budget_roles": ["ceo"]})
    with pytest.raises(ConfigError, match="missing key mas.ceo.min_agents"):
        cfg = mas_cfg("ceo")
        del cfg.ceo["min_agents"]
        mas_settings(cfg)


def test_the_reasoning_settings_need_every_key() -> None:
    settings = reasoning()
    del settings["think_retries"]
    with pytest.raises(ConfigError, match="missing key reasoning.think_retries"):
        from_node(ReasoningSettings, settings, "reasoning")
