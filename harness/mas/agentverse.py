"""mas=agentverse: the fixed multi-agent system.

One episode runs up to ``turns`` rounds; each round, top to bottom:

    plan_round  how many experts, which token budget, which direction (fixed here; the CEO
                system overrides this step)
    recruit     the recruiter names N distinct experts: the first solves, the others critique
    propose     the solver writes a solution
    review      critics review in parallel, ending in [Agree]/[Disagree]; disagreements go back
                to the solver (revise), up to ``critic_rounds`` times, stopping on consensus
    execute     code tasks: tests written by the executor agent run with the solution in the
                sandbox
    evaluate    the evaluator returns correctness 0/1, advice and a recruiting suggestion;
                correctness 1 ends the episode

Every model output goes through a parser; an output that does not parse is asked again (up to
``mas.parse_retries`` times) and then replaced by a recorded fallback, so bad model output never
aborts an episode.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.cfgutil import cfg_get
from harness.errors import ConfigError
from harness.mas.base import CallRecord, Episode, EpisodeResult
from harness.mas.execution import build_test_program, exec_report
from harness.mas.parsing import (
    CEO,
    CRITIC,
    EVALUATOR,
    EXECUTOR,
    RECRUITER,
    SOLVER,
    Critique,
    Evaluation,
    ParseError,
    check_solution,
    clean,
    extract_code,
    parse_critique,
    parse_evaluation,
    parse_recruits,
    parse_tests,
)
from harness.mas.prompts import Prompts
from harness.problem import Problem

RETRY_K = 10_000
#: seed index stride of review iterations (critic k = iteration * stride + critic index)
REVIEW_K = 100

DEFAULT_ROLE_TOKENS = {RECRUITER: 512, EVALUATOR: 1024, EXECUTOR: 1024, CEO: 1024}


@dataclass
class RoundPlan:
    agents: int  # experts this round: one solver, agents - 1 critics
    budget: int  # token limit of the solver and the critics
    direction: str  # what the solver and critics are asked to focus on
    stop: bool = False  # end the episode before this round


@dataclass
class Board:
    """What an episode carries from one step to the next."""

    solution: str = ""  # latest solution (visible text): what gets graded
    issue: str | None = "no solution yet"  # why `solution` lacks the required structure
    advice: str = ""  # the evaluator's last advice
    recruiting: str = ""  # the evaluator's last recruiting suggestion
    feedback: str = ""  # the evaluator's last verdict, as the CEO sees it
    experts: list[str] = field(default_factory=list)
    plan: RoundPlan | None = None


@dataclass
class Asked:
    """One role's answer after parsing (and retries)."""

    record: CallRecord
    value: Any = None  # the parsed value; None when every attempt failed
    reason: str | None = None  # why the last attempt failed
    partial: Any = None  # what the last failed parse could still read


