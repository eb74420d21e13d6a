"""The protocol's steps: small async functions over one episode's :class:`State`.

Each step reads and writes the state (the latest solution, the experts, the agents' memories,
the executor's tests, the evaluator's advice) and asks its role through ``Episode.ask``, so a
system is the order in which it runs them. ``mas=agentverse`` runs, each round,
``recruit → direct → discuss (propose, review ⇄ revise) → execute → evaluate``; ``mas=ceo``
puts the CEO's ``decide`` (harness.mas.ceo) first. Another system (a debate, a vote) can run
``propose`` and ``review`` its own way, in the spirit of Inspect AI's solvers.

Every step records what it decided as transcript events (harness.transcript) naming the call
it came from, and turns an output that still does not parse after the re-asks into a recorded
fallback, so bad model output never aborts an episode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.mas.base import Asked, CallRecord, Episode, Who
from harness.mas.execution import build_test_program, build_test_runner, exec_report
from harness.mas.memory import Memory, Message
from harness.mas.parsing import (
    CRITIC,
    EVALUATOR,
    EXECUTOR,
    RECRUITER,
    SOLVER,
    Critique,
    Evaluation,
    check_solution,
    clean,
    extract_code,
    parse_critique,
    parse_evaluation,
    parse_recruits,
    parse_tests,
)
from harness.mas.prompts import Prompts
from harness.mas.settings import AgentVerseSettings
from harness.problem import Problem


def role_limit(
    settings: AgentVerseSettings, tokens: int, role: str, budget: int | None = None
) -> int:
    """A role's token limit: the CEO's ``budget`` when it budgets the role, else the explicit
    ``mas.role_tokens.<role>``, else ``tokens``; never above ``tokens`` for the roles in
    ``mas.tokens_caps``. The one definition the steps and the sweep plan (harness/plan.py) use."""
    limit = budget if budget is not None else (settings.role_tokens.get(role) or tokens)
    return min(limit, tokens) if role in settings.tokens_caps else limit


@dataclass
class RoundPlan:
    agents: int  # experts this round: one solver, agents - 1 critics
    budget: int | None  # the CEO's per-agent budget (for mas.ceo.budget_roles); None: no CEO
    direction: str | None  # what this round should focus on (None: nothing yet)
    sender: str  # who gave the direction: ceo | evaluator
    source: int | None  # seq of the call the direction came from
    stop: bool = False  # end the episode before this round
    budget_roles: tuple[str, ...] = ()


@dataclass
class Kit:
    """What steps read besides the state: the system's settings, prompts, knobs and sandbox."""

    settings: AgentVerseSettings
    prompts: Prompts
    tokens: int
    critic_rounds: int
    sandbox_factory: Callable[[], Any] | None

    def limit(self, role: str, plan: RoundPlan | None) -> int:
        """``role``'s token limit this round (:func:`role_limit`)."""
        budgeted = plan is not None and plan.budget is not None and role in plan.budget_roles
        return role_limit(self.settings, self.tokens, role, plan.budget if budgeted else None)

    def text(self, key: str) -> str:
        return self.prompts.get("texts", key)

    def name(self, role: str, k: int = 0, expert: str = "") -> str:
        """How a sender is tagged in chat histories (``names`` of the prompt set: ``{k}`` the
        critic's number, ``{expert}`` the recruited description, as the original tagged)."""
        return self.prompts.get("names", role).format(k=k, expert=expert.strip().strip("."))

    def messages(
        self, role: str, problem: Problem, /, part: str = "user", **fields: Any
    ) -> list[dict[str, str]]:
        render = self.prompts.render_role
        return [
            {"role": "system", "content": render(role, "system", problem, **fields)},
            {"role": "user", "content": render(role, part, problem, **fields)},
        ]


@dataclass
class Tests:
    """The executor agent's tests of the problem: written once, re-run on every solution."""

    code: str  # "" when the executor gave none (the solution then only has to load)
    call: int | None  # seq of the call that wrote them


