"""Control flow of mas=agentverse / mas=ceo, pinned down with a scripted engine (outputs by role
and call order) and a stand-in sandbox."""

from __future__ import annotations

import asyncio
import copy
import functools
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from harness.engines.base import Completion, Engine, Request
from harness.errors import ConfigError
from harness.mas import build_mas
from harness.mas.base import Episode, EpisodeAborted, EpisodeResult
from harness.mas.execution import build_test_program
from harness.mas.settings import ReasoningSettings, mas_settings
from harness.problem import Problem
from harness.roles import canned_response
from harness.settings import compose, from_node, to_plain

CONF = Path(__file__).resolve().parents[2] / "conf"

Script = str | list[str] | Callable[[Request, int], str]


class ScriptedEngine(Engine):
    """Answers by role: a fixed text, a list consumed in call order (the last one repeats), or a
    function of (request, n-th call of that role). Unscripted roles get the canned answer."""

    def __init__(self, script: dict[str, Script] | None = None, domain: str = "math", **kw: Any):
        super().__init__(max_concurrency=kw.pop("max_concurrency", 8))
        self.script = script or {}
        self.domain = domain
        self.requests: list[Request] = []
        self.count: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0
        self.delay = kw.pop("delay", 0.0)
        self.finish = kw.pop("finish", {})

    async def _generate(self, request: Request) -> Completion:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            n = self.count[request.role]
            self.count[request.role] += 1
            self.requests.append(request)
            out = self.script.get(request.role)
            if out is None:
                text = canned_response(request.role, self.domain)
            elif callable(out):
                text = out(request, n)
            elif isinstance(out, list):
                text = out[min(n, len(out) - 1)]
            else:
                text = out
            forced = request.prefix.endswith("</think>\n\n")  # a budget-forcing continuation
            finish = "stop" if forced else self.finish.get(request.role, "stop")
            return Completion(text=text, prompt_tokens=7, completion_tokens=3, finish_reason=finish)
        finally:
            self.in_flight -= 1


@dataclass
class FakeResult:
    verdict: str
    stdout: str = ""
    stderr: str = ""
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


class FakeSandbox:
    def __init__(self, verdict: str = "passed") -> None:
        self.verdict = verdict
        self.programs: list[str] = []

    async def run(
        self, program: str, tests: str | None = None, timeout_s: float | None = None
    ) -> FakeResult:
        self.programs.append(program.rstrip() + "\n\n" + (tests or ""))
        return FakeResult(self.verdict, stdout="3/3 tests passed")


@functools.cache
def _composed(name: str, agents: int) -> Any:
    return compose([f"mas={name}", f"agents={agents}"])


def mas_cfg(name: str, agents: int = 3, **over: Any) -> Any:
    """The `mas:` node exactly as the CLI composes it (Hydra's compose), ``over`` set on top."""
    root = copy.deepcopy(_composed(name, agents))
    OmegaConf.set_struct(root, False)  # a test may drop a key to see the error
    for key, value in over.items():
        OmegaConf.update(root, f"mas.{key}", value, force_add=True)
    return root.mas


@functools.cache
def _prompts() -> dict[str, Any]:
    return to_plain(compose([]).prompts)


def prompts_cfg() -> dict[str, Any]:
    """The default prompt set as RunSettings holds it (a plain mapping)."""
    return copy.deepcopy(_prompts())


@functools.cache
def _reasoning() -> dict[str, Any]:
    """The `reasoning:` block exactly as the CLI composes it (model=tiny)."""
    return OmegaConf.to_container(compose(["model=tiny"]).reasoning, resolve=True)


def reasoning(**over: Any) -> dict[str, Any]:
    return {**_reasoning(), **over}


def make(
    name: str = "agentverse",
    *,
    agents: int = 3,
    tokens: int = 4096,
    turns: int = 3,
    critic_rounds: int = 2,
    sandbox: Any = None,
    prompts: Any = None,
    **over: Any,
) -> Any:
    over.setdefault("engine_backoff_s", 0.0)
    return build_mas(
        mas_settings(mas_cfg(name, agents, **over)),
        to_plain(prompts) if prompts is not None else prompts_cfg(),
        agents=agents,
        tokens=tokens,
        turns=turns,
        critic_rounds=critic_rounds,
        sandbox_factory=(lambda: sandbox) if sandbox is not None else None,
    )


