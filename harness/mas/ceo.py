"""mas=ceo: the adaptive system. Before each round a CEO agent decides Continue/Stop, how many
experts to recruit, a discussion direction and a per-agent token budget; the rest of the round
is the AgentVerse protocol, and the direction is what gets broadcast into the agents' memories.

The CEO sees the task, the latest solution, the evaluator's last verdict and the resources
spent, never a chat history. Unlike the original code, every decision is validated and clamped
(recruit number within ``[mas.ceo.min_agents, mas.ceo.max_agents]``; the budget a menu entry
no larger than ``tokens``), every fallback is recorded, and the CEO's Stop is honoured as
``mas.stop_on`` says (``evaluator`` reproduces the original, which ignored it).
"""

from __future__ import annotations

from typing import Any

from harness.mas.agentverse import AgentVerse
from harness.mas.base import Who
from harness.mas.parsing import CEO, EVALUATOR, CEODecision, Evaluation, parse_ceo
from harness.mas.settings import CEOSystemSettings
from harness.mas.steps import RoundPlan, State

#: the original's CEO fallbacks (mas.ceo.fallback=original)
ORIGINAL_RECRUIT, ORIGINAL_TOKENS = 2, 32000


class CEOSystem(AgentVerse):
    name = "ceo"
    settings: CEOSystemSettings

    def __init__(self, settings: CEOSystemSettings, *args: Any, **kwargs: Any) -> None:
        super().__init__(settings, *args, **kwargs)
        ceo = settings.ceo
        self.max_agents = ceo.max_agents
        self.min_agents = min(ceo.min_agents, self.max_agents)
        self.menu = ceo.menu(self.tokens)

    async def plan(self, st: State) -> RoundPlan:
        return await decide(st, self)

    def evaluator_ends(self, st: State, evaluation: Evaluation) -> bool:
        if evaluation.correct and self.settings.end_on_correct and self.settings.stop_on == CEO:
            st.ep.event(
                "stop_ignored",
                round=st.round,
                call=st.evaluation_call,
                by=EVALUATOR,
                reason="mas.stop_on=ceo",
            )
            return False
        return super().evaluator_ends(st, evaluation)

    def menu_text(self) -> str:
        return "[" + ", ".join(str(b) for b in self.menu) + "]"

    def calibration(self) -> dict[str, Any]:
        """The CEO prompt's bounds and typical values (the original's prompt gave both)."""
        ceo = self.settings.ceo
        simple, medium, complex_ = ceo.typical_budgets(self.menu)
        return dict(
            min_agents=self.min_agents,
            max_agents=self.max_agents,
            menu=self.menu_text(),
            ordinary_agents=ceo.ordinary_agents,
            complex_agents=ceo.complex_agents,
            simple_tokens=simple,
            medium_tokens=medium,
            complex_tokens=complex_,
        )

    def _templates(self) -> dict[str, tuple[str, ...]]:
        return {**super()._templates(), CEO: ("system", "user", "resources_first", "resources")}


async def decide(st: State, system: CEOSystem) -> RoundPlan:
    """The CEO's decision for this round, validated and clamped into the round's plan."""
    ep, kit = st.ep, st.kit
    messages = kit.messages(
        CEO,
        st.problem,
        solution=st.solution or kit.text("no_solution"),
        feedback=st.feedback or kit.text("no_advice"),
        resources=_resources(st, system),
        **system.calibration(),
    )
    asked = await ep.ask(Who(CEO, st.round, "decide"), messages, kit.limit(CEO, None), parse_ceo)
    said = asked.value or asked.partial or CEODecision()
    if asked.value is None and system.settings.ceo.fallback == "original":
        said = _original_fallback(asked.partial)
    plan, notes = _clamp(said, st, system, asked.record.seq)
    if said.stop:
        if system.settings.stop_on == EVALUATOR:
            notes.append("stop ignored (mas.stop_on=evaluator)")
        elif not st.solution:
            notes.append("stop ignored: there is no solution yet")
        else:
            plan.stop = True
    ep.event(
        "ceo_decision",
        round=st.round,
        call=asked.record.seq,
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
        ep.event("stop", round=st.round, call=asked.record.seq, by=CEO)
    return plan


def _original_fallback(partial: CEODecision | None) -> CEODecision:
    """What the original made of a reply still unusable after its retries: with every field
    present, an unreadable recruit number is 2 and unreadable tokens 32000
    (output_parser.py:70-77); otherwise continue, 2 experts, 32000 tokens and no direction
    (agents/tasksolving_agent/ceo.py:80)."""
    whole = partial is not None and not any(p.startswith("no '") for p in partial.problems)
    if whole and partial is not None and partial.direction:
        return CEODecision(
            stop=partial.stop,
            recruit=partial.recruit or ORIGINAL_RECRUIT,
            direction=partial.direction,
            max_tokens=partial.max_tokens or ORIGINAL_TOKENS,
        )
    return CEODecision(stop=False, recruit=ORIGINAL_RECRUIT, max_tokens=ORIGINAL_TOKENS)


def _clamp(
    said: CEODecision, st: State, system: CEOSystem, call: int
) -> tuple[RoundPlan, list[str]]:
    """The plan the CEO's (possibly partial) decision allows, and a note per adjustment.
    Missing fields keep last round's value (the first round: the upper bounds)."""
    notes: list[str] = []
    last = st.plan
    original = system.settings.ceo.fallback == "original"
    if said.recruit is None:
        if original:  # output_parser.py:72: an unreadable recruit number is 2
            agents = min(max(ORIGINAL_RECRUIT, system.min_agents), system.max_agents)
        else:
            agents = last.agents if last else system.max_agents
        notes.append(f"recruit number missing: used {agents}")
    else:
        agents = min(max(said.recruit, system.min_agents), system.max_agents)
        if agents != said.recruit:
            notes.append(f"recruit number {said.recruit} clamped to {agents}")
    menu = system.menu
    if said.max_tokens is None and original:  # output_parser.py:77: unreadable → 32000
        budget = min(menu, key=lambda b: (abs(b - ORIGINAL_TOKENS), b))
        notes.append(f"maximum tokens missing: used {budget}")
    elif said.max_tokens is None:
        budget = last.budget if last and last.budget else menu[-1]
        notes.append(f"maximum tokens missing: used {budget}")
    else:
        budget = min(menu, key=lambda b: (abs(b - said.max_tokens), b))
        if budget != said.max_tokens:
            notes.append(f"maximum tokens {said.max_tokens} set to menu entry {budget}")
    direction, sender, source = said.direction, CEO, call
    if not direction and original:
        notes.append("direction missing: none")  # the original broadcast nothing
    elif not direction:
        direction, sender, source = st.advice or None, EVALUATOR, st.evaluation_call
        notes.append("direction missing: used the evaluator's advice")
    if said.stop is None:
        notes.append("decision missing: continue")
    plan = RoundPlan(
        agents=agents,
        budget=budget,
        direction=direction,
        sender=sender,
        source=source,
        budget_roles=tuple(system.settings.ceo.budget_roles),
    )
    return plan, notes


def _resources(st: State, system: CEOSystem) -> str:
    last = st.plan
    used = sum(c.completion_tokens for c in st.ep.result.calls)
    part = "resources_first" if last is None else "resources"
    return system.prompts.render_role(
        CEO,
        part,
        st.problem,
        round=st.round,
        turns=system.turns,
        used=used,
        agents=last.agents if last else 0,
        budget=last.budget if last else 0,
        min_agents=system.min_agents,
        max_agents=system.max_agents,
        menu=system.menu_text(),
    )