@dataclass
class State:
    """One episode's state, which the steps read and write."""

    ep: Episode
    kit: Kit
    round: int = 0
    plan: RoundPlan | None = None
    experts: list[str] = field(default_factory=list)
    solution: str = ""  # latest solution (visible text): what gets graded
    solution_call: int | None = None  # seq of the call that wrote it
    issue: str | None = "no solution yet"  # why `solution` lacks the required structure
    advice: str = ""  # the evaluator's last advice
    recruiting: str = ""  # the evaluator's last recruiting suggestion
    feedback: str = ""  # the evaluator's last verdict, as the CEO sees it
    evaluation_call: int | None = None  # seq of the evaluator's last call
    tests: Tests | None = None
    solver_memory: Memory | None = None  # lasts the episode
    critic_memories: list[Memory] = field(default_factory=list)  # fresh each round

    @property
    def problem(self) -> Problem:
        return self.ep.problem

    @property
    def direction(self) -> str:
        plan = self.plan
        return plan.direction if plan and plan.direction else self.kit.text("no_advice")

    def broadcast(self, sender: str, text: str, call: int | None) -> None:
        """Send a message into the memory of the solver and of every critic of the round (the
        original's ``broadcast_messages``). Nothing to do under ``mas.memory=none``."""
        if not self.kit.settings.remembers or not text.strip():
            return
        memories = [m for m in (self.solver_memory, *self.critic_memories) if m is not None]
        message = Message(sender, text, call)
        for memory in memories:
            memory.add(message)
        self.ep.event(
            "memory",
            round=self.round,
            call=call,
            to=[m.owner for m in memories],
            sender=sender,
            text=text,
        )

    def history(self, memory: Memory | None) -> str:
        """``memory``'s visible window as the prompt's chat-history block ("" when empty)."""
        if memory is None or not memory.recent():
            return ""
        prompts, problem = self.kit.prompts, self.problem
        items = [
            prompts.render("history", "item", problem=problem, sender=m.sender, text=m.text)
            for m in memory.recent()
        ]
        sep = prompts.get("history", "separator")
        return prompts.render("history", "block", problem=problem, messages=sep.join(items))


# -- recruit ----------------------------------------------------------------------------------


async def recruit(st: State) -> list[str]:
    """The recruiter names ``plan.agents`` distinct experts: the first solves, the rest review."""
    ep, kit, plan = st.ep, st.kit, st.plan
    assert plan is not None
    n = plan.agents
    advice = "\n".join(x for x in (st.advice, st.recruiting) if x)
    messages = kit.messages(RECRUITER, st.problem, n=n, advice=advice or kit.text("no_advice"))
    asked = await ep.ask(
        Who(RECRUITER, st.round, "recruit"),
        messages,
        kit.limit(RECRUITER, plan),
        lambda text: parse_recruits(text, n),
    )
    experts = asked.value
    if experts is None:
        experts = list(asked.partial or [])[:n]
        experts += [
            kit.prompts.render_role(RECRUITER, "fallback", st.problem, i=i)
            for i in range(len(experts) + 1, n + 1)
        ]
        _fallback(st, RECRUITER, asked, used=experts)
    ep.event(
        "experts", round=st.round, call=asked.record.seq, solver=experts[0], critics=experts[1:]
    )
    st.experts = experts
    return experts


# -- direct: the start of a round -------------------------------------------------------------


async def direct(st: State) -> None:
    """Seat the round's critics with fresh memories and broadcast the round's direction (the
    CEO's, or without a CEO the evaluator's last advice) into the solver's and critics'
    memories, as the original did before the solver's first proposal."""
    kit = st.kit
    if not kit.settings.remembers:
        return
    window = kit.settings.history_window
    if st.solver_memory is None:
        st.solver_memory = Memory("solver", window[SOLVER])
    st.critic_memories = [
        Memory(f"critic {k}", window[CRITIC]) for k in range(1, len(st.experts[1:]) + 1)
    ]
    plan = st.plan
    if plan is not None and plan.direction:
        st.broadcast(kit.name(plan.sender), plan.direction, plan.source)