MATH = Problem("m1", "What is 6 * 7?", "math", "42", "6*7 = \\boxed{42}")
CODE = Problem(
    "c1",
    'def add(a, b):\n    """Return a + b."""\n',
    "code",
    "assert add(2, 2) == 4  # HIDDEN-GRADING-TEST",
    "```python\ndef add(a, b):\n    return a + b\n```",
    meta={"public_tests": ["assert add(1, 2) == 3"]},
    entry_point="add",
)


def episode(engine: Engine, problem: Problem = MATH, **kw: Any) -> Episode:
    kw = {"seed": 0, "temperature": 0.0, "top_p": 1.0, **kw}
    kw["reasoning"] = from_node(ReasoningSettings, reasoning(**kw.get("reasoning", {})))
    return Episode(engine, problem, 0, **kw)


def run(mas: Any, engine: Engine, problem: Problem = MATH, **ep_kw: Any) -> EpisodeResult:
    return asyncio.run(mas.solve(episode(engine, problem, **ep_kw)))


def sent(request: Request) -> str:
    """Everything a request shows the model (system and user messages)."""
    return "\n".join(m["content"] for m in request.messages)


def roles(result: EpisodeResult) -> list[str]:
    return [c.role for c in result.calls]


def events(result: EpisodeResult, kind: str) -> list[dict[str, Any]]:
    return [e for e in result.events if e["kind"] == kind]


AGREE = "Checked every step. [Agree]"
DISAGREE = "Step 2 is wrong. [Disagree]"
WRONG = "### Correctness: 0\n### Advice: recheck the product\n### Recruiting Suggestion: an arithmetician"
RIGHT = "### Correctness: 1\n### Advice: correct\n### Recruiting Suggestion: none"


# -- agentverse -----------------------------------------------------------------------------------


def test_consensus_stops_review_loop() -> None:
    engine = ScriptedEngine({"critic": AGREE, "solver": "\\boxed{42}", "evaluator": RIGHT})
    result = run(make(critic_rounds=3), engine)
    assert roles(result) == ["recruiter", "solver", "critic", "critic", "evaluator"]
    assert [(e["round"], e["iteration"]) for e in events(result, "consensus")] == [(1, 1)]
    assert result.response == "\\boxed{42}" and result.error is None
    assert result.rounds == 1 and result.agents == [3]


def test_disagreement_goes_back_to_solver_until_consensus() -> None:
    # 2 critics: the first review has one objection, the second is unanimous
    engine = ScriptedEngine(
        {
            "critic": [DISAGREE, AGREE, AGREE],
            "solver": ["\\boxed{41}", "\\boxed{42}"],
            "evaluator": RIGHT,
        }
    )
    result = run(make(critic_rounds=3), engine)
    assert Counter(roles(result)) == {"recruiter": 1, "solver": 2, "critic": 4, "evaluator": 1}
    revise = [r for r in engine.requests if r.role == "solver"][1]
    assert "Step 2 is wrong." in revise.messages[-1]["content"]
    assert "[Disagree]" not in revise.messages[-1]["content"]
    assert result.response == "\\boxed{42}"


def test_review_loop_bounded_by_critic_rounds() -> None:
    engine = ScriptedEngine({"critic": DISAGREE, "evaluator": RIGHT})
    result = run(make(critic_rounds=2), engine)
    c = Counter(roles(result))
    assert c["solver"] == 1 + 2 and c["critic"] == 2 * 2
    assert not events(result, "consensus")


def test_three_agent_round_has_two_critic_calls_per_review_with_distinct_seeds() -> None:
    engine = ScriptedEngine({"critic": DISAGREE, "evaluator": RIGHT})
    result = run(make(agents=3, critic_rounds=2), engine)
    critic_calls = [c for c in result.calls if c.role == "critic"]
    assert len(critic_calls) == 4
    assert [e["disagree"] for e in events(result, "review")] == [2, 2]
    assert len({c.seed for c in critic_calls}) == 4


def test_evaluator_correct_ends_episode() -> None:
    engine = ScriptedEngine({"evaluator": [WRONG, RIGHT]})
    result = run(make(turns=5), engine)
    assert result.rounds == 2 and result.agents == [3, 3]
    (stop,) = events(result, "stop")
    assert (stop["round"], stop["by"]) == (2, "evaluator")
    assert stop["call"] == [c.seq for c in result.calls if c.role == "evaluator"][-1]


