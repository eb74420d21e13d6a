"""mas=ceo: the adaptive system. Before each round a CEO agent decides Continue/Stop, how many
experts to recruit, a discussion direction and a per-agent token budget; the rest of the round
is the AgentVerse protocol.

Unlike the original code, every decision is validated and clamped (recruit number within
``[mas.ceo.min_agents, mas.ceo.max_agents]`` and at most ``agents``; the budget a menu entry no
larger than ``tokens``), every fallback is recorded, and the CEO's Stop is honoured as
``mas.stop_on`` says (``evaluator`` reproduces the original, which ignored it).
"""

from __future__ import annotations

from typing import Any

from harness.cfgutil import cfg_get
from harness.errors import ConfigError
from harness.mas.agentverse import AgentVerse, Board, RoundPlan, _at_least
from harness.mas.base import Episode
from harness.mas.parsing import CEO, EVALUATOR, CEODecision, Evaluation, parse_ceo

STOP_ON = ("evaluator", "ceo", "either")


class CEOSystem(AgentVerse):
    name = "ceo"

    def __init__(self, cfg: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(cfg, *args, **kwargs)
        self.stop_on = str(cfg_get(cfg, "stop_on", "either"))
        if self.stop_on not in STOP_ON:
            raise ConfigError(f"mas.stop_on={self.stop_on!r} (accepted: {', '.join(STOP_ON)})")
        ceo = cfg_get(cfg, "ceo", {})
        # `agents` and `tokens` are upper bounds, so one sweep compares fixed and adaptive
        # systems at equal caps.
        self.max_agents = min(
            _at_least(cfg_get(ceo, "max_agents", self.agents), 1, "mas.ceo.max_agents"), self.agents
        )
        self.min_agents = min(
            _at_least(cfg_get(ceo, "min_agents", 1), 1, "mas.ceo.min_agents"), self.max_agents
        )
        menu = sorted({int(b) for b in (cfg_get(ceo, "budget_menu") or [self.tokens])})
        self.menu = [b for b in menu if 0 < b <= self.tokens] or [self.tokens]

    async def plan_round(self, ep: Episode, board: Board, round_: int) -> RoundPlan:
        """Ask the CEO, then validate and clamp what it said into this round's plan."""
        messages = self._messages(
            CEO,
            ep.problem,
            solution=board.solution or self._text("no_solution"),
            feedback=board.feedback or self._text("no_advice"),
            resources=self._resources(ep, board, round_),
            min_agents=self.min_agents,
            max_agents=self.max_agents,
            menu=self._menu_text(),
        )
        asked = await self.ask(ep, CEO, messages, self.role_tokens[CEO], round_, 0, parse_ceo)
        said = asked.value or asked.partial or CEODecision()
        plan, notes = self._clamp(said, board)
        if said.stop:
            if self.stop_on == EVALUATOR:
                notes.append("stop ignored (mas.stop_on=evaluator)")
            elif not board.solution:
                notes.append("stop ignored: there is no solution yet")
            else:
                plan.stop = True
        ep.event(
            "ceo_decision",
            round=round_,
            parsed=asked.value is not None,
            reason=asked.reason,
            said={
                "stop": said.stop,
                "recruit": said.recruit,
                "max_tokens": said.max_tokens,
                "direction": said.direction,
            },
            stop=plan.stop,
            agents=plan.agents,
            budget=plan.budget,
            direction=plan.direction,
            adjustments=notes,
        )
        if plan.stop:
            ep.event("stop", round=round_, by=CEO)
        board.plan = plan
        return plan

    def _clamp(self, said: CEODecision, board: Board) -> tuple[RoundPlan, list[str]]:
        """The plan the CEO's (possibly partial) decision allows, and a note per adjustment.
        Missing fields keep last round's value (the first round: the upper bounds, i.e. the
        fixed system)."""
        notes: list[str] = []
        last = board.plan
        if said.recruit is None:
            agents = last.agents if last else self.max_agents
            notes.append(f"recruit number missing: used {agents}")
        else:
            agents = min(max(said.recruit, self.min_agents), self.max_agents)
            if agents != said.recruit:
                notes.append(f"recruit number {said.recruit} clamped to {agents}")
        if said.max_tokens is None:
            budget = last.budget if last else self.menu[-1]
            notes.append(f"maximum tokens missing: used {budget}")
        else:
            budget = min(self.menu, key=lambda b: (abs(b - said.max_tokens), b))
            if budget != said.max_tokens:
                notes.append(f"maximum tokens {said.max_tokens} set to menu entry {budget}")
        direction = said.direction
        if not direction:
            direction = board.advice or self._text("no_advice")
            notes.append("direction missing: used the evaluator's advice")
        if said.stop is None:
            notes.append("decision missing: continue")
        return RoundPlan(agents=agents, budget=budget, direction=direction), notes

    def evaluator_ends(self, ep: Episode, evaluation: Evaluation, round_: int) -> bool:
        if evaluation.correct and self.end_on_correct and self.stop_on == "ceo":
            ep.event("stop_ignored", round=round_, by=EVALUATOR, reason="mas.stop_on=ceo")
            return False
        return super().evaluator_ends(ep, evaluation, round_)

    def _resources(self, ep: Episode, board: Board, round_: int) -> str:
        last = board.plan
        used = sum(c.completion_tokens for c in ep.result.calls)
        part = "resources_first" if last is None else "resources"
        return self.prompts.render_role(
            CEO,
            part,
            ep.problem,
            round=round_,
            turns=self.turns,
            used=used,
            agents=last.agents if last else 0,
            budget=last.budget if last else 0,
            min_agents=self.min_agents,
            max_agents=self.max_agents,
            menu=self._menu_text(),
        )

    def _menu_text(self) -> str:
        return "[" + ", ".join(str(b) for b in self.menu) + "]"

    def _templates(self) -> dict[str, tuple[str, ...]]:
        return {**super()._templates(), CEO: ("system", "user", "resources_first", "resources")}
