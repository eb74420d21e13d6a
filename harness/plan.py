"""What a sweep is about to do, before it does it: points, problems, and upper bounds of the
model calls and tokens (so a typo that asks for 10⁸ tokens is seen before the GPUs start)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from harness.knobs import Knobs, parse_tokens
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
    mas = cfg.mas
    name = str(mas.name)
    reasoning = cfg.get("reasoning") or {}
    retries = 1 + int(mas.get("parse_retries") or 0) + int(reasoning.get("think_retries") or 0)
    if name == "single":
        return 1, knobs.tokens
    role_tokens = {str(k): v for k, v in (mas.get("role_tokens") or {}).items()}

    def budget(role: str) -> int:
        value = role_tokens.get(role)
        # every role's limit is capped at `tokens` (harness.mas.steps.Kit.limit)
        return min(parse_tokens(value), knobs.tokens) if value not in (None, "") else knobs.tokens

    solver = knobs.tokens  # the CEO's budget is a menu entry no larger than `tokens`
    ceo = mas.get("ceo") if name == "ceo" else None
    # the CEO recruits up to mas.ceo.max_agents (the paper presets let it exceed `agents`)
    critics = (int(ceo.get("max_agents")) if ceo else knobs.agents) - 1
    budgeted = ceo is not None and "critic" in (ceo.get("budget_roles") or [])
    per_round = [
        (1, budget("recruiter")),
        (1, solver),
        (knobs.critic_rounds * critics, solver if budgeted else budget("critic")),
        (knobs.critic_rounds, solver),  # revisions
        (1, budget("evaluator")),
    ]
    if name == "ceo":
        per_round.append((1, budget("ceo")))
    if domain == "code":
        per_round.append((1, budget("executor")))
    calls = sum(n for n, _ in per_round) * knobs.turns * retries
    tokens = sum(n * t for n, t in per_round) * knobs.turns * retries
    return calls, tokens


def plan_point(cfg: DictConfig, run_dir: str, label: str) -> PointPlan:
    from tasks import get_task

    knobs = Knobs.from_cfg(cfg)
    try:
        task = get_task(cfg.benchmark)
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