def test_rounds_exhausted_and_advice_carried_forward() -> None:
    engine = ScriptedEngine({"evaluator": WRONG})
    result = run(make(turns=3), engine)
    assert result.rounds == 3 and Counter(roles(result))["evaluator"] == 3
    recruiters = [r for r in engine.requests if r.role == "recruiter"]
    assert "recheck the product" not in sent(recruiters[0])
    assert "recheck the product" in sent(recruiters[1])
    assert "an arithmetician" in sent(recruiters[1])
    solver2 = [r for r in engine.requests if r.role == "solver"][1]
    assert "recheck the product" in solver2.messages[-1]["content"]
    # the previous round's solution is shown to the solver of the next round
    assert canned_response("solver", "math") in solver2.messages[-1]["content"]


def test_end_on_correct_false_runs_all_rounds() -> None:
    engine = ScriptedEngine({"evaluator": RIGHT})
    assert run(make(turns=2, end_on_correct=False), engine).rounds == 2


def test_role_token_limits_follow_tokens_unless_set() -> None:
    engine = ScriptedEngine({"evaluator": RIGHT})
    result = run(make(tokens=3000), engine)
    limits = {c.role: c.max_tokens for c in result.calls}
    assert limits == {"recruiter": 3000, "solver": 3000, "critic": 3000, "evaluator": 3000}
    # an explicit limit wins, but never above `tokens`
    engine = ScriptedEngine({"evaluator": RIGHT})
    mas = make(tokens=3000, **{"role_tokens.critic": 1000, "role_tokens.evaluator": 9000})
    limits = {c.role: c.max_tokens for c in run(mas, engine).calls}
    assert limits == {"recruiter": 3000, "solver": 3000, "critic": 1000, "evaluator": 3000}


def test_critics_run_concurrently() -> None:
    engine = ScriptedEngine({"evaluator": RIGHT}, delay=0.01, max_concurrency=8)
    run(make(agents=4), engine)
    assert engine.max_in_flight == 3


# -- garbage, retries and fallbacks ---------------------------------------------------------------


def test_garbage_from_every_role_finishes_with_reason() -> None:
    garbage = "lorem ipsum dolor sit amet"
    engine = ScriptedEngine(defaultdict(lambda: garbage))
    engine.script = {r: garbage for r in ("ceo", "recruiter", "solver", "critic", "evaluator")}
    result = run(make("ceo", turns=2, parse_retries=1), engine)
    assert result.rounds == 2
    assert result.response == garbage
    # an unusable final solution is a wrong answer (an event), not an episode error
    assert result.error is None
    assert "boxed" in events(result, "final_solution_issue")[0]["reason"]
    failed = Counter(e["role"] for e in events(result, "parse_failed"))
    assert set(failed) == {"ceo", "recruiter", "solver", "critic", "evaluator"}
    fallbacks = {e["role"] for e in events(result, "fallback")}
    assert fallbacks == {"recruiter", "solver", "critic", "evaluator"}
    decisions = events(result, "ceo_decision")
    assert all(not d["parsed"] and d["adjustments"] for d in decisions)
    # every step asked once more (parse_retries=1), with the reason shown to the model
    assert Counter(roles(result))["ceo"] == 4
    retry = [r for r in engine.requests if r.role == "ceo"][1]
    assert retry.messages[-2] == {"role": "assistant", "content": garbage}
    assert "could not be used" in retry.messages[-1]["content"]
    totals = result.totals()
    assert totals["fallbacks"] >= 4 and totals["parse_failures"] >= 10


def test_garbage_code_task_with_sandbox() -> None:
    sandbox = FakeSandbox()
    engine = ScriptedEngine(
        {r: "???" for r in ("recruiter", "solver", "critic", "executor", "evaluator")}, "code"
    )
    result = run(make(turns=1, sandbox=sandbox), engine, CODE)
    # an unusable final solution is a wrong answer (an event), not an episode error
    assert result.error is None
    assert "code block" in events(result, "final_solution_issue")[0]["reason"]
    assert sandbox.programs == []  # no code to run
    assert events(result, "executor_skipped")[0]["reason"] == "solution has no code block"


def test_an_engine_that_stays_down_aborts_the_episode() -> None:
    class Broken(Engine):
        async def _generate(self, request: Request) -> Completion:
            raise RuntimeError("server down")

    ep = episode(Broken())
    with pytest.raises(EpisodeAborted, match="server down"):
        asyncio.run(make("ceo", turns=2, engine_retries=2).solve(ep))
    (call,) = ep.result.calls  # the CEO's first call, tried 3 times, then the episode stopped
    assert call.engine_retries == 2 and call.finish_reason == "error"
    assert events(ep.result, "engine_error")[0]["fatal"] is True