class AgentVerse:
    name = "agentverse"

    def __init__(
        self,
        cfg: Any,
        prompts: Prompts,
        agents: int,
        tokens: int,
        turns: int,
        critic_rounds: int,
        sandbox_factory: Callable[[], Any] | None = None,
        **_: Any,
    ) -> None:
        self.cfg = cfg
        self.prompts = prompts
        self.agents = _at_least(agents, 1, "agents")
        self.tokens = _at_least(tokens, 1, "tokens")
        self.turns = _at_least(turns, 1, "turns")
        self.critic_rounds = _at_least(critic_rounds, 0, "critic_rounds")
        self.sandbox_factory = sandbox_factory
        role_tokens = dict(DEFAULT_ROLE_TOKENS)
        role_tokens.update({str(k): int(v) for k, v in (cfg_get(cfg, "role_tokens") or {}).items()})
        self.role_tokens = role_tokens
        self.parse_retries = _at_least(cfg_get(cfg, "parse_retries", 1), 0, "mas.parse_retries")
        self.end_on_correct = bool(cfg_get(cfg, "end_on_correct", True))
        self.execute_code = bool(cfg_get(cfg, "execute_code", True))
        self.exec_timeout_s = float(cfg_get(cfg, "exec_timeout_s", 10.0))
        self._check_prompts()

    # -- the episode ------------------------------------------------------------------------------
    async def solve(self, ep: Episode) -> EpisodeResult:
        board = Board()
        try:
            for round_ in range(1, self.turns + 1):
                plan = await self.plan_round(ep, board, round_)
                if plan.stop:
                    break
                ep.result.rounds = round_
                ep.result.agents.append(plan.agents)
                experts = await self.recruit(ep, board, plan, round_)
                await self.propose(ep, board, plan, experts[0], round_)
                await self.review(ep, board, plan, experts, round_)
                test_result = await self.execute(ep, board, round_)
                evaluation = await self.evaluate(ep, board, experts, test_result, round_)
                if self.evaluator_ends(ep, evaluation, round_):
                    break
        except ConfigError:
            raise  # a broken prompt set fails every episode: stop the run with its message
        except Exception as exc:  # a bug must cost one problem, not the run
            ep.event(
                "internal_error",
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(limit=8),
            )
            ep.result.error = f"internal error: {type(exc).__name__}: {exc}"
        self.finish(ep, board)
        return ep.result

    async def plan_round(self, ep: Episode, board: Board, round_: int) -> RoundPlan:
        """Fixed resources; the direction is the evaluator's last advice."""
        plan = RoundPlan(self.agents, self.tokens, board.advice or self._text("no_advice"))
        board.plan = plan
        return plan

    async def recruit(self, ep: Episode, board: Board, plan: RoundPlan, round_: int) -> list[str]:
        n = plan.agents
        advice = "\n".join(x for x in (board.advice, board.recruiting) if x)
        messages = self._messages(
            RECRUITER, ep.problem, n=n, advice=advice or self._text("no_advice")
        )
        asked = await self.ask(
            ep,
            RECRUITER,
            messages,
            self.role_tokens[RECRUITER],
            round_,
            0,
            lambda text: parse_recruits(text, n),
        )
        experts = asked.value
        if experts is None:
            experts = list(asked.partial or [])[:n]
            experts += [
                self.prompts.render_role(RECRUITER, "fallback", ep.problem, i=i)
                for i in range(len(experts) + 1, n + 1)
            ]
            ep.event("fallback", role=RECRUITER, round=round_, reason=asked.reason, used=experts)
        ep.event("experts", round=round_, solver=experts[0], critics=experts[1:])
        board.experts = experts
        return experts

    async def propose(
        self, ep: Episode, board: Board, plan: RoundPlan, expert: str, round_: int
    ) -> None:
        previous = ""
        if board.solution:
            previous = self.prompts.render_role(
                SOLVER, "previous", ep.problem, solution=board.solution
            )
        messages = self._messages(
            SOLVER, ep.problem, role=expert, advice=plan.direction, previous=previous
        )
        await self._solve(ep, board, messages, plan.budget, round_, step=0)

    async def review(
        self, ep: Episode, board: Board, plan: RoundPlan, experts: list[str], round_: int
    ) -> None:
        critics = experts[1:]
        for iteration in range(1, self.critic_rounds + 1):
            if not critics:
                return
            critiques = await asyncio.gather(
                *(
                    self.critique(ep, board, plan, role, round_, iteration * REVIEW_K + i)
                    for i, role in enumerate(critics)
                )
            )
            objections = [
                (r, c.text)
                for r, c in zip(critics, critiques, strict=True)
                if not c.agree and c.text
            ]
            agreed = sum(c.agree for c in critiques)
            ep.event(
                "review",
                round=round_,
                iteration=iteration,
                agree=agreed,
                disagree=len(objections),
                abstain=len(critics) - agreed - len(objections),
            )
            if not objections:
                ep.event("consensus", round=round_, iteration=iteration)
                return
            await self.revise(ep, board, plan, experts[0], objections, round_, iteration)

    async def critique(
        self, ep: Episode, board: Board, plan: RoundPlan, role: str, round_: int, k: int
    ) -> Critique:
        messages = self._messages(
            CRITIC,
            ep.problem,
            role=role,
            advice=plan.direction,
            solution=board.solution or self._text("no_solution"),
        )
        asked = await self.ask(ep, CRITIC, messages, plan.budget, round_, k, parse_critique)
        if asked.value is not None:
            return asked.value
        # As in the original system: a review without a verdict counts as a disagreement, and
        # an empty one (nothing to act on) as an abstention that cannot block consensus.
        text = clean(asked.partial or "")
        ep.event(
            "fallback",
            role=CRITIC,
            round=round_,
            k=k,
            reason=asked.reason,
            used="disagree" if text else "abstain",
        )
        return Critique(agree=False, text=text)

    async def revise(
        self,
        ep: Episode,
        board: Board,
        plan: RoundPlan,
        expert: str,
        objections: list[tuple[str, str]],
        round_: int,
        iteration: int,
    ) -> None:
        critiques = "\n\n".join(f"[{role}]\n{text}" for role, text in objections)
        messages = self._messages(
            SOLVER,
            ep.problem,
            part="revise",
            role=expert,
            advice=plan.direction,
            solution=board.solution or self._text("no_solution"),
            critiques=critiques,
        )
        await self._solve(ep, board, messages, plan.budget, round_, step=iteration)

    async def execute(self, ep: Episode, board: Board, round_: int) -> str:
        """Code tasks only: run the solution against the executor agent's own tests (never the
        hidden grading tests) in the sandbox; the report goes to the evaluator."""
        if ep.problem.domain != "code":
            return self._text("no_tests")
        if not self.execute_code or self.sandbox_factory is None:
            reason = "mas.execute_code is false" if not self.execute_code else "no sandbox"
            ep.event("executor_skipped", round=round_, reason=reason)
            return self._text("no_tests")
        code = extract_code(board.solution)
        if code is None:
            ep.event("executor_skipped", round=round_, reason="solution has no code block")
            return self._text("no_code")
        examples = _public_tests(ep.problem)
        if examples:
            examples = self.prompts.render_role(
                EXECUTOR, "examples", ep.problem, public_tests=examples
            )
        messages = self._messages(EXECUTOR, ep.problem, code=code, examples=examples)
        asked = await self.ask(
            ep, EXECUTOR, messages, self.role_tokens[EXECUTOR], round_, 0, parse_tests
        )
        tests = asked.value or ""
        if asked.value is None:
            ep.event(
                "fallback",
                role=EXECUTOR,
                round=round_,
                reason=asked.reason,
                used="solution run without tests",
            )
        try:
            sandbox = self.sandbox_factory()
            result = await sandbox.run(
                build_test_program(code, tests), timeout_s=self.exec_timeout_s
            )
        except Exception as exc:  # the sandbox failing must not end the episode
            ep.event("sandbox_error", round=round_, error=f"{type(exc).__name__}: {exc}")
            return f"The tests could not be run ({type(exc).__name__}: {exc})."
        ep.event(
            "execution",
            round=round_,
            verdict=getattr(result, "verdict", None),
            passed=bool(getattr(result, "passed", False)),
            agent_tests=bool(tests),
        )
        return exec_report(result)

    async def evaluate(
        self, ep: Episode, board: Board, experts: list[str], test_result: str, round_: int
    ) -> Evaluation:
        messages = self._messages(
            EVALUATOR,
            ep.problem,
            experts="; ".join(experts),
            test_result=test_result,
            solution=board.solution or self._text("no_solution"),
        )
        asked = await self.ask(
            ep, EVALUATOR, messages, self.role_tokens[EVALUATOR], round_, 0, parse_evaluation
        )
        evaluation = asked.value
        if evaluation is None:
            # Never let an unreadable verdict end the episode: treat it as "not correct".
            evaluation = Evaluation(correct=False)
            ep.event(
                "fallback",
                role=EVALUATOR,
                round=round_,
                reason=asked.reason,
                used="correctness 0, no advice",
            )
            board.feedback = f"The evaluator's reply could not be read ({asked.reason})."
        else:
            board.feedback = (
                f"Correctness: {int(evaluation.correct)}. Advice: {evaluation.advice or '-'}"
            )
        board.advice, board.recruiting = evaluation.advice, evaluation.recruiting
        ep.event(
            "evaluation", round=round_, correct=evaluation.correct, parsed=asked.value is not None
        )
        return evaluation

    def evaluator_ends(self, ep: Episode, evaluation: Evaluation, round_: int) -> bool:
        if evaluation.correct and self.end_on_correct:
            ep.event("stop", round=round_, by=EVALUATOR)
            return True
        return False

    def finish(self, ep: Episode, board: Board) -> None:
        ep.result.response = board.solution
        if ep.result.error is None and board.issue:
            # The response is still graded; the reason says why it is likely to fail.
            if board.solution.strip():
                ep.result.error = f"final solution unusable: {board.issue}"
            else:
                ep.result.error = f"no solution: {board.issue}"

    # -- helpers ----------------------------------------------------------------------------------
    async def ask(
        self,
        ep: Episode,
        role: str,
        messages: list[dict[str, str]],
        max_tokens: int,
        round_: int,
        k: int,
        parse: Callable[[str], Any],
    ) -> Asked:
        """Call ``role`` and parse its answer; on failure ask again, showing the model its reply
        and what was wrong with it, at most ``parse_retries`` more times."""
        asked: Asked | None = None
        for attempt in range(self.parse_retries + 1):
            record = await ep.call(role, messages, max_tokens, round_, k + attempt * RETRY_K)
            asked = Asked(record)
            if record.error:
                asked.reason = f"engine error: {record.error}"
            elif not record.output.strip():
                cut = " (ran out of tokens)" if record.finish_reason == "length" else ""
                asked.reason = f"empty reply{cut}"
            else:
                try:
                    asked.value = parse(record.output)
                    return asked
                except ParseError as exc:
                    asked.reason, asked.partial = exc.reason, exc.partial
                    retry = self.prompts.render("retry", problem=ep.problem, reason=exc.reason)
                    messages = [
                        *messages,
                        {"role": "assistant", "content": record.output},
                        {"role": "user", "content": retry},
                    ]
            ep.event(
                "parse_failed", role=role, round=round_, k=k, attempt=attempt, reason=asked.reason
            )
        assert asked is not None
        return asked

    async def _solve(
        self,
        ep: Episode,
        board: Board,
        messages: list[dict[str, str]],
        budget: int,
        round_: int,
        step: int,
    ) -> None:
        """One solver call (a proposal at step 0, a revision after review ``step``)."""

        def parse(text: str) -> str:
            return check_solution(text, ep.problem.domain)

        asked = await self.ask(ep, SOLVER, messages, budget, round_, step, parse)
        self._take_solution(ep, board, asked, round_, step)

    def _take_solution(
        self, ep: Episode, board: Board, asked: Asked, round_: int, step: int
    ) -> None:
        if asked.value is not None:
            board.solution, board.issue = asked.value, None
            return
        if board.solution and board.issue is None:
            used = "kept the previous solution"
        elif asked.record.output.strip():
            # Nothing better exists: keep the malformed text so it is still graded.
            board.solution, board.issue, used = asked.record.output, asked.reason, "raw output"
        else:
            board.issue, used = asked.reason, "no solution"
        ep.event("fallback", role=SOLVER, round=round_, step=step, reason=asked.reason, used=used)

    def _messages(
        self, agent: str, problem: Problem, /, part: str = "user", **fields: Any
    ) -> list[dict[str, str]]:
        render = self.prompts.render_role
        return [
            {"role": "system", "content": render(agent, "system", problem, **fields)},
            {"role": "user", "content": render(agent, part, problem, **fields)},
        ]

    def _text(self, key: str) -> str:
        return self.prompts.get("texts", key)

    def _check_prompts(self) -> None:
        """Render every template once per configured domain, so a broken prompt set fails at
        start-up (before any model is loaded), not in the middle of a run."""
        fields = dict(
            n=2,
            advice="a",
            previous="p",
            role="r",
            solution="s",
            critiques="c",
            code="c",
            examples="e",
            public_tests="t",
            experts="e",
            test_result="t",
            feedback="f",
            resources="r",
            min_agents=1,
            max_agents=2,
            menu="[1]",
            reason="r",
            i=1,
            round=1,
            turns=1,
            used=0,
            agents=1,
            budget=1,
        )
        domains = list((self.prompts.cfg.get("format") or {}).keys())
        for domain in domains:
            problem = Problem(
                id="check", prompt="task", domain=domain, reference=None, reference_response=""
            )
            for role, parts in self._templates().items():
                for part in parts:
                    self.prompts.render_role(role, part, problem, **fields)
            self.prompts.render("retry", problem=problem, **fields)
        for key in ("no_advice", "no_solution", "no_tests", "no_code"):
            self._text(key)

    def _templates(self) -> dict[str, tuple[str, ...]]:
        return {
            RECRUITER: ("system", "user", "fallback"),
            SOLVER: ("system", "user", "revise", "previous"),
            CRITIC: ("system", "user"),
            EXECUTOR: ("system", "user", "examples"),
            EVALUATOR: ("system", "user"),
        }


def _public_tests(problem: Problem) -> str:
    tests = (problem.meta or {}).get("public_tests")
    if not tests:
        return ""
    if isinstance(tests, list | tuple):
        return "\n".join(str(t) for t in tests)
    return str(tests)


def _at_least(value: Any, low: int, what: str) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what}={value!r} is not an integer") from exc
    if n < low:
        raise ConfigError(f"{what}={n} must be at least {low}")
    return n
