"""The protocol's steps: small async functions over one episode's :class:`State`.

Each step reads and writes the state (the latest solution, the experts, the agents' memories,
the executor's tests, the evaluator's advice) and asks its role through ``Episode.ask``; every
round-level step is ``async (state) -> None`` and a system is the list of them it runs
(harness.mas.rounds). ``mas=agentverse`` runs, each round,
``recruit → direct → discuss (propose, review ⇄ revise) → execute → evaluate``; ``mas=ceo``
puts the CEO's ``decide`` (harness.mas.decide) first. Another system (a debate, a vote) can run
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

from harness.mas.base import CallRecord, CallSite, Episode, Reply
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


@dataclass(frozen=True)
class CEOBounds:
    """What every CEO decision is clamped to: the recruit number's bounds and the budget menu."""

    min_agents: int
    max_agents: int
    menu: list[int]

    def menu_text(self) -> str:
        return "[" + ", ".join(str(b) for b in self.menu) + "]"


@dataclass
class StepContext:
    """What steps read besides the state: the system's settings, prompts, knobs and sandbox."""

    settings: AgentVerseSettings
    prompts: Prompts
    tokens: int
    critic_rounds: int
    sandbox_factory: Callable[[], Any] | None
    agents: int = 1  # experts per round without a CEO
    turns: int = 1
    ceo: CEOBounds | None = None  # mas=ceo: what its decisions are clamped to

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
    context: StepContext
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
    test_report: str = ""  # the executor's report of this round (what the evaluator reads)
    evaluation: Evaluation | None = None  # this round's verdict
    stop: bool = False  # set by a step that ends the episode; the round's later steps are skipped
    solver_memory: Memory | None = None  # lasts the episode
    critic_memories: list[Memory] = field(default_factory=list)  # fresh each round

    @property
    def problem(self) -> Problem:
        return self.ep.problem

    @property
    def direction(self) -> str:
        plan = self.plan
        return plan.direction if plan and plan.direction else self.context.text("no_advice")

    def broadcast(self, sender: str, text: str, call: int | None) -> None:
        """Send a message into the memory of the solver and of every critic of the round (the
        original's ``broadcast_messages``). Nothing to do under ``mas.memory=none``."""
        if not self.context.settings.remembers or not text.strip():
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
        prompts, problem = self.context.prompts, self.problem
        items = [
            prompts.render("history", "item", problem=problem, sender=m.sender, text=m.text)
            for m in memory.recent()
        ]
        sep = prompts.get("history", "separator")
        return prompts.render("history", "block", problem=problem, messages=sep.join(items))


# -- recruit ----------------------------------------------------------------------------------


async def recruit(state: State) -> None:
    """The recruiter names ``plan.agents`` distinct experts: the first solves, the rest review."""
    ep, context, plan = state.ep, state.context, state.plan
    assert plan is not None
    n = plan.agents
    advice = "\n".join(x for x in (state.advice, state.recruiting) if x)
    messages = context.messages(
        RECRUITER, state.problem, n=n, advice=advice or context.text("no_advice")
    )
    reply = await ep.ask(
        CallSite(RECRUITER, state.round, "recruit"),
        messages,
        context.limit(RECRUITER, plan),
        lambda text: parse_recruits(text, n),
    )
    experts = reply.value
    if experts is None:
        experts = list(reply.partial or [])[:n]
        experts += [
            context.prompts.render_role(RECRUITER, "fallback", state.problem, i=i)
            for i in range(len(experts) + 1, n + 1)
        ]
        _fallback(state, RECRUITER, reply, used=experts)
    ep.event(
        "experts", round=state.round, call=reply.record.seq, solver=experts[0], critics=experts[1:]
    )
    state.experts = experts


# -- direct: the start of a round -------------------------------------------------------------


async def direct(state: State) -> None:
    """Seat the round's critics with fresh memories and broadcast the round's direction (the
    CEO's, or without a CEO the evaluator's last advice) into the solver's and critics'
    memories, as the original did before the solver's first proposal."""
    context = state.context
    if not context.settings.remembers:
        return
    window = context.settings.history_window
    if state.solver_memory is None:
        state.solver_memory = Memory("solver", window[SOLVER])
    state.critic_memories = [
        Memory(f"critic {k}", window[CRITIC]) for k in range(1, len(state.experts[1:]) + 1)
    ]
    plan = state.plan
    if plan is not None and plan.direction:
        state.broadcast(context.name(plan.sender), plan.direction, plan.source)


