"""One episode's two records: its line of ``results.jsonl`` and its line of ``transcripts.jsonl``.

The transcript line's fields are described in :mod:`harness.transcript`; the result row
(:class:`harness.rows.ResultRow`, where its fields are defined) holds what the summary, the
report and the viewer count (correct, answer, tokens, cost, errors).
Both carry the same ``attempt``, which is how a resume pairs them.
"""

from __future__ import annotations

from typing import Any

from harness.mas.base import EpisodeResult
from harness.problem import Problem, Score
from harness.rows import UNSET, ResultRow
from harness.transcript import SCHEMA


def result_row(
    problem: Problem,
    repeat: int,
    attempt: str,
    result: EpisodeResult,
    score: Score,
    latency_s: float,
) -> ResultRow:
    """The ``results.jsonl`` line of one finished episode."""
    calls = result.calls
    engine_errors = [c.error for c in calls if c.error]
    totals = result.totals()
    return ResultRow(
        id=problem.id,
        repeat=repeat,
        attempt=attempt,
        correct=bool(score.correct),
        answer=score.answer,
        no_answer_cause=no_answer_cause(score),
        reason=score.reason,
        error=result.error or (engine_errors[0] if engine_errors else None),
        failed_calls=len(engine_errors),
        calls=totals["calls"],
        prompt_tokens=totals["prompt_tokens"],
        completion_tokens=totals["completion_tokens"],
        rounds=totals["rounds"],
        agents=totals["agents"],
        reasoning_tokens=sum(int(getattr(c, "reasoning_tokens", 0) or 0) for c in calls),
        engine_retries=sum(int(getattr(c, "engine_retries", 0) or 0) for c in calls),
        cost_usd=_cost(calls),
        tokens_by_role=totals["by_role"],
        ceo_decisions=totals.get("ceo_decisions") or None,
        latency_s=round(latency_s, 4),
        score_details=score.details,
        judge_correct=score.details["judge"]["correct"] if "judge" in score.details else UNSET,
    )


def transcript_line(
    problem: Problem,
    repeat: int,
    attempt: str,
    mas: str,
    started_at: str,
    result: EpisodeResult,
    score: Score,
) -> dict[str, Any]:
    """The ``transcripts.jsonl`` line of one finished episode (schema: harness.transcript)."""
    return {
        "schema": SCHEMA,
        "id": problem.id,
        "repeat": repeat,
        "attempt": attempt,
        "mas": mas,
        "started_at": started_at,
        "prompt": problem.prompt,
        "reference": problem.shown_reference(),
        "response": result.response,
        "correct": bool(score.correct),
        "answer": score.answer,
        **result.transcript(),
    }


def no_answer_cause(score: Score) -> str | None:
    """The extractor's cause, or "scoring_error" / "no_anchor" when a scorer gave none."""
    if score.answer not in (None, ""):
        return None
    cause = (score.details or {}).get("no_answer")
    if cause:
        return str(cause)
    return "scoring_error" if (score.reason or "").startswith("scoring error") else "no_anchor"


def _cost(calls: list[Any]) -> float | None:
    costs = [c.cost_usd for c in calls if getattr(c, "cost_usd", None) is not None]
    return round(sum(costs), 8) if costs else None
