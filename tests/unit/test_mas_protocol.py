"""The paper presets run the protocol as the original code did (MAS-TTS at ae8f961), one test per
point of the comparison in the README: what each role is sent, cut-off thinking, budget forcing,
the CEO's fallbacks, retries, the GPQA menu and the max-tokens axis. Scripted engine, the
presets composed by Hydra exactly as the CLI composes them."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from harness.engines.base import Completion, Request
from harness.mas import build_mas
from harness.mas.base import Episode, EpisodeResult
from harness.mas.settings import ReasoningSettings, mas_settings
from harness.mas.steps import role_limit
from harness.problem import Problem
from harness.settings import compose, from_node, to_plain
from tests.unit.test_mas import (
    CODE,
    DISAGREE,
    MATH,
    RIGHT,
    WRONG,
    FakeSandbox,
    ScriptedEngine,
    events,
)

TASK = MATH.prompt
CEO_OK = (
    "### Decision: Continue\n### Recruit Number: 3\n### Direction: check x**2 and a_{2}\n"
    "### Maximum Tokens: 8192"
)


def preset(*over: str, bench: str = "math500", mas: str = "ceo", model: str = "tiny") -> Any:
    """+experiment=table1 for one benchmark and system, as the CLI composes it."""
    return compose(
        ["+experiment=table1", f"benchmark={bench}", f"mas={mas}", f"model={model}", *over]
    )


def run_preset(
    cfg: Any, engine: Any, problem: Problem = MATH, sandbox: Any = None
) -> EpisodeResult:
    system = build_mas(
        mas_settings(cfg.mas),
        to_plain(cfg.prompts),
        agents=int(cfg.agents),
        tokens=int(cfg.tokens),
        turns=int(cfg.turns),
        critic_rounds=int(cfg.critic_rounds),
        sandbox_factory=(lambda: sandbox) if sandbox is not None else None,
    )
    object.__setattr__(system.settings, "engine_backoff_s", 0.0)
    reasoning = from_node(ReasoningSettings, cfg.reasoning, "reasoning")
    ep = Episode(engine, problem, 0, seed=0, temperature=0.7, top_p=0.95, reasoning=reasoning)
    return asyncio.run(system.solve(ep))


class TokenEngine(ScriptedEngine):
    """A scripted engine whose answers report ``tokens[role]`` completion tokens and finish
    ``stop`` (so only the budget-forcing margin, not a length stop, can trigger forcing)."""

    def __init__(self, script: dict[str, Any], tokens: dict[str, int], **kw: Any) -> None:
        super().__init__(script, **kw)
        self.tokens = tokens

    async def _generate(self, request: Request) -> Completion:
        out = await super()._generate(request)
        forced = request.prefix.endswith("</think>\n\n")
        n = 3 if forced else self.tokens.get(request.role, 3)
        return Completion(out.text, prompt_tokens=7, completion_tokens=n, finish_reason="stop")


def calls(result: EpisodeResult, role: str) -> list[Any]:
    return [c for c in result.calls if c.role == role]


# -- (5) prompt layout ------------------------------------------------------------------------


def test_each_role_gets_the_task_in_its_system_message() -> None:
    engine = ScriptedEngine(
        {"ceo": CEO_OK, "critic": [DISAGREE, "Fine. [Agree]"], "evaluator": WRONG}
    )
    result = run_preset(preset("turns=2"), engine)
    for role in ("ceo", "recruiter", "solver", "critic", "evaluator"):
        requests = [r for r in engine.requests if r.role == role]
        assert requests, role
        for r in requests:
            assert [m["role"] for m in r.messages] == ["system", "user"], role
            assert TASK in r.messages[0]["content"], role
            assert TASK not in r.messages[1]["content"], role
    # the chat history and the instructions are in the user message
    solver = [r for r in engine.requests if r.role == "solver"]
    assert "<history>" in solver[1].messages[1]["content"]
    assert "<history>" not in solver[1].messages[0]["content"]
    assert "\\boxed{}" in solver[0].messages[1]["content"]  # the answer format: instructions
    # the order per round: CEO, recruiter, solver, critics, (solver, critics)…, evaluator
    first = [c.role for c in result.calls if c.round == 1]
    assert first[:3] == ["ceo", "recruiter", "solver"] and first[-1] == "evaluator"


def test_code_evaluator_gets_the_task_in_its_user_message_as_the_original() -> None:
    engine = ScriptedEngine({"ceo": CEO_OK, "evaluator": RIGHT}, domain="code")
    run_preset(preset(bench="mbpp_sanitized"), engine, CODE, FakeSandbox())
    evaluator = next(r for r in engine.requests if r.role == "evaluator")
    assert CODE.prompt.strip() not in evaluator.messages[0]["content"]
    assert CODE.prompt.strip() in evaluator.messages[1]["content"]


# -- (1) cut-off thinking ---------------------------------------------------------------------


def test_cut_off_thinking_is_kept_raw_under_the_preset() -> None:
    thinking = "<think>\nLet me see, 6*7 = \\boxed{42} probably, but wait"
    engine = ScriptedEngine(
        {"solver": thinking, "critic": "<think>\nhmm", "evaluator": RIGHT},
        finish={"solver": "length", "critic": "length"},
    )
    cfg = preset("model.reasoning_model=true", mas="agentverse")
    assert cfg.reasoning.cut_thinking == "raw"
    result = run_preset(cfg, engine)
    assert result.response == thinking  # the raw text, thinking and its last \boxed{}
    assert all(c.attempt == 0 for c in calls(result, "solver"))  # never re-asked
    assert not events(result, "think_recovery")
    critic = calls(result, "critic")[0]
    assert critic.output == "<think>\nhmm" and critic.finish_reason == "length"


def test_recovery_remains_an_option() -> None:
    engine = ScriptedEngine(
        {"solver": "<think>\nstill thinking", "evaluator": RIGHT}, finish={"solver": "length"}
    )
    cfg = preset("model.reasoning_model=true", "reasoning.cut_thinking=recover", mas="agentverse")
    result = run_preset(cfg, engine)
    assert events(result, "think_recovery")
    assert all(c.output == "" for c in calls(result, "solver"))


# -- (2) budget forcing -----------------------------------------------------------------------


def forcing(limit: int) -> tuple[EpisodeResult, ScriptedEngine]:
    engine = TokenEngine(
        {
            "solver": lambda r, n: "\\boxed{42}" if r.prefix.endswith("</think>\n\n") else "hmm",
            "evaluator": RIGHT,
        },
        tokens={"solver": limit - 150},  # within 200 tokens of the limit, thinking open
    )
    cfg = preset(f"tokens={limit}", mas="agentverse", model="m1-32b")
    return run_preset(cfg, engine), engine


@pytest.mark.parametrize(("limit", "extra"), [(32000, 768), (8192, 4096), (16384, 8192)])
def test_m1_is_budget_forced_for_min_of_context_left_and_half_the_limit(
    limit: int, extra: int
) -> None:
    cfg = preset(model="m1-32b")
    assert cfg.reasoning.force_think and cfg.reasoning.budget_forcing
    result, engine = forcing(limit)
    first = next(r for r in engine.requests if r.role == "solver")
    assert first.prefix == "<think>\n"  # the forced <think>
    forced = [r for r in engine.requests if r.prefix.endswith("</think>\n\n")]
    assert forced and forced[0].role == "solver"
    assert forced[0].params.max_tokens == extra
    assert result.response == "\\boxed{42}"


def test_no_forced_think_or_budget_forcing_for_a_model_the_original_did_not_force() -> None:
    cfg = preset(model="tiny")
    assert not cfg.reasoning.force_think and not cfg.reasoning.budget_forcing


# -- (4) the CEO ------------------------------------------------------------------------------


def ceo_plan(result: EpisodeResult) -> dict[str, Any]:
    return events(result, "ceo_decision")[0]


def test_ceo_failed_parse_falls_back_to_two_agents_32000_tokens_no_direction() -> None:
    engine = ScriptedEngine({"ceo": "I am not sure.", "evaluator": RIGHT})
    result = run_preset(preset(), engine)
    decision = ceo_plan(result)
    assert (decision["agents"], decision["budget"], decision["direction"]) == (2, 32000, None)
    assert len(calls(result, "ceo")) == 3  # max_retry 3: every attempt counted
    assert all(c.max_tokens == 32000 for c in calls(result, "ceo"))  # the CEO's never halved
    solver = next(r for r in engine.requests if r.role == "solver")
    assert "No advice yet." in solver.messages[1]["content"]
    assert not [e for e in events(result, "memory") if e["sender"] == "CEO"]


def test_ceo_unreadable_recruit_number_is_two_and_the_rest_stands() -> None:
    said = CEO_OK.replace("Recruit Number: 3", "Recruit Number: several")
    engine = ScriptedEngine({"ceo": said, "evaluator": RIGHT})
    decision = ceo_plan(run_preset(preset(), engine))
    assert (decision["agents"], decision["budget"]) == (2, 8192)
    assert decision["direction"] == "check x**2 and a_{2}"  # passed on unchanged


def test_ceo_prompt_has_the_calibration_and_the_recruiting_suggestion() -> None:
    engine = ScriptedEngine({"ceo": CEO_OK, "evaluator": WRONG})
    run_preset(preset("turns=2"), engine)
    first, second = [r for r in engine.requests if r.role == "ceo"][:2]
    user = first.messages[1]["content"]
    assert "[4096, 8192, 16384, 32000]" in user and "4096 tokens for simple" in user
    assert "16384 or more" in user and "usually need 2-3, complex ones 4" in user
    assert "an arithmetician" in second.messages[0]["content"]  # the recruiting suggestion
    mbpp = preset(bench="mbpp_sanitized").mas.ceo
    assert (mbpp.ordinary_agents, mbpp.complex_agents) == ("1", "2-3")


def test_the_clamping_fallbacks_remain_an_option() -> None:
    engine = ScriptedEngine({"ceo": "no idea", "evaluator": RIGHT})
    result = run_preset(preset("mas.ceo.fallback=clamp"), engine)
    assert ceo_plan(result)["agents"] == 4  # the upper bound, not the original's 2


# -- (6) retries ------------------------------------------------------------------------------


def test_retries_count_every_attempt_and_halve_max_tokens_above_8192() -> None:
    engine = ScriptedEngine({"ceo": CEO_OK, "evaluator": "garbage"})
    result = run_preset(preset(mas="agentverse"), engine)
    evaluator = [c for c in calls(result, "evaluator") if c.round == 1]
    assert [c.max_tokens for c in evaluator] == [16384, 8192, 8192]  # max_retry 3


def test_code_solver_gets_twenty_attempts() -> None:
    engine = ScriptedEngine({"solver": "no code here", "evaluator": RIGHT}, domain="code")
    cfg = preset(bench="mbpp_sanitized", mas="agentverse")
    result = run_preset(cfg, engine, CODE, FakeSandbox())
    solver = [c for c in calls(result, "solver") if c.step == "propose"]
    assert len(solver) == 20
    assert [c.max_tokens for c in solver[:4]] == [32000, 16000, 8000, 8000]
    assert len([c for c in calls(result, "recruiter")]) == 1
    assert cfg.mas.parse_retries == 9  # every other role: max_retry 10


# -- (8) final answer and code messages -------------------------------------------------------


def test_final_answer_is_the_last_solver_message() -> None:
    engine = ScriptedEngine(
        {
            "solver": ["first \\boxed{41}", "a revision without a boxed answer"],
            "critic": DISAGREE,
            "evaluator": WRONG,
        }
    )
    result = run_preset(preset("turns=1", "critic_rounds=1", mas="agentverse"), engine)
    assert result.response == "a revision without a boxed answer"


def test_code_tasks_pass_the_extracted_code_block() -> None:
    reply = "Here is my solution:\n```python\ndef add(a, b):\n    return a + b\n```\nDone."
    engine = ScriptedEngine({"solver": reply, "evaluator": RIGHT}, domain="code")
    result = run_preset(
        preset(bench="mbpp_sanitized", mas="agentverse"), engine, CODE, FakeSandbox()
    )
    block = "```python\ndef add(a, b):\n    return a + b\n```"
    assert result.response == block
    solver = {c.seq for c in calls(result, "solver")}
    broadcast = [e["text"] for e in events(result, "memory") if e["call"] in solver]
    assert broadcast == [block]
    evaluator = next(r for r in engine.requests if r.role == "evaluator")
    assert "Here is my solution" not in evaluator.messages[1]["content"]


# -- (7) preset values ------------------------------------------------------------------------


def test_gpqa_ceo_menu_is_4096_to_32000() -> None:
    assert list(preset(bench="gpqa_diamond").mas.ceo.budget_menu) == [4096, 8192, 16384, 32000]
    assert list(preset(bench="humaneval").mas.ceo.budget_menu)[0] == 2048


def test_the_max_tokens_axis_moves_only_the_solvers_and_critics_limits() -> None:
    from harness.mas.settings import mas_settings

    cfg = compose(["+experiment=scaling_tokens", "benchmark=math500", "tokens=4096"])
    settings = mas_settings(cfg.mas)
    limits = {role: role_limit(settings, 4096, role) for role in settings.role_tokens}
    assert limits == {
        "recruiter": 8192,
        "solver": 4096,
        "critic": 4096,
        "executor": 8192,
        "evaluator": 16384,
        "ceo": 32000,
    }
    # table1 keeps capping every role, so a shrunk smoke run (tokens=64) stays small
    table1 = mas_settings(preset("tokens=64").mas)
    assert {role_limit(table1, 64, r) for r in table1.role_tokens} == {64}


def test_senders_are_tagged_with_their_recruited_descriptions() -> None:
    engine = ScriptedEngine(
        {
            "recruiter": "1. A number theorist.\n2. An algebraist",
            "critic": DISAGREE,
            "evaluator": RIGHT,
        }
    )
    result = run_preset(preset("critic_rounds=1", mas="agentverse"), engine)
    senders = [e["sender"] for e in events(result, "memory")]
    assert senders[:2] == ["a number theorist", "an algebraist"]
    revise = [r for r in engine.requests if r.role == "solver"][1].messages[1]["content"]
    assert "[an algebraist]: Step 2 is wrong." in revise


# -- prompts=original ---------------------------------------------------------------------------

# A stand-in for a user's checkout of the original: the same schema (prepend = system message,
# append = user message, string.Template variables), this project's own placeholder words.
FIXTURE = {
    "ceo_prepend_prompt": "CEO-SYS task=${task_description} sol=${solution} "
    "fb=${advice} res=${current_resources}",
    "ceo_append_prompt": "CEO-USER\n### Decision: <Continue> or <Stop>\n### Recruit Number:"
    " n\n### Direction: d\n### Maximum Tokens: t",
    "role_assigner_prepend_prompt": "REC-SYS ${task_description} hire ${cnt_critic_agents}; "
    "hints: ${advice}",
    "role_assigner_append_prompt": "REC-USER list ${cnt_critic_agents}:\n1. A [x]",
    "solver_prepend_prompt": "SOLVER-SYS ${task_description}",
    "solver_append_prompt": "SOLVER-USER dir=${advice} put it in \\boxed{answer}",
    "critic_prepend_prompt": "CRITIC-SYS you are ${role_description}: ${task_description}",
    "critic_append_prompt": "CRITIC-USER dir=${advice} end with [Agree] or [Disagree]",
    "evaluator_prepend_prompt": "EVAL-SYS ${all_role_description} | ${task_description} | "
    "${solution}",
    "evaluator_append_prompt": "EVAL-USER ### Correctness: ### Advice: ### Recruiting Suggestion:",
}


def checkout(root: Any, task: str = "math500") -> Any:
    import yaml

    path = root / "agentverse" / "tasks" / "tasksolving" / task / "m1-32b" / "config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump({"cnt_agents": 2, "prompts": FIXTURE}))
    return root


def test_original_prompts_are_read_from_a_checkout_at_run_time(tmp_path) -> None:
    from harness.mas.original_prompts import resolve_prompt_set

    cfg = preset("prompts=original", f"prompts.source_dir={checkout(tmp_path)}")
    prompts = resolve_prompt_set(to_plain(cfg.prompts), "math500")
    cfg.prompts = prompts
    engine = ScriptedEngine({"ceo": CEO_OK, "evaluator": WRONG, "critic": DISAGREE})
    run_preset(cfg, engine)
    first = {r.role: r for r in reversed(engine.requests)}
    ceo = first["ceo"].messages
    assert ceo[0]["content"].startswith(f"CEO-SYS task={TASK} sol=No solution yet.")
    assert ceo[0]["content"].endswith("res=No resources yet.")
    assert first["recruiter"].messages[0]["content"].startswith(f"REC-SYS {TASK} hire 3;")
    assert first["solver"].messages[0]["content"] == f"SOLVER-SYS {TASK}"
    solver_user = first["solver"].messages[1]["content"]
    assert "<history>" in solver_user and solver_user.endswith("\\boxed{answer}")
    assert first["critic"].messages[0]["content"].startswith("CRITIC-SYS you are ")
    assert first["evaluator"].messages[1]["content"].startswith("EVAL-USER")


def test_original_prompts_need_a_checkout(tmp_path) -> None:
    from tests.conftest import run_cli

    r = run_cli("prompts=original", f"prompts.source_dir={tmp_path}", "model=tiny", "limit=1")
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [line for line in r.stderr.splitlines() if "MAS-TTS checkout" in line]
    assert len(lines) == 1 and "is not a MAS-TTS checkout" in lines[0]