# -- discuss: propose, then review ⇄ revise ----------------------------------------------------


async def discuss(state: State) -> None:
    """The solver proposes; critics review in parallel; disagreements go back to the solver,
    up to ``critic_rounds`` times, stopping early on consensus (the original's vertical,
    solver-first decision maker)."""
    await propose(state)
    for iteration in range(1, state.context.critic_rounds + 1):
        if len(state.experts) < 2:
            return
        critiques = await review(state, iteration)
        objections = [(k, c, call) for k, c, call in critiques if not c.agree and c.text]
        if not objections:
            state.ep.event("consensus", round=state.round, call=None, iteration=iteration)
            return
        for k, critique, call in objections:
            state.broadcast(state.context.name(CRITIC, k, state.experts[k]), critique.text, call)
        await revise(state, iteration, objections)


async def propose(state: State) -> None:
    """The solver writes a solution."""
    context, problem = state.context, state.problem
    fields = dict(role=state.experts[0], advice=state.direction)
    if context.settings.remembers:
        messages = _solver_with_memory(state, fields)
    else:
        previous = ""
        if state.solution:
            previous = context.prompts.render_role(
                SOLVER, "previous", problem, solution=state.solution
            )
        messages = context.messages(SOLVER, problem, previous=previous, **fields)
    await _solve(state, CallSite(SOLVER, state.round, "propose", expert=state.experts[0]), messages)


async def review(state: State, iteration: int) -> list[tuple[int, Critique, int]]:
    """Every critic of the round reviews the latest solution, in parallel. Returns (critic k,
    critique, call seq) in critic order."""
    critics = state.experts[1:]
    results = await asyncio.gather(
        *(critique(state, k, expert, iteration) for k, expert in enumerate(critics, 1))
    )
    agreed = sum(c.agree for _, c, _ in results)
    disagreed = sum(1 for _, c, _ in results if not c.agree and c.text)
    state.ep.event(
        "review",
        round=state.round,
        call=None,
        iteration=iteration,
        agree=agreed,
        disagree=disagreed,
        abstain=len(critics) - agreed - disagreed,
    )
    return list(results)


async def critique(state: State, k: int, expert: str, iteration: int) -> tuple[int, Critique, int]:
    """Critic ``k`` reviews the latest solution and ends with [Agree] or [Disagree]."""
    context, problem = state.context, state.problem
    who = CallSite(CRITIC, state.round, "review", agent=k, expert=expert, iteration=iteration)
    if context.settings.remembers:
        memory = state.critic_memories[k - 1] if k <= len(state.critic_memories) else None
        messages = context.messages(
            CRITIC,
            problem,
            part="memory",
            role=expert,
            advice=state.direction,
            history=state.history(memory),
        )
    else:
        solution = state.solution or context.text("no_solution")
        messages = context.messages(
            CRITIC, problem, role=expert, advice=state.direction, solution=solution
        )
    reply = await state.ep.ask(who, messages, context.limit(CRITIC, state.plan), parse_critique)
    result = reply.value
    if result is None:
        # As in the original system: a review without a verdict counts as a disagreement, and
        # an empty one (nothing to act on) as an abstention that cannot block consensus.
        text = clean(reply.partial or "")
        _fallback(state, CRITIC, reply, used="disagree" if text else "abstain", agent=k)
        result = Critique(agree=False, text=text)
    verdict = True if result.agree else (False if result.text else None)
    state.ep.event(
        "verdict",
        round=state.round,
        call=reply.record.seq,
        agent=k,
        expert=expert,
        iteration=iteration,
        agree=verdict,
        text=result.text,
    )
    return k, result, reply.record.seq


async def revise(state: State, iteration: int, objections: list[tuple[int, Critique, int]]) -> None:
    """The solver answers the critics' objections with a complete new solution."""
    context, problem = state.context, state.problem
    fields = dict(role=state.experts[0], advice=state.direction)
    if context.settings.remembers:
        messages = _solver_with_memory(state, fields)
    else:
        critiques = "\n\n".join(
            f"[{context.name(CRITIC, k, state.experts[k])}]\n{c.text}" for k, c, _ in objections
        )
        messages = context.messages(
            SOLVER,
            problem,
            part="revise",
            solution=state.solution or context.text("no_solution"),
            critiques=critiques,
            **fields,
        )
    who = CallSite(SOLVER, state.round, "revise", expert=state.experts[0], iteration=iteration)
    await _solve(state, who, messages)