def test_malformed_revision_keeps_previous_solution() -> None:
    engine = ScriptedEngine(
        {
            "solver": ["\\boxed{42}", "no box"],
            "critic": [DISAGREE, DISAGREE, AGREE],
            "evaluator": RIGHT,
        }
    )
    result = run(make(critic_rounds=1, parse_retries=0), engine)
    assert result.response == "\\boxed{42}" and result.error is None
    assert events(result, "fallback")[0]["used"] == "kept the previous solution"


def test_recruiter_short_list_padded() -> None:
    engine = ScriptedEngine({"recruiter": "1. A chemist", "evaluator": RIGHT})
    result = run(make(agents=3, parse_retries=0), engine)
    experts = events(result, "experts")[0]
    assert experts["solver"] == "a chemist" and len(experts["critics"]) == 2
    assert Counter(roles(result))["critic"] == 2


# -- executor -------------------------------------------------------------------------------------


def test_executor_runs_in_sandbox_for_code_only() -> None:
    sandbox = FakeSandbox()
    made: list[int] = []

    def factory() -> FakeSandbox:
        made.append(1)
        return sandbox

    mas = build_mas(
        mas_settings(mas_cfg("agentverse")),
        prompts_cfg(),
        agents=2,
        tokens=1024,
        turns=1,
        critic_rounds=1,
        sandbox_factory=factory,
    )
    engine = ScriptedEngine(
        {
            "solver": CODE.reference_response,
            "executor": "### Thought: t\n### Code:\n```python\n"
            "assert add(1, 2) == 3\nassert add(0, 0) == 0\n```",
            "evaluator": RIGHT,
        },
        "code",
    )
    result = run(mas, engine, CODE)
    assert roles(result) == ["recruiter", "solver", "critic", "executor", "evaluator"]
    assert len(sandbox.programs) == 1
    program = sandbox.programs[0]
    assert "def add(a, b):" in program and "assert add(0, 0) == 0" in program
    executor = [r for r in engine.requests if r.role == "executor"][0]
    text = executor.messages[-1]["content"]
    assert "assert add(1, 2) == 3" in text  # the public example
    for r in engine.requests:  # the hidden grading tests never reach an agent
        assert all("HIDDEN-GRADING-TEST" not in m["content"] for m in r.messages)
    evaluator = [r for r in engine.requests if r.role == "evaluator"][0]
    assert "verdict: passed" in evaluator.messages[-1]["content"]
    assert events(result, "execution")[0]["passed"] is True

    made.clear()
    math_result = run(mas, ScriptedEngine({"evaluator": RIGHT}), MATH)
    assert made == [] and "executor" not in roles(math_result)


def test_sandbox_failure_is_recorded() -> None:
    class Exploding:
        async def run(self, program: str, **_: Any) -> Any:
            raise OSError("bwrap missing")

    engine = ScriptedEngine({"solver": CODE.reference_response, "evaluator": RIGHT}, "code")
    result = run(make(turns=1, sandbox=Exploding()), engine, CODE)
    assert "bwrap missing" in events(result, "sandbox_error")[0]["error"]
    assert result.error is None


def test_test_program_runs_each_assertion() -> None:
    solution = "def add(a, b):\n    return a + b if a != 3 else 0"
    tests = (
        "import math\nassert add(1, 2) == 3\nassert add(3, 1) == 4\n"
        "def test_zero():\n    assert add(0, 0) == 0\n"
    )
    program = build_test_program(solution, tests)
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 1
    assert "FAILED: assert add(3, 1) == 4" in out.stdout
    assert "2/3 tests passed" in out.stdout  # two asserts and test_zero(); the import is set-up


# -- CEO ------------------------------------------------------------------------------------------


def ceo_says(decision: str = "Continue", recruit: str = "2", tokens: str = "4096") -> str:
    return (
        f"### Decision: <{decision}>\n### Recruit Number: {recruit}\n"
        f"### Direction: focus on the product\n### Maximum Tokens: {tokens}"
    )


