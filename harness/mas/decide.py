"""The CEO's step (``mas=ceo``): before each round it decides Continue/Stop, how many experts to
recruit, a discussion direction and a per-agent token budget. Every decision is validated and
clamped (recruit number within ``[mas.ceo.min_agents, mas.ceo.max_agents]``; the budget a menu
entry no larger than ``tokens``), every fallback is recorded, and the CEO's Stop is honoured as
``mas.stop_on`` says (``evaluator`` reproduces the original, which ignored it). Under
``mas.ceo.fallback=original`` an unusable reply falls back as the original's did.
"""

from __future__ import annotations

from typing import Any

from harness.mas.base import CallSite
from harness.mas.parsing import CEO, EVALUATOR, CEODecision, parse_ceo
from harness.mas.settings import CEOSystemSettings
from harness.mas.steps import CEOBounds, RoundPlan, State

#: the original's CEO fallbacks (mas.ceo.fallback=original)
ORIGINAL_RECRUIT, ORIGINAL_TOKENS = 2, 32000


def _ceo(state: State) -> tuple[CEOBounds, CEOSystemSettings]:
    bounds, settings = state.context.ceo, state.context.settings
    if bounds is None or not isinstance(settings, CEOSystemSettings):
        raise RuntimeError("the CEO's step runs only in a system with a CEO (mas=ceo)")
    return bounds, settings


def calibration(bounds: CEOBounds, settings: CEOSystemSettings) -> dict[str, Any]:
    """The CEO prompt's bounds and typical values (the original's prompt gave both)."""
    simple, medium, complex_ = settings.ceo.typical_budgets(bounds.menu)
    return dict(
        min_agents=bounds.min_agents,
        max_agents=bounds.max_agents,
        menu=bounds.menu_text(),
        ordinary_agents=settings.ceo.ordinary_agents,
        complex_agents=settings.ceo.complex_agents,
        simple_tokens=simple,
        medium_tokens=medium,
        complex_tokens=complex_,
    )


async def decide(state: State) -> None:
    """The CEO's decision for this round, validated and clamped into the round's plan
    (``state.plan``); its Stop, where ``mas.stop_on`` honours it, ends the episode."""
    bounds, settings = _ceo(state)
    ep, context = state.ep, state.context
    messages = context.messages(
        CEO,
        state.problem,
        solution=state.solution or context.text("no_solution"),
        feedback=state.feedback or context.text("no_advice"),
        resources=_resources(state),
        **calibration(bounds, settings),
    )
    site = CallSite(CEO, state.round, "decide")
    reply = await ep.ask(site, messages, context.limit(CEO, None), parse_ceo)
    stated = reply.value or reply.partial or CEODecision()
    if reply.value is None and settings.ceo.fallback == "original":
        stated = _original_fallback(reply.partial)
    plan, notes = _clamp(stated, state, reply.record.seq)
    if stated.stop:
        if settings.stop_on == EVALUATOR:
            notes.append("stop ignored (mas.stop_on=evaluator)")
        elif not state.solution:
            notes.append("stop ignored: there is no solution yet")
        else:
            plan.stop = True
    ep.event(
        "ceo_decision",
        round=state.round,
        call=reply.record.seq,
        parsed=reply.value is not None,
        reason=reply.reason,
        said={
            "stop": stated.stop,
            "recruit": stated.recruit,
            "max_tokens": stated.max_tokens,
            "direction": stated.direction,
        },
        stop=plan.stop,
        agents=plan.agents,
        budget=plan.budget,
        direction=plan.direction,
        adjustments=notes,
    )
    if plan.stop:
        ep.event("stop", round=state.round, call=reply.record.seq, by=CEO)
    state.plan, state.stop = plan, plan.stop


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


def _clamp(stated: CEODecision, state: State, call: int) -> tuple[RoundPlan, list[str]]:
    """The plan the CEO's (possibly partial) decision allows, and a note per adjustment.
    Missing fields keep last round's value (the first round: the upper bounds)."""
    bounds, settings = _ceo(state)
    notes: list[str] = []
    last = state.plan
    original = settings.ceo.fallback == "original"
    if stated.recruit is None:
        if original:  # output_parser.py:72: an unreadable recruit number is 2
            agents = min(max(ORIGINAL_RECRUIT, bounds.min_agents), bounds.max_agents)
        else:
            agents = last.agents if last else bounds.max_agents
        notes.append(f"recruit number missing: used {agents}")
    else:
        agents = min(max(stated.recruit, bounds.min_agents), bounds.max_agents)
        if agents != stated.recruit:
            notes.append(f"recruit number {stated.recruit} clamped to {agents}")
    menu = bounds.menu
    if stated.max_tokens is None and original:  # output_parser.py:77: unreadable → 32000
        budget = min(menu, key=lambda b: (abs(b - ORIGINAL_TOKENS), b))
        notes.append(f"maximum tokens missing: used {budget}")
    elif stated.max_tokens is None:
        budget = last.budget if last and last.budget else menu[-1]
        notes.append(f"maximum tokens missing: used {budget}")
    else:
        budget = min(menu, key=lambda b: (abs(b - stated.max_tokens), b))
        if budget != stated.max_tokens:
            notes.append(f"maximum tokens {stated.max_tokens} set to menu entry {budget}")
    direction, sender, source = stated.direction, CEO, call
    if not direction and original:
        notes.append("direction missing: none")  # the original broadcast nothing
    elif not direction:
        direction, sender, source = state.advice or None, EVALUATOR, state.evaluation_call
        notes.append("direction missing: used the evaluator's advice")
    if stated.stop is None:
        notes.append("decision missing: continue")
    plan = RoundPlan(
        agents=agents,
        budget=budget,
        direction=direction,
        sender=sender,
        source=source,
        budget_roles=tuple(settings.ceo.budget_roles),
    )
    return plan, notes


def _resources(state: State) -> str:
    bounds, _ = _ceo(state)
    last = state.plan
    used = sum(c.completion_tokens for c in state.ep.result.calls)
    part = "resources_first" if last is None else "resources"
    return state.context.prompts.render_role(
        CEO,
        part,
        state.problem,
        round=state.round,
        turns=state.context.turns,
        used=used,
        agents=last.agents if last else 0,
        budget=last.budget if last else 0,
        min_agents=bounds.min_agents,
        max_agents=bounds.max_agents,
        menu=bounds.menu_text(),
    )