def _solver_with_memory(state: State, fields: dict[str, Any]) -> list[dict[str, str]]:
    # With memory the solver's own conversation (and the broadcasts) carry the previous draft
    # and the critiques, so proposing and revising send the same prompt over that history.
    history = state.history(state.solver_memory)
    return state.context.messages(SOLVER, state.problem, part="memory", history=history, **fields)


async def _solve(state: State, who: CallSite, messages: list[dict[str, str]]) -> None:
    domain, settings = state.problem.domain, state.context.settings
    reply = await state.ep.ask(
        who, messages, state.context.limit(SOLVER, state.plan), lambda t: check_solution(t, domain)
    )
    record = reply.record
    text = reply.value if reply.value is not None else record.output
    if domain == "code" and settings.code_messages == "code_block":
        # the original's code solver parser kept only the last fenced block
        code = extract_code(text)
        text = f"```python\n{code.strip()}\n```" if code is not None else text
    if reply.value is not None:
        state.solution, state.issue, state.solution_call = text, None, record.seq
    elif state.solution and state.issue is None and settings.final_answer == "last_parsed":
        _fallback(state, SOLVER, reply, used="kept the previous solution")
    elif record.output.strip():
        # the original took the solver's last message, usable or not (mas.final_answer)
        state.solution, state.issue, state.solution_call = text, reply.reason, record.seq
        _fallback(state, SOLVER, reply, used="raw output")
    else:
        state.issue = reply.reason
        _fallback(state, SOLVER, reply, used="no solution")
        return
    if state.solution_call == record.seq:
        state.broadcast(state.context.name(SOLVER, 0, state.experts[0]), state.solution, record.seq)


# -- execute ----------------------------------------------------------------------------------


async def execute(state: State) -> None:
    """Code tasks: run the latest solution in the sandbox against the executor agent's tests
    (written once per problem, the first time a solution with code exists; never the hidden
    grading tests). The report the evaluator reads goes to ``state.test_report``."""
    state.test_report = await _run_tests(state)


async def _run_tests(state: State) -> str:
    ep, context = state.ep, state.context
    if state.problem.domain != "code":
        return context.text("no_tests")
    if not context.settings.execute_code or context.sandbox_factory is None:
        reason = "mas.execute_code is false" if not context.settings.execute_code else "no sandbox"
        ep.event("executor_skipped", round=state.round, call=None, reason=reason)
        return context.text("no_tests")
    code = extract_code(state.solution)
    if code is None:
        ep.event(
            "executor_skipped", round=state.round, call=None, reason="solution has no code block"
        )
        return context.text("no_code")
    if state.tests is None:
        state.tests = await write_tests(state)
    program = build_test_program(code, state.tests.code)
    try:
        result = await context.sandbox_factory().run(
            code,
            tests=build_test_runner(state.tests.code),
            timeout_s=context.settings.exec_timeout_s,
        )
    except Exception as exc:  # the sandbox failing must not end the episode
        ep.event(
            "sandbox_error", round=state.round, call=None, error=f"{type(exc).__name__}: {exc}"
        )
        return f"The tests could not be run ({type(exc).__name__}: {exc})."
    report = exec_report(result)
    ep.event(
        "execution",
        round=state.round,
        call=state.solution_call,
        program=program,
        verdict=getattr(result, "verdict", None),
        passed=bool(getattr(result, "passed", False)),
        output=report,
        tests_from=state.tests.call,
        solution_from=state.solution_call,
    )
    return report


async def write_tests(state: State) -> Tests:
    """The executor agent writes unit tests from the task (and its public examples)."""
    context, problem = state.context, state.problem
    examples = _public_tests(problem)
    if examples:
        examples = context.prompts.render_role(EXECUTOR, "examples", problem, public_tests=examples)
    messages = context.messages(EXECUTOR, problem, examples=examples)
    reply = await state.ep.ask(
        CallSite(EXECUTOR, state.round, "write_tests"),
        messages,
        context.limit(EXECUTOR, state.plan),
        parse_tests,
    )
    if reply.value is None:
        _fallback(state, EXECUTOR, reply, used="solutions run without tests")
    tests = Tests(reply.value or "", reply.record.seq)
    state.ep.event("tests", round=state.round, call=tests.call, code=tests.code)
    return tests