# -- discuss: propose, then review ⇄ revise ----------------------------------------------------


async def discuss(st: State) -> None:
    """The solver proposes; critics review in parallel; disagreements go back to the solver,
    up to ``critic_rounds`` times, stopping early on consensus (the original's vertical,
    solver-first decision maker)."""
    await propose(st)
    for iteration in range(1, st.kit.critic_rounds + 1):
        if len(st.experts) < 2:
            return
        critiques = await review(st, iteration)
        objections = [(k, c, call) for k, c, call in critiques if not c.agree and c.text]
        if not objections:
            st.ep.event("consensus", round=st.round, call=None, iteration=iteration)
            return
        for k, critique, call in objections:
            st.broadcast(st.kit.name(CRITIC, k, st.experts[k]), critique.text, call)
        await revise(st, iteration, objections)


async def propose(st: State) -> None:
    """The solver writes a solution."""
    kit, problem = st.kit, st.problem
    fields = dict(role=st.experts[0], advice=st.direction)
    if kit.settings.remembers:
        messages = _solver_with_memory(st, fields)
    else:
        previous = ""
        if st.solution:
            previous = kit.prompts.render_role(SOLVER, "previous", problem, solution=st.solution)
        messages = kit.messages(SOLVER, problem, previous=previous, **fields)
    await _solve(st, Who(SOLVER, st.round, "propose", expert=st.experts[0]), messages)


async def review(st: State, iteration: int) -> list[tuple[int, Critique, int]]:
    """Every critic of the round reviews the latest solution, in parallel. Returns (critic k,
    critique, call seq) in critic order."""
    critics = st.experts[1:]
    results = await asyncio.gather(
        *(critique(st, k, expert, iteration) for k, expert in enumerate(critics, 1))
    )
    agreed = sum(c.agree for _, c, _ in results)
    disagreed = sum(1 for _, c, _ in results if not c.agree and c.text)
    st.ep.event(
        "review",
        round=st.round,
        call=None,
        iteration=iteration,
        agree=agreed,
        disagree=disagreed,
        abstain=len(critics) - agreed - disagreed,
    )
    return list(results)


async def critique(st: State, k: int, expert: str, iteration: int) -> tuple[int, Critique, int]:
    """Critic ``k`` reviews the latest solution and ends with [Agree] or [Disagree]."""
    kit, problem = st.kit, st.problem
    who = Who(CRITIC, st.round, "review", agent=k, expert=expert, iteration=iteration)
    if kit.settings.remembers:
        memory = st.critic_memories[k - 1] if k <= len(st.critic_memories) else None
        messages = kit.messages(
            CRITIC,
            problem,
            part="memory",
            role=expert,
            advice=st.direction,
            history=st.history(memory),
        )
    else:
        solution = st.solution or kit.text("no_solution")
        messages = kit.messages(
            CRITIC, problem, role=expert, advice=st.direction, solution=solution
        )
    asked = await st.ep.ask(who, messages, kit.limit(CRITIC, st.plan), parse_critique)
    result = asked.value
    if result is None:
        # As in the original system: a review without a verdict counts as a disagreement, and
        # an empty one (nothing to act on) as an abstention that cannot block consensus.
        text = clean(asked.partial or "")
        _fallback(st, CRITIC, asked, used="disagree" if text else "abstain", agent=k)
        result = Critique(agree=False, text=text)
    verdict = True if result.agree else (False if result.text else None)
    st.ep.event(
        "verdict",
        round=st.round,
        call=asked.record.seq,
        agent=k,
        expert=expert,
        iteration=iteration,
        agree=verdict,
        text=result.text,
    )
    return k, result, asked.record.seq


