"""summary.json: the figures of one run, with the n they rest on and where they came from."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from harness.knobs import Knobs
from harness.provenance import git_info, versions
from harness.scoring import stats


def summarize(
    rows: list[dict[str, Any]],
    *,
    cfg: dict[str, Any],
    knobs: Knobs,
    ident: dict[str, Any],
    n_expected: int,
    sessions: list[dict[str, Any]],
    engine_stats: dict[str, Any],
    domain: str | None = None,
    error: str | None = None,
    trajectory: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``sessions``: every session of this run so far, the current one last; ``trajectory``:
    the answer-trajectory fields (harness.trajectory_stats), where answers were graded."""
    completion = _sum(r.get("completion_tokens") for r in rows)
    prompt = _sum(r.get("prompt_tokens") for r in rows)
    n_correct = sum(bool(r.get("correct")) for r in rows)
    session = sessions[-1]
    summary: dict[str, Any] = {
        "benchmark": cfg["benchmark"]["name"],
        "model": cfg["model"]["name"],
        "mas": cfg["mas"]["name"],
        "agents": knobs.agents,
        "tokens": knobs.tokens,
        "turns": knobs.turns,
        "critic_rounds": knobs.critic_rounds,
        "repeats": knobs.repeats,
        "seed": knobs.seed,
        "temperature": knobs.temperature,
        "limit": knobs.limit,
        "run_id": ident["run_id"],
        "config_hash": ident["config_hash"],
        "data_digest": ident["data_digest"],
        "prompts_digest": ident.get("prompts_digest"),
    }
    # n, accuracy, stderr; with repeats pass@k (code) or majority vote (math, choices)
    ks = sorted({1, 5, 10, knobs.repeats})
    summary.update(stats.summarize(rows, domain=domain, ks=ks))
    summary.update(
        {
            "n_expected": n_expected,
            # complete: every selected problem × repeat has a result and the run did not fail
            "complete": len(rows) >= n_expected and error is None,
            "error": error,
            "correct": n_correct,
            "errors": sum(1 for r in rows if r.get("error")),
            # Counted apart: a broken sandbox would otherwise look like wrong code.
            "sandbox_errors": sum(
                1 for r in rows if (r.get("score_details") or {}).get("verdict") == "sandbox_error"
            ),
            "no_answer": sum(1 for r in rows if r.get("answer") in (None, "")),
            "no_answer_rate": round(sum(r.get("answer") in (None, "") for r in rows) / len(rows), 6)
            if rows
            else None,
            # no_answer split by cause (harness.scoring.extract.CAUSES): extraction, not the model
            "no_answer_causes": no_answer_causes(rows),
            "calls": _sum(r.get("calls") for r in rows),
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "reasoning_tokens": _sum(r.get("reasoning_tokens") for r in rows),
            "engine_retries": _sum(r.get("engine_retries") for r in rows),
            "failed_calls": _sum(r.get("failed_calls") for r in rows),
            "cost_usd": _cost(rows),
            "tokens_per_problem": round((prompt + completion) / len(rows), 1) if rows else None,
            "completion_tokens_per_problem": round(completion / len(rows), 1) if rows else None,
            "completion_tokens_per_correct": round(completion / n_correct, 1)
            if n_correct
            else None,
            "tokens_by_role": _by_role(rows),
            "mean_rounds": _mean(r.get("rounds") for r in rows),
            "mean_agents": _mean(r.get("agents") for r in rows),
        }
    )
    coverage = [
        float(r["score_details"]["coverage"])
        for r in rows
        if isinstance((r.get("score_details") or {}).get("coverage"), int | float)
    ]
    if coverage:  # CommonGen-Hard: the paper's metric, beside all-concepts accuracy
        summary["coverage_mean"] = round(statistics.fmean(coverage), 6)
    wall = float(session.get("wall_s") or 0.0)
    computed = int(session.get("computed") or 0)
    session_tokens = int(session.get("completion_tokens") or 0)
    summary.update(
        {
            "wall_s": round(wall, 3),
            "wall_s_total": round(sum(float(s.get("wall_s") or 0.0) for s in sessions), 3),
            "computed_this_session": computed,
            "startup_s": session.get("startup_s"),
            "engine_start_s": session.get("engine_start_s"),
            "generation_s": session.get("generation_s"),
            # Throughput of this session's generation phase: resumed rows cost nothing now.
            "problems_per_s": _rate(computed, session.get("generation_s")),
            "completion_tokens_per_s": _rate(session_tokens, session.get("generation_s"), 1),
            "started_at": sessions[0].get("started_at"),
            "ended_at": session.get("ended_at"),
            "sessions": sessions,
            "git": git_info(),
            "versions": versions(),
        }
    )
    summary.update(_judge_summary(rows))
    summary.update(trajectory or {})
    summary.update(engine_stats)
    return summary


def no_answer_causes(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Rows without an answer, counted by ``no_answer_cause`` (rows written before the cause
    was recorded count as "unknown")."""
    out: dict[str, int] = {}
    for r in rows:
        if r.get("answer") in (None, ""):
            cause = str(r.get("no_answer_cause") or "unknown")
            out[cause] = out.get(cause, 0) + 1
    return dict(sorted(out.items()))


def _sum(values: Iterable[Any]) -> int:
    return int(sum(int(v or 0) for v in values))


def _cost(rows: list[dict[str, Any]]) -> float | None:
    costs = [r.get("cost_usd") for r in rows if r.get("cost_usd") is not None]
    return round(sum(float(c) for c in costs), 6) if costs else None


def _rate(count: int, seconds: Any, digits: int = 3) -> float | None:
    if not count or not seconds:
        return None
    return round(count / float(seconds), digits)


def _by_role(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        for role, figures in (r.get("tokens_by_role") or {}).items():
            acc = out.setdefault(role, {})
            for k, v in figures.items():
                acc[k] = acc.get(k, 0) + int(v or 0)
    return out


def _mean(values: Iterable[Any]) -> float | None:
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
