"""What each role sees at each step, pinned with a scripted engine: the solver's chat history
across rounds, the critics' fresh ones each round, the broadcasts between them, the history
windows, the direction broadcast at the start of a round, and the roles that see no history
(CEO, recruiter, executor, evaluator). Also the stateless ablation (``mas.memory=none``) and
the executor's tests, written once per problem."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

import pytest

from harness.engines.base import Request
from harness.roles import _CANNED_EXPERTS
from tests.unit.test_mas import (
    CODE,
    RIGHT,
    WRONG,
    FakeSandbox,
    ScriptedEngine,
    ceo_says,
    events,
    make,
    run,
)

EXPERT_1, EXPERT_2 = (e.replace("A ", "a ", 1) for e in _CANNED_EXPERTS[1:3])


def history(request: Request) -> list[str]:
    """The chat-history items of a request (its last message), in order."""
    text = request.messages[-1]["content"]
    m = re.search(r"<history>\n\n\n(.*?)\n\n</history>", text, re.S)
    return m.group(1).split("\n\n") if m else []


def by_role(engine: ScriptedEngine, role: str) -> list[Request]:
    return [r for r in engine.requests if r.role == role]


def critic_script(verdicts: dict[tuple[int, int], str]) -> Any:
    """Critic k's answer to its i-th review (1-based): ``verdicts[(k, i)]`` (default: agree)."""
    seen: Counter[int] = Counter()

    def answer(request: Request, n: int) -> str:
        k = 1 if EXPERT_1 in request.messages[0]["content"] else 2
        seen[k] += 1
        return verdicts.get((k, seen[k]), "Fine. [Agree]")

    return answer


def two_round_engine(**extra: Any) -> ScriptedEngine:
    """Round 1: critic 1 objects once, then all agree; the evaluator says 0. Round 2: all agree
    at once; the evaluator says 1."""
    return ScriptedEngine(
        {
            "solver": ["first \\boxed{41}", "second \\boxed{42}", "third \\boxed{43}"],
            "critic": critic_script({(1, 1): "OBJECTION-ONE: recheck. [Disagree]"}),
            "evaluator": [WRONG, RIGHT],
            **extra,
        }
    )


def test_who_sees_what_across_two_rounds() -> None:
    engine = two_round_engine()
    result = run(make(agents=3, turns=2, critic_rounds=2), engine)
    assert result.rounds == 2 and result.response == "third \\boxed{43}"
    solver, critics = by_role(engine, "solver"), by_role(engine, "critic")
    # round 1: no direction yet, so the first proposal is asked with an empty history
    assert history(solver[0]) == []
    r1_i1 = [c for c in critics[:2]]
    assert all(history(c) == ["[Solver]: first \\boxed{41}"] for c in r1_i1)
    # the solver's revision sees its proposal and the objection, tagged with the sender; the
    # agreeing critic's review is not broadcast
    assert history(solver[1]) == [
        "[Solver]: first \\boxed{41}",
        "[Critic 1]: OBJECTION-ONE: recheck.",
    ]
    # critics see the last 3 messages (the original's critic window): the revision is last
    r1_i2 = critics[2:4]
    assert all(
        history(c)
        == [
            "[Solver]: first \\boxed{41}",
            "[Critic 1]: OBJECTION-ONE: recheck.",
            "[Solver]: second \\boxed{42}",
        ]
        for c in r1_i2
    )
    # round 2: the evaluator's advice is broadcast first; the solver keeps its history
    assert history(solver[2]) == [
        "[Solver]: first \\boxed{41}",
        "[Critic 1]: OBJECTION-ONE: recheck.",
        "[Solver]: second \\boxed{42}",
        "[Evaluator]: recheck the product",
    ]
    # ... while the round's critics start fresh: the advice and the new proposal only
    r2 = critics[4:6]
    assert all(
        history(c) == ["[Evaluator]: recheck the product", "[Solver]: third \\boxed{43}"]
        for c in r2
    )
    # roles without a history
    for role in ("recruiter", "evaluator"):
        assert all("<history>" not in r.messages[-1]["content"] for r in by_role(engine, role))
    # the solution it judges is in its system message, as the original's
    assert "second \\boxed{42}" in by_role(engine, "evaluator")[0].messages[0]["content"]
    # every broadcast is an event naming its sender, its receivers and its call
    memory = events(result, "memory")
    assert [(e["round"], e["sender"]) for e in memory] == [
        (1, "Solver"),
        (1, "Critic 1"),
        (1, "Solver"),
        (2, "Evaluator"),
        (2, "Solver"),
    ]
    assert memory[0]["to"] == ["solver", "critic 1", "critic 2"]
    seqs = {c.seq: c for c in result.calls}
    assert seqs[memory[1]["call"]].role == "critic" and seqs[memory[1]["call"]].agent == 1
    # the direction came from the evaluator's call of round 1
    assert seqs[memory[3]["call"]].role == "evaluator" and seqs[memory[3]["call"]].round == 1


def test_history_windows_come_from_config() -> None:
    engine = two_round_engine()
    mas = make(agents=3, turns=2, critic_rounds=2, **{"history_window.solver": 2})
    run(mas, engine)
    solver = by_role(engine, "solver")
    assert history(solver[1]) == [
        "[Solver]: first \\boxed{41}",
        "[Critic 1]: OBJECTION-ONE: recheck.",
    ]
    assert history(solver[2]) == [
        "[Solver]: second \\boxed{42}",
        "[Evaluator]: recheck the product",
    ]
    engine = two_round_engine()
    run(make(agents=3, turns=2, critic_rounds=2, **{"history_window.critic": 1}), engine)
    assert history(by_role(engine, "critic")[2]) == ["[Solver]: second \\boxed{42}"]


