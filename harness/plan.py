"""What a sweep is about to do, before it does it: points, problems, and upper bounds of the
model calls and tokens (so a typo that asks for 10⁸ tokens is seen before the GPUs start)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from harness.knobs import Knobs
from harness.mas.settings import (
    CEOSystemSettings,
    ReasoningSettings,
    SingleSettings,
    mas_settings,
)
from harness.mas.steps import role_limit
from harness.roles import CEO, CRITIC, EVALUATOR, EXECUTOR, RECRUITER, SOLVER
from harness.settings import from_node
from harness.transcript import results_by_key


@dataclass
class PointPlan:
    label: str
    run_dir: str
    problems: int | None  # None: the data could not be loaded (the point will report why)
    repeats: int
    done: int
    calls: int | None
    tokens: int | None

    @property
    def todo(self) -> int | None:
        return None if self.problems is None else self.problems * self.repeats - self.done


def calls_per_episode(cfg: DictConfig, knobs: Knobs, domain: str) -> tuple[int, int]:
    """Upper bounds of (model calls, generated tokens) of one episode of this configuration,
    parse retries included. The multi-agent system may stop far earlier (consensus, the
    evaluator's or the CEO's Stop)."""
    settings = mas_settings(cfg.mas)
    reasoning = from_node(ReasoningSettings, cfg.reasoning, "reasoning")
    think = reasoning.think_retries if reasoning.cut_thinking == "recover" else 0
    policy = settings.calls

    def attempts(role: str) -> int:
        return 1 + policy.retries(role) + think

    if isinstance(settings, SingleSettings):
        return attempts(SOLVER), knobs.tokens * attempts(SOLVER)

    def limit(role: str, budget: int | None = None) -> int:
        # the steps' own token limit (harness.mas.steps.role_limit); the CEO's budget is a
        # menu entry no larger than `tokens`
        return role_limit(settings, knobs.tokens, role, budget)

    ceo = settings.ceo if isinstance(settings, CEOSystemSettings) else None
    # the CEO recruits up to mas.ceo.max_agents (the paper presets let it exceed `agents`)
    critics = (ceo.max_agents if ceo else knobs.agents) - 1
    budget = knobs.tokens if ceo else None

    def budgeted(role: str) -> int:
        return limit(role, budget if ceo and role in ceo.budget_roles else None)

    per_round = [
        (RECRUITER, 1, limit(RECRUITER)),
        (SOLVER, 1 + knobs.critic_rounds, budgeted(SOLVER)),  # proposal and revisions
        (CRITIC, knobs.critic_rounds * critics, budgeted(CRITIC)),
        (EVALUATOR, 1, limit(EVALUATOR)),
    ]
    if ceo is not None:
        per_round.append((CEO, 1, limit(CEO)))
    if domain == "code":
        per_round.append((EXECUTOR, 1, limit(EXECUTOR)))
    calls = sum(n * attempts(role) for role, n, _ in per_round) * knobs.turns
    tokens = sum(n * attempts(role) * t for role, n, t in per_round) * knobs.turns
    return calls, tokens


def plan_point(cfg: DictConfig, run_dir: str, label: str) -> PointPlan:
    from tasks import get_task
    from tasks.settings import benchmark_settings

    knobs = Knobs.from_cfg(cfg)
    try:
        task = get_task(benchmark_settings(cfg.benchmark))
        n = len(task.load())
        domain = task.domain
    except Exception:  # noqa: BLE001 - the point itself reports a bad benchmark in one line
        n, domain = None, "math"
    if n is not None and knobs.limit is not None:
        n = min(n, knobs.limit)
    done = _done(Path(run_dir))
    calls = tokens = None
    if n is not None:
        per_calls, per_tokens = calls_per_episode(cfg, knobs, domain)
        left = n * knobs.repeats - done
        calls, tokens = per_calls * left, per_tokens * left
    return PointPlan(label, run_dir, n, knobs.repeats, done, calls, tokens)


def _done(run_dir: Path) -> int:
    return len(results_by_key(run_dir))


def render(plans: list[PointPlan], concurrency: int) -> str:
    lines = [
        f"sweep plan: {len(plans)} points, {'one at a time' if concurrency <= 1 else f'{concurrency} at once'}"
    ]
    total_calls = total_tokens = 0
    for i, p in enumerate(plans):
        if p.problems is None:
            what = "data not loadable (the point will say why)"
        else:
            what = (
                f"{p.problems} problems × {p.repeats}: {p.done} done, {p.todo} to run, "
                f"≤ {p.calls:,} calls, ≤ {p.tokens:,} tokens"
            )
            total_calls += p.calls or 0
            total_tokens += p.tokens or 0
        lines.append(f"  #{i} {p.label or '(defaults)'}: {what}")
    lines.append(f"  upper bound in all: {total_calls:,} calls, {total_tokens:,} generated tokens")
    return "\n".join(lines)


def to_plain(cfg: Any) -> Any:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