# -- evaluate ---------------------------------------------------------------------------------


async def evaluate(state: State) -> None:
    """The evaluator judges the latest solution: correctness 0/1, advice and a recruiting
    suggestion. It sees no chat history."""
    ep, context = state.ep, state.context
    messages = context.messages(
        EVALUATOR,
        state.problem,
        experts="; ".join(state.experts),
        test_result=state.test_report or state.context.text("no_tests"),
        solution=state.solution or context.text("no_solution"),
    )
    reply = await ep.ask(
        CallSite(EVALUATOR, state.round, "evaluate"),
        messages,
        context.limit(EVALUATOR, state.plan),
        parse_evaluation,
    )
    evaluation = reply.value
    if evaluation is None:
        # Never let an unreadable verdict end the episode: treat it as "not correct".
        evaluation = Evaluation(correct=False)
        _fallback(state, EVALUATOR, reply, used="correctness 0, no advice")
        state.feedback = f"The evaluator's reply could not be read ({reply.reason})."
    else:
        # as the original's CEO read it: the advice with the recruiting suggestion after it
        state.feedback = (
            f"Correctness: {int(evaluation.correct)}. Advice: {evaluation.advice or '-'}\n"
            f"Recruiting suggestion: {evaluation.recruiting or '-'}"
        )
    state.advice, state.recruiting = evaluation.advice, evaluation.recruiting
    state.evaluation_call = reply.record.seq
    ep.event(
        "evaluation",
        round=state.round,
        call=reply.record.seq,
        correct=evaluation.correct,
        advice=evaluation.advice,
        recruiting=evaluation.recruiting,
        parsed=reply.value is not None,
    )
    state.evaluation = evaluation


# -- the round's bounds --------------------------------------------------------------------------


async def fixed_plan(state: State) -> None:
    """Without a CEO: ``agents`` experts, every role at its own limit, and the evaluator's last
    advice as the direction (none in the first round)."""
    state.plan = RoundPlan(
        state.context.agents, None, state.advice or None, EVALUATOR, state.evaluation_call
    )


async def begin_round(state: State) -> None:
    """Count the round (it runs: nobody stopped the episode before it)."""
    assert state.plan is not None
    state.ep.result.rounds = state.round
    state.ep.result.agents.append(state.plan.agents)


async def end_on_correct(state: State) -> None:
    """The evaluator's correctness 1 ends the episode (``mas.end_on_correct``), unless only
    the CEO may end it (``mas.stop_on=ceo``)."""
    evaluation, settings = state.evaluation, state.context.settings
    if evaluation is None or not evaluation.correct or not settings.end_on_correct:
        return
    if getattr(settings, "stop_on", EVALUATOR) == "ceo":
        state.ep.event(
            "stop_ignored",
            round=state.round,
            call=state.evaluation_call,
            by=EVALUATOR,
            reason="mas.stop_on=ceo",
        )
        return
    state.ep.event("stop", round=state.round, call=state.evaluation_call, by=EVALUATOR)
    state.stop = True


# -- end --------------------------------------------------------------------------------------


def finish(state: State) -> None:
    """The latest solution is the episode's response; say why when it is likely unusable.

    An unusable final solution (no box, no code block) is the model's wrong answer, graded as
    such with its no-answer cause; it is recorded as an event, not as the episode's ``error``,
    which is kept for what went wrong in the harness or the engine (an engine failure is
    already on its call record)."""
    result = state.ep.result
    result.response = state.solution
    if result.error is None and state.issue:
        kind = "final solution unusable" if state.solution.strip() else "no solution"
        state.ep.event(
            "final_solution_issue", round=state.round, call=None, reason=f"{kind}: {state.issue}"
        )


def _fallback(state: State, role: str, reply: Reply, *, used: Any, agent: int = 0) -> None:
    record: CallRecord = reply.record
    state.ep.event(
        "fallback",
        round=state.round,
        call=record.seq,
        role=role,
        agent=agent,
        reason=reply.reason,
        used=used,
    )


def _public_tests(problem: Problem) -> str:
    tests = (problem.meta or {}).get("public_tests")
    if not tests:
        return ""
    if isinstance(tests, list | tuple):
        return "\n".join(str(t) for t in tests)
    return str(tests)
