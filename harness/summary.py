"""summary.json: the figures of one run, with the n they rest on."""

from __future__ import annotations

import statistics
from typing import Any

from omegaconf import DictConfig

from harness.knobs import Knobs
from harness.scoring import stats


def summarize(
    rows: list[dict[str, Any]],
    *,
    cfg: DictConfig,
    knobs: Knobs,
    session_wall_s: float,
    prior_wall_s: float,
    computed: int,
    engine_stats: dict[str, Any],
    session_tokens: int = 0,
    domain: str | None = None,
) -> dict[str, Any]:
    completion = sum(int(r.get("completion_tokens") or 0) for r in rows)
    prompt = sum(int(r.get("prompt_tokens") or 0) for r in rows)
    n_correct = sum(bool(r.get("correct")) for r in rows)
    summary: dict[str, Any] = {
        "benchmark": cfg.benchmark.name,
        "model": cfg.model.name,
        "mas": cfg.mas.name,
        "agents": knobs.agents,
        "tokens": knobs.tokens,
        "turns": knobs.turns,
        "critic_rounds": knobs.critic_rounds,
        "repeats": knobs.repeats,
        "seed": knobs.seed,
        "limit": knobs.limit,
    }
    # n, accuracy, stderr; with repeats pass@k (code) or majority vote (math, choices)
    ks = sorted({1, 5, 10, knobs.repeats})
    summary.update(stats.summarize(rows, domain=domain, ks=ks))
    summary.update(
        {
            "correct": n_correct,
            "errors": sum(1 for r in rows if r.get("error")),
            # Counted apart: a broken sandbox would otherwise look like wrong code.
            "sandbox_errors": sum(
                1 for r in rows if (r.get("score_details") or {}).get("verdict") == "sandbox_error"
            ),
            "wall_s": round(session_wall_s, 3),
            "wall_s_total": round(prior_wall_s + session_wall_s, 3),
            "computed_this_session": computed,
            "calls": sum(int(r.get("calls") or 0) for r in rows),
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "tokens_per_problem": round((prompt + completion) / len(rows), 1) if rows else None,
            "completion_tokens_per_correct": round(completion / n_correct, 1)
            if n_correct
            else None,
            "mean_rounds": _mean(r.get("rounds") for r in rows),
            "mean_agents": _mean(r.get("agents") for r in rows),
            # Throughput of this session only: resumed rows cost nothing now.
            "problems_per_s": round(computed / session_wall_s, 3) if computed else None,
            "completion_tokens_per_s": round(session_tokens / session_wall_s, 1)
            if computed
            else None,
        }
    )
    summary.update(_judge_summary(rows))
    summary.update(engine_stats)
    return summary


def _mean(values) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return round(statistics.fmean(vals), 3) if vals else None


def _judge_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The LLM judge's figures, beside (never instead of) the symbolic accuracy."""
    judged = [r for r in rows if r.get("judge_correct") is not None]
    if not any("judge_correct" in r for r in rows):
        return {}
    agree = sum(bool(r["judge_correct"]) == bool(r.get("correct")) for r in judged)
    return {
        "judge_n": len(judged),
        "judge_unparsed": sum(1 for r in rows if "judge_correct" in r) - len(judged),
        "judge_accuracy": round(sum(bool(r["judge_correct"]) for r in judged) / len(judged), 6)
        if judged
        else None,
        "judge_agreement": round(agree / len(judged), 6) if judged else None,
    }