def test_ceo_stop_ends_episode_under_stop_on_ceo() -> None:
    engine = ScriptedEngine({"ceo": [ceo_says(), ceo_says("Stop")], "evaluator": RIGHT})
    result = run(make("ceo", turns=4, stop_on="ceo"), engine)
    assert result.rounds == 1  # the evaluator's 1 did not end it; the CEO's Stop did
    assert events(result, "stop_ignored")[0]["by"] == "evaluator"
    assert [(e["round"], e["by"]) for e in events(result, "stop")] == [(2, "ceo")]
    assert Counter(roles(result))["ceo"] == 2


def test_ceo_stop_ignored_under_stop_on_evaluator() -> None:
    engine = ScriptedEngine({"ceo": [ceo_says(), ceo_says("Stop")], "evaluator": WRONG})
    result = run(make("ceo", turns=3, stop_on="evaluator"), engine)
    assert result.rounds == 3
    notes = [n for d in events(result, "ceo_decision") for n in d["adjustments"]]
    assert "stop ignored (mas.stop_on=evaluator)" in notes
    # ... and under `evaluator` the evaluator still ends it
    engine = ScriptedEngine({"ceo": ceo_says(), "evaluator": [WRONG, RIGHT]})
    assert run(make("ceo", turns=3, stop_on="evaluator"), engine).rounds == 2


def test_ceo_stop_before_any_solution_is_ignored() -> None:
    engine = ScriptedEngine({"ceo": ceo_says("Stop"), "evaluator": WRONG})
    result = run(make("ceo", turns=2, stop_on="either"), engine)
    assert result.rounds == 1 and result.response
    assert (
        "stop ignored: there is no solution yet" in events(result, "ceo_decision")[0]["adjustments"]
    )


def test_ceo_recruit_number_clamped() -> None:
    engine = ScriptedEngine(
        {"ceo": [ceo_says(recruit="9"), ceo_says(recruit="1")], "evaluator": WRONG}
    )
    result = run(make("ceo", agents=3, turns=2, critic_rounds=1), engine)
    first, second = events(result, "ceo_decision")
    assert first["said"]["recruit"] == 9 and first["agents"] == 3
    assert "recruit number 9 clamped to 3" in first["adjustments"]
    assert second["agents"] == 2  # mas.ceo.min_agents
    assert result.agents == [3, 2]
    per_round = Counter((c.round, c.role) for c in result.calls)
    assert per_round[(1, "critic")] == 2 and per_round[(2, "critic")] == 1
    assert [d["agents"] for d in result.totals()["ceo_decisions"]] == [3, 2]


@pytest.mark.parametrize("said", ["8192 tokens", "8k", "**8K**"])
def test_ceo_budget_parsed_and_applied(said: str) -> None:
    engine = ScriptedEngine({"ceo": ceo_says(tokens=said), "evaluator": RIGHT})
    result = run(make("ceo", tokens=16384), engine)
    decision = events(result, "ceo_decision")[0]
    assert decision["said"]["max_tokens"] == 8192 and decision["budget"] == 8192
    assert decision["adjustments"] == []
    assert {c.max_tokens for c in result.calls if c.role in ("solver", "critic")} == {8192}


def test_ceo_menu_cut_at_tokens() -> None:
    engine = ScriptedEngine({"ceo": ceo_says(tokens="32000"), "evaluator": RIGHT})
    result = run(make("ceo", tokens=4096), engine)
    assert events(result, "ceo_decision")[0]["budget"] == 4096
    assert make("ceo", tokens=2048).bounds.menu == [256, 512, 1024, 2048]  # halvings by default
    mas = make("ceo", tokens=1000, **{"ceo.budget_menu": [2048, 4096]})
    assert mas.bounds.menu == [1000]  # nothing in the menu fits: the menu is just [tokens]
    assert (
        "[1000]" in run(mas, ScriptedEngine({"evaluator": RIGHT})).calls[0].messages[-1]["content"]
    )


def test_ceo_sees_state_of_previous_round() -> None:
    engine = ScriptedEngine({"ceo": ceo_says(), "evaluator": WRONG, "solver": "\\boxed{41}"})
    run(make("ceo", turns=2), engine)
    second = sent([r for r in engine.requests if r.role == "ceo"][1])
    assert "\\boxed{41}" in second and "recheck the product" in second
    assert "recruit_number 2, maximum_tokens 4096" in second
    solver = [r for r in engine.requests if r.role == "solver"][0].messages[-1]["content"]
    assert "focus on the product" in solver  # the CEO's direction reaches the solver


def test_bad_stop_on_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="stop_on"):
        make("ceo", stop_on="sometimes")