async def revise(st: State, iteration: int, objections: list[tuple[int, Critique, int]]) -> None:
    """The solver answers the critics' objections with a complete new solution."""
    kit, problem = st.kit, st.problem
    fields = dict(role=st.experts[0], advice=st.direction)
    if kit.settings.remembers:
        messages = _solver_with_memory(st, fields)
    else:
        critiques = "\n\n".join(
            f"[{kit.name(CRITIC, k, st.experts[k])}]\n{c.text}" for k, c, _ in objections
        )
        messages = kit.messages(
            SOLVER,
            problem,
            part="revise",
            solution=st.solution or kit.text("no_solution"),
            critiques=critiques,
            **fields,
        )
    who = Who(SOLVER, st.round, "revise", expert=st.experts[0], iteration=iteration)
    await _solve(st, who, messages)


def _solver_with_memory(st: State, fields: dict[str, Any]) -> list[dict[str, str]]:
    # With memory the solver's own conversation (and the broadcasts) carry the previous draft
    # and the critiques, so proposing and revising send the same prompt over that history.
    history = st.history(st.solver_memory)
    return st.kit.messages(SOLVER, st.problem, part="memory", history=history, **fields)


async def _solve(st: State, who: Who, messages: list[dict[str, str]]) -> None:
    domain, settings = st.problem.domain, st.kit.settings
    asked = await st.ep.ask(
        who, messages, st.kit.limit(SOLVER, st.plan), lambda t: check_solution(t, domain)
    )
    record = asked.record
    text = asked.value if asked.value is not None else record.output
    if domain == "code" and settings.code_messages == "code_block":
        # the original's code solver parser kept only the last fenced block
        code = extract_code(text)
        text = f"```python\n{code.strip()}\n```" if code is not None else text
    if asked.value is not None:
        st.solution, st.issue, st.solution_call = text, None, record.seq
    elif st.solution and st.issue is None and settings.final_answer == "last_parsed":
        _fallback(st, SOLVER, asked, used="kept the previous solution")
    elif record.output.strip():
        # the original took the solver's last message, usable or not (mas.final_answer)
        st.solution, st.issue, st.solution_call = text, asked.reason, record.seq
        _fallback(st, SOLVER, asked, used="raw output")
    else:
        st.issue = asked.reason
        _fallback(st, SOLVER, asked, used="no solution")
        return
    if st.solution_call == record.seq:
        st.broadcast(st.kit.name(SOLVER, 0, st.experts[0]), st.solution, record.seq)


# -- execute ----------------------------------------------------------------------------------


async def execute(st: State) -> str:
    """Code tasks: run the latest solution in the sandbox against the executor agent's tests
    (written once per problem, the first time a solution with code exists; never the hidden
    grading tests). Returns the report the evaluator reads."""
    ep, kit = st.ep, st.kit
    if st.problem.domain != "code":
        return kit.text("no_tests")
    if not kit.settings.execute_code or kit.sandbox_factory is None:
        reason = "mas.execute_code is false" if not kit.settings.execute_code else "no sandbox"
        ep.event("executor_skipped", round=st.round, call=None, reason=reason)
        return kit.text("no_tests")
    code = extract_code(st.solution)
    if code is None:
        ep.event("executor_skipped", round=st.round, call=None, reason="solution has no code block")
        return kit.text("no_code")
    if st.tests is None:
        st.tests = await write_tests(st)
    program = build_test_program(code, st.tests.code)
    try:
        result = await kit.sandbox_factory().run(
            code, tests=build_test_runner(st.tests.code), timeout_s=kit.settings.exec_timeout_s
        )
    except Exception as exc:  # the sandbox failing must not end the episode
        ep.event("sandbox_error", round=st.round, call=None, error=f"{type(exc).__name__}: {exc}")
        return f"The tests could not be run ({type(exc).__name__}: {exc})."
    report = exec_report(result)
    ep.event(
        "execution",
        round=st.round,
        call=st.solution_call,
        program=program,
        verdict=getattr(result, "verdict", None),
        passed=bool(getattr(result, "passed", False)),
        output=report,
        tests_from=st.tests.call,
        solution_from=st.solution_call,
    )
    return report