def test_ceo_direction_is_broadcast_and_the_ceo_sees_no_history() -> None:
    engine = two_round_engine(ceo=ceo_says())  # direction: "focus on the product"
    result = run(make("ceo", agents=3, turns=2, critic_rounds=2), engine)
    solver, critics = by_role(engine, "solver"), by_role(engine, "critic")
    assert history(solver[0]) == ["[CEO]: focus on the product"]
    assert history(critics[0]) == ["[CEO]: focus on the product", "[Solver]: first \\boxed{41}"]
    assert history(solver[2])[-1] == "[CEO]: focus on the product"  # round 2's direction
    for r in by_role(engine, "ceo"):
        assert "<history>" not in r.messages[-1]["content"]
    assert "OBJECTION-ONE" not in by_role(engine, "ceo")[1].messages[-1]["content"]
    directions = [e for e in events(result, "memory") if e["sender"] == "CEO"]
    ceo_calls = [c.seq for c in result.calls if c.role == "ceo"]
    assert [e["call"] for e in directions] == ceo_calls


def test_memory_none_is_the_stateless_ablation() -> None:
    engine = two_round_engine()
    result = run(make(agents=3, turns=2, critic_rounds=2, memory="none"), engine)
    assert not events(result, "memory")
    assert all("<history>" not in r.messages[-1]["content"] for r in engine.requests)
    solver = by_role(engine, "solver")
    assert "OBJECTION-ONE: recheck." in solver[1].messages[-1]["content"]  # quoted critiques
    assert "first \\boxed{41}" in solver[1].messages[-1]["content"]
    # round 2 quotes the previous solution without claiming it was judged wrong
    assert "second \\boxed{42}" in solver[2].messages[-1]["content"]
    assert "not yet correct" not in solver[2].messages[-1]["content"]
    assert "second \\boxed{42}" in by_role(engine, "critic")[2].messages[-1]["content"]


def test_executor_writes_tests_once_and_reruns_them_each_round() -> None:
    sandbox = FakeSandbox(verdict="failed")
    tests = "### Thought: t\n### Code:\n```python\nassert add(1, 2) == 3\n```"
    engine = ScriptedEngine(
        {
            "solver": [
                "```python\ndef add(a, b):\n    return a - b\n```",
                "```python\ndef add(a, b):\n    return a + b\n```",
            ],
            "executor": tests,
            "evaluator": [WRONG, RIGHT],
        },
        "code",
    )
    result = run(make(agents=2, turns=2, critic_rounds=1, sandbox=sandbox), engine, CODE)
    assert result.rounds == 2
    assert Counter(c.role for c in result.calls)["executor"] == 1
    (written,) = events(result, "tests")
    assert written["code"] == "assert add(1, 2) == 3" and written["round"] == 1
    runs = events(result, "execution")
    assert [e["round"] for e in runs] == [1, 2]
    assert all(e["tests_from"] == written["call"] for e in runs)
    assert "return a - b" in runs[0]["program"] and "return a + b" in runs[1]["program"]
    assert all("assert add(1, 2) == 3" in e["program"] for e in runs)
    assert runs[0]["program"] == sandbox.programs[0] and "verdict: failed" in runs[0]["output"]
    solver_calls = [c.seq for c in result.calls if c.role == "solver"]
    assert [e["call"] for e in runs] == solver_calls
    # the executor writes from the task and its examples; it is not shown a solution
    executor = by_role(engine, "executor")[0].messages[-1]["content"]
    assert "assert add(1, 2) == 3" in executor and "return a - b" not in executor
    evaluators = by_role(engine, "evaluator")
    assert all("verdict: failed" in r.messages[-1]["content"] for r in evaluators)


def test_failed_test_writing_is_not_retried_in_later_rounds() -> None:
    sandbox = FakeSandbox()
    engine = ScriptedEngine(
        {
            "solver": CODE.reference_response,
            "executor": "no code here",
            "evaluator": [WRONG, RIGHT],
        },
        "code",
    )
    result = run(
        make(agents=2, turns=2, critic_rounds=1, sandbox=sandbox, parse_retries=0), engine, CODE
    )
    assert Counter(c.role for c in result.calls)["executor"] == 1
    assert events(result, "tests")[0]["code"] == ""
    assert len(sandbox.programs) == 2
    assert all("no tests were run" in p for p in sandbox.programs)
    fallbacks = defaultdict(list)
    for e in events(result, "fallback"):
        fallbacks[e["role"]].append(e["used"])
    assert fallbacks["executor"] == ["solutions run without tests"]


def original_user_message(history: list[dict[str, str]], append_prompt: str) -> str:
    """MAS-TTS ``OpenAIChat.construct_messages`` for local models (the paper's M1-32B runs):
    the agent's history items, each ``[sender]: text`` (AgentVerse ``ChatHistoryMemory``), in
    one user message before the prompt."""
    content = "Here is the chat history: <history>\n\n\n"
    for item in history:
        content += item["content"]
        content += "\n\n"
    return content + "</history>\n\n\n" + append_prompt


def test_history_block_is_the_originals_format() -> None:
    engine = two_round_engine()
    run(make(agents=3, turns=2, critic_rounds=2), engine)
    revise = by_role(engine, "solver")[1].messages[-1]["content"]
    items = [
        {"role": "assistant", "content": "[Solver]: first \\boxed{41}"},
        {"role": "assistant", "content": "[Critic 1]: OBJECTION-ONE: recheck."},
    ]
    prompt = revise[revise.index("Thinking direction") :]
    assert revise == original_user_message(items, prompt)


@pytest.mark.parametrize("name", ["agentverse", "ceo"])
def test_memory_is_the_default_of_both_systems(name: str) -> None:
    assert make(name).settings.memory == "chat_history"
