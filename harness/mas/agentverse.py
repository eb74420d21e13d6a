"""mas=agentverse: the fixed multi-agent system of the paper (AgentVerse as MAS-TTS ran it).

A reconstruction: the original at ``ae8f961`` cannot run without its CEO (its environment's
``step`` asks the CEO every round, ``environments/tasksolving_env/basic.py:58``). Here the CEO's
place is taken by fixed resources (``agents`` experts, every role at its own token limit) and,
as the round's direction, the evaluator's last advice (none in the first round).

One episode runs up to ``turns`` rounds; each round runs the steps of
``harness.mas.rounds.AGENTVERSE`` (mas=ceo: ``rounds.CEO``), top to bottom:

    plan      how many experts, which direction (``fixed_plan``: ``agents`` experts, the
              evaluator's last advice; mas=ceo asks its CEO instead, ``decide``)
    recruit   the recruiter names the experts: the first solves, the others critique
    direct    critics start with fresh memories; the direction is broadcast into the solver's
              and critics' memories (the solver's memory lasts the whole episode)
    discuss   the solver proposes; critics review in parallel ending in [Agree]/[Disagree];
              every disagreeing critique and each revision is broadcast, and the solver
              revises, up to ``critic_rounds`` times, stopping on consensus
    execute   code tasks: the executor agent's tests (written once per problem) run with the
              latest solution in the sandbox
    evaluate  the evaluator (no history) returns correctness 0/1, advice and a recruiting
              suggestion; correctness 1 ends the episode (``end_on_correct``)

``mas.memory=none`` replaces the chat histories with stateless prompts that quote the latest
solution and critiques (an ablation). Every model output goes through a parser; what does not
parse is re-asked and then replaced by a recorded fallback, so bad model output never aborts an
episode.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from harness.engines.base import FatalEngineError
from harness.errors import ConfigError
from harness.mas import rounds, steps
from harness.mas.base import Episode, EpisodeAborted, EpisodeResult
from harness.mas.parsing import CRITIC, EVALUATOR, EXECUTOR, RECRUITER, SOLVER
from harness.mas.prompts import Prompts
from harness.mas.rounds import Step
from harness.mas.settings import AgentVerseSettings, at_least
from harness.mas.steps import State, StepContext
from harness.problem import Problem


class AgentVerse:
    name = "agentverse"
    round_steps: tuple[Step, ...] = rounds.AGENTVERSE

    def __init__(
        self,
        settings: AgentVerseSettings,
        prompts: Prompts,
        *,
        agents: int,
        tokens: int,
        turns: int,
        critic_rounds: int,
        sandbox_factory: Callable[[], Any] | None = None,
    ) -> None:
        self.settings = settings
        self.prompts = prompts
        self.agents = _at_least(agents, 1, "agents")
        self.tokens = _at_least(tokens, 1, "tokens")
        self.turns = _at_least(turns, 1, "turns")
        self.context = StepContext(
            settings=settings,
            prompts=prompts,
            tokens=self.tokens,
            critic_rounds=_at_least(critic_rounds, 0, "critic_rounds"),
            sandbox_factory=sandbox_factory,
            agents=self.agents,
            turns=self.turns,
        )
        self._check_prompts()

    # -- the episode ------------------------------------------------------------------------------
    async def solve(self, ep: Episode) -> EpisodeResult:
        ep.policy = self.settings.calls
        ep.retry_prompt = lambda reason: self.prompts.render(
            "retry", problem=ep.problem, reason=reason
        )
        state = State(ep, self.context)
        try:
            await self.run_rounds(state)
        except (ConfigError, EpisodeAborted, FatalEngineError):
            raise  # a broken prompt set or a dead engine: not this problem's fault
        except Exception as exc:  # a bug must cost one problem, not the run
            ep.event(
                "internal_error",
                round=state.round,
                error=f"{type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(limit=8),
            )
            ep.result.error = f"internal error: {type(exc).__name__}: {exc}"
        steps.finish(state)
        return ep.result

    async def run_rounds(self, state: State) -> None:
        """Up to ``turns`` rounds of this system's steps (harness.mas.rounds), until one of
        them sets ``state.stop``."""
        for round_ in range(1, self.turns + 1):
            state.round = round_
            for step in self.round_steps:
                await step(state)
                if state.stop:
                    return

    # -- start-up checks --------------------------------------------------------------------------
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
            examples="e",
            public_tests="t",
            experts="e",
            test_result="t",
            feedback="f",
            resources="r",
            min_agents=1,
            max_agents=2,
            menu="[1]",
            ordinary_agents="2",
            complex_agents="3",
            simple_tokens=1,
            medium_tokens=2,
            complex_tokens=3,
            reason="r",
            i=1,
            round=1,
            turns=1,
            used=0,
            agents=1,
            budget=1,
            history="h",
            sender="s",
            text="t",
            messages="m",
        )
        domains = list((self.prompts.templates.get("format") or {}).keys())
        for domain in domains:
            problem = Problem(
                id="check", prompt="task", domain=domain, reference=None, reference_response=""
            )
            for role, parts in self._templates().items():
                for part in parts:
                    self.prompts.render_role(role, part, problem, **fields)
            self.prompts.render("retry", problem=problem, **fields)
            for part in ("item", "block"):
                self.prompts.render("history", part, problem=problem, **fields)
        self.prompts.get("history", "separator")
        for key in ("no_advice", "no_solution", "no_tests", "no_code"):
            self.context.text(key)
        for role in (SOLVER, CRITIC, EVALUATOR, "ceo"):
            self.context.name(role, 1)

    def _templates(self) -> dict[str, tuple[str, ...]]:
        return {
            RECRUITER: ("system", "user", "fallback"),
            SOLVER: ("system", "user", "revise", "previous", "memory"),
            CRITIC: ("system", "user", "memory"),
            EXECUTOR: ("system", "user", "examples"),
            EVALUATOR: ("system", "user"),
        }


def _at_least(value: Any, low: int, what: str) -> int:
    """A knob as an integer of at least ``low`` (settings.at_least, after the conversion)."""
    try:
        n = int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{what}={value!r} is not an integer") from exc
    return at_least(n, low, what)