# -- reasoning models, prompts, reproducibility ----------------------------------------------------


def test_thinking_hidden_from_other_agents() -> None:
    engine = ScriptedEngine(
        {"solver": "<think>SECRET scratch</think>So \\boxed{42}", "evaluator": RIGHT}
    )
    result = run(make(), engine)
    assert result.response == "So \\boxed{42}"
    assert result.calls[1].thinking == "SECRET scratch"
    for r in engine.requests:
        assert all("SECRET" not in m["content"] for m in r.messages)


def test_forced_think_prefix_and_budget_forcing() -> None:
    # the solver runs out of tokens while thinking; budget forcing closes the thinking and
    # lets it state an answer
    def solver(request: Request, n: int) -> str:
        return "\\boxed{42}" if request.prefix.endswith("</think>\n\n") else "thinking on and on"

    engine = ScriptedEngine({"solver": solver, "evaluator": RIGHT}, finish={"solver": "length"})
    reasoning = {"force_think": True, "budget_forcing": True, "budget_forcing_tokens": 64}
    result = run(make(), engine, reasoning=reasoning)
    forced = events(result, "budget_forced")[0]
    solver = next(c for c in result.calls if c.role == "solver")
    assert forced["call"] == solver.seq
    assert solver.raw[forced["at"] :].startswith(forced["inserted"])
    assert all(r.prefix.startswith("<think>\n") for r in engine.requests)
    assert result.response == "\\boxed{42}" and result.error is None
    assert events(result, "budget_forced")


def test_same_seed_same_calls() -> None:
    def seeds() -> list[int | None]:
        engine = ScriptedEngine({"critic": DISAGREE, "evaluator": [WRONG, RIGHT]}, delay=0.001)
        return [
            c.seed
            for c in sorted(
                run(make("ceo"), engine, seed=7).calls, key=lambda c: (c.round, c.role, c.seed)
            )
        ]

    assert seeds() == seeds()


@pytest.mark.parametrize("memory, part", [("none", "user"), ("chat_history", "memory")])
def test_prompt_override_per_domain(memory: str, part: str) -> None:
    prompts = prompts_cfg()
    prompts["critic"]["math"] = {part: "CUSTOM {task}. End with [Agree] or [Disagree]."}
    engine = ScriptedEngine({"evaluator": RIGHT})
    run(make(prompts=prompts, memory=memory), engine)
    critic = [r for r in engine.requests if r.role == "critic"][0]
    assert critic.messages[-1]["content"].startswith("CUSTOM What is 6 * 7?")
    assert (
        "\\boxed{}" in [r for r in engine.requests if r.role == "solver"][0].messages[-1]["content"]
    )


def test_broken_prompt_fails_at_build() -> None:
    prompts = prompts_cfg()
    prompts["evaluator"]["user"] = "{nonexistent_field}"
    with pytest.raises(ConfigError, match="evaluator"):
        make(prompts=prompts)


@pytest.mark.parametrize("name", ["single", "agentverse", "ceo"])
def test_build_from_shipped_configs(name: str) -> None:
    mas = make(name)
    result = run(mas, ScriptedEngine({"solver": "\\boxed{42}"}))
    assert result.response == "\\boxed{42}" and result.error is None


def test_executor_reports_a_solution_that_exits_before_its_tests(data_dir) -> None:
    """In the real sandbox: a solution that ends its process with status 0 before the executor's
    tests ran is not reported to the evaluator as passing."""
    from harness.sandbox import Sandbox
    from tests.settings_helper import sandbox_config

    sandbox = Sandbox(sandbox_config())
    try:
        quitter = "```python\nimport sys\n\ndef add(a, b):\n    return a - b\n\nsys.exit(0)\n```"
        honest = "```python\ndef add(a, b):\n    return a + b\n```"
        tests = "### Code:\n```python\nassert add(1, 2) == 3\n```"
        verdicts = {}
        for name, solution in (("quitter", quitter), ("honest", honest)):
            engine = ScriptedEngine(
                {"solver": solution, "executor": tests, "evaluator": RIGHT}, "code"
            )
            result = run(make(turns=1, sandbox=sandbox), engine, CODE)
            verdicts[name] = events(result, "execution")[0]
        assert verdicts["honest"]["passed"] is True
        assert verdicts["quitter"]["passed"] is False
        assert "verdict: passed" not in verdicts["quitter"]["output"]
    finally:
        sandbox.close()