async def write_tests(st: State) -> Tests:
    """The executor agent writes unit tests from the task (and its public examples)."""
    kit, problem = st.kit, st.problem
    examples = _public_tests(problem)
    if examples:
        examples = kit.prompts.render_role(EXECUTOR, "examples", problem, public_tests=examples)
    messages = kit.messages(EXECUTOR, problem, examples=examples)
    asked = await st.ep.ask(
        Who(EXECUTOR, st.round, "write_tests"),
        messages,
        kit.limit(EXECUTOR, st.plan),
        parse_tests,
    )
    if asked.value is None:
        _fallback(st, EXECUTOR, asked, used="solutions run without tests")
    tests = Tests(asked.value or "", asked.record.seq)
    st.ep.event("tests", round=st.round, call=tests.call, code=tests.code)
    return tests


# -- evaluate ---------------------------------------------------------------------------------


async def evaluate(st: State, test_report: str) -> Evaluation:
    """The evaluator judges the latest solution: correctness 0/1, advice and a recruiting
    suggestion. It sees no chat history."""
    ep, kit = st.ep, st.kit
    messages = kit.messages(
        EVALUATOR,
        st.problem,
        experts="; ".join(st.experts),
        test_result=test_report,
        solution=st.solution or kit.text("no_solution"),
    )
    asked = await ep.ask(
        Who(EVALUATOR, st.round, "evaluate"),
        messages,
        kit.limit(EVALUATOR, st.plan),
        parse_evaluation,
    )
    evaluation = asked.value
    if evaluation is None:
        # Never let an unreadable verdict end the episode: treat it as "not correct".
        evaluation = Evaluation(correct=False)
        _fallback(st, EVALUATOR, asked, used="correctness 0, no advice")
        st.feedback = f"The evaluator's reply could not be read ({asked.reason})."
    else:
        # as the original's CEO read it: the advice with the recruiting suggestion after it
        st.feedback = (
            f"Correctness: {int(evaluation.correct)}. Advice: {evaluation.advice or '-'}\n"
            f"Recruiting suggestion: {evaluation.recruiting or '-'}"
        )
    st.advice, st.recruiting = evaluation.advice, evaluation.recruiting
    st.evaluation_call = asked.record.seq
    ep.event(
        "evaluation",
        round=st.round,
        call=asked.record.seq,
        correct=evaluation.correct,
        advice=evaluation.advice,
        recruiting=evaluation.recruiting,
        parsed=asked.value is not None,
    )
    return evaluation


# -- end --------------------------------------------------------------------------------------


def finish(st: State) -> None:
    """The latest solution is the episode's response; say why when it is likely unusable.

    An unusable final solution (no box, no code block) is the model's wrong answer, graded as
    such with its no-answer cause; it is recorded as an event, not as the episode's ``error``,
    which is kept for what went wrong in the harness or the engine (an engine failure is
    already on its call record)."""
    result = st.ep.result
    result.response = st.solution
    if result.error is None and st.issue:
        kind = "final solution unusable" if st.solution.strip() else "no solution"
        st.ep.event("final_solution_issue", round=st.round, call=None, reason=f"{kind}: {st.issue}")


def _fallback(st: State, role: str, asked: Asked, *, used: Any, agent: int = 0) -> None:
    record: CallRecord = asked.record
    st.ep.event(
        "fallback",
        round=st.round,
        call=record.seq,
        role=role,
        agent=agent,
        reason=asked.reason,
        used=used,
    )


def _public_tests(problem: Problem) -> str:
    tests = (problem.meta or {}).get("public_tests")
    if not tests:
        return ""
    if isinstance(tests, list | tuple):
        return "\n".join(str(t) for t in tests)
    return str(tests)
