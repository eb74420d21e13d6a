"""summary.json: the figures of one run, with the n they rest on and where they came from.

:func:`summarize` builds a :class:`harness.rows.Summary` (where each field is defined) from
the run's result rows, its sessions and what the engine reported.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from harness.knobs import Knobs
from harness.provenance import git_info, versions
from harness.rows import ResultRow, Summary
from harness.scoring import stats


def summarize(
    rows: list[ResultRow],
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
) -> Summary:
    """``sessions``: every session of this run so far, the current one last; ``trajectory``:
    the answer-trajectory fields (harness.trajectory_stats), where answers were graded;
    ``engine_stats``: the engine's facts (harness.rows.ENGINE_KEYS, ``served_model``,
    ``not_recorded_engine_errors``)."""
    summary = Summary(
        benchmark=cfg["benchmark"]["name"],
        model=cfg["model"]["name"],
        mas=cfg["mas"]["name"],
        agents=knobs.agents,
        tokens=knobs.tokens,
        turns=knobs.turns,
        critic_rounds=knobs.critic_rounds,
        seed=knobs.seed,
        temperature=knobs.temperature,
        limit=knobs.limit,
        run_id=ident["run_id"],
        config_hash=ident["config_hash"],
        data_digest=ident["data_digest"],
        prompts_digest=ident.get("prompts_digest"),
        n_expected=n_expected,
        # complete: every selected problem × repeat has a result and the run did not fail
        complete=len(rows) >= n_expected and error is None,
        error=error,
        trajectory=dict(trajectory or {}),
        git=git_info(),
        versions=versions(),
    )
    _add_scores(summary, rows, domain, sorted({1, 5, 10, knobs.repeats}))
    _add_counts(summary, rows)
    _add_time(summary, sessions)
    _add_judge(summary, rows)
    _add_engine(summary, engine_stats)
    return summary


def _add_scores(summary: Summary, rows: list[ResultRow], domain: str | None, ks: list[int]) -> None:
    """n, accuracy, stderr; with repeats pass@k (code) or majority vote (math, choices)."""
    scores = stats.summarize([r.to_json() for r in rows], domain=domain, ks=ks)
    summary.n = scores.pop("n")
    summary.accuracy = scores.pop("accuracy")
    summary.stderr = scores.pop("stderr")
    summary.n_problems = scores.pop("n_problems")
    summary.repeats = scores.pop("repeats")  # the samples per problem the results hold
    summary.coverage_mean = scores.pop("coverage_mean", None)
    summary.coverage_stderr = scores.pop("coverage_stderr", None)
    summary.scoring_errors = scores.pop("scoring_errors", None)
    summary.majority_accuracy = scores.pop("majority_accuracy", None)
    summary.pass_at_k = {k: scores.pop(k) for k in list(scores) if k.startswith("pass@")}
    summary.extra.update(scores)  # a figure stats gained that Summary does not name yet
    coverage = [
        float(r.score_details["coverage"])
        for r in rows
        if isinstance(r.score_details.get("coverage"), int | float)
    ]
    if coverage:  # CommonGen-Hard: the paper's metric, beside all-concepts accuracy
        summary.coverage_mean = round(statistics.fmean(coverage), 6)


def _add_counts(summary: Summary, rows: list[ResultRow]) -> None:
    completion = _sum(r.completion_tokens for r in rows)
    prompt = _sum(r.prompt_tokens for r in rows)
    n_correct = sum(bool(r.correct) for r in rows)
    n_rows = len(rows)
    summary.correct = n_correct
    summary.errors = sum(1 for r in rows if r.error)
    # Counted apart: a broken sandbox would otherwise look like wrong code.
    summary.sandbox_errors = sum(
        1 for r in rows if r.score_details.get("verdict") == "sandbox_error"
    )
    summary.no_answer = sum(1 for r in rows if r.no_answer)
    summary.no_answer_rate = round(summary.no_answer / n_rows, 6) if rows else None
    # no_answer split by cause (harness.scoring.extract.CAUSES): extraction, not the model
    summary.no_answer_causes = no_answer_causes(rows)
    summary.calls = _sum(r.calls for r in rows)
    summary.prompt_tokens = prompt
    summary.completion_tokens = completion
    summary.reasoning_tokens = _sum(r.reasoning_tokens for r in rows)
    summary.engine_retries = _sum(r.engine_retries for r in rows)
    summary.failed_calls = _sum(r.failed_calls for r in rows)
    summary.cost_usd = _cost(rows)
    summary.tokens_per_problem = round((prompt + completion) / n_rows, 1) if rows else None
    summary.completion_tokens_per_problem = round(completion / n_rows, 1) if rows else None
    summary.completion_tokens_per_correct = round(completion / n_correct, 1) if n_correct else None
    summary.tokens_by_role = by_role(r.tokens_by_role for r in rows)
    summary.mean_rounds = _mean(r.rounds for r in rows)
    summary.mean_agents = _mean(r.agents for r in rows)


def _add_time(summary: Summary, sessions: list[dict[str, Any]]) -> None:
    """This session's times (the last of ``sessions``) and the run's total."""
    session = sessions[-1]
    computed = int(session.get("computed") or 0)
    session_tokens = int(session.get("completion_tokens") or 0)
    summary.wall_s = round(float(session.get("wall_s") or 0.0), 3)
    summary.wall_s_total = round(sum(float(s.get("wall_s") or 0.0) for s in sessions), 3)
    summary.computed_this_session = computed
    summary.startup_s = session.get("startup_s")
    summary.engine_start_s = session.get("engine_start_s")
    summary.generation_s = session.get("generation_s")
    # Throughput of this session's generation phase: resumed rows cost nothing now.
    summary.problems_per_s = _rate(computed, session.get("generation_s"))
    summary.completion_tokens_per_s = _rate(session_tokens, session.get("generation_s"), 1)
    summary.started_at = sessions[0].get("started_at")
    summary.ended_at = session.get("ended_at")
    summary.sessions = sessions


def _add_judge(summary: Summary, rows: list[ResultRow]) -> None:
    """The LLM judge's figures, beside (never instead of) the symbolic accuracy; none when no
    row was judged."""
    if not any(r.judged for r in rows):
        return
    judged = [r for r in rows if r.judged and r.judge_correct is not None]
    agree = sum(bool(r.judge_correct) == bool(r.correct) for r in judged)
    summary.judge_n = len(judged)
    summary.judge_unparsed = sum(1 for r in rows if r.judged) - len(judged)
    summary.judge_accuracy = (
        round(sum(bool(r.judge_correct) for r in judged) / len(judged), 6) if judged else None
    )
    summary.judge_agreement = round(agree / len(judged), 6) if judged else None


def _add_engine(summary: Summary, engine_stats: dict[str, Any]) -> None:
    facts = dict(engine_stats)
    summary.served_model = facts.pop("served_model", None)
    summary.not_recorded_engine_errors = int(facts.pop("not_recorded_engine_errors", 0) or 0)
    summary.engine = facts


def no_answer_causes(rows: Iterable[ResultRow]) -> dict[str, int]:
    """Rows without an answer, counted by ``no_answer_cause`` (rows written before the cause
    was recorded count as "unknown")."""
    out: dict[str, int] = {}
    for r in rows:
        if r.no_answer:
            cause = str(r.no_answer_cause or "unknown")
            out[cause] = out.get(cause, 0) + 1
    return dict(sorted(out.items()))


def by_role(items: Iterable[dict[str, dict[str, int]] | None]) -> dict[str, dict[str, int]]:
    """Per-role figures (``tokens_by_role``) summed over rows, roles in first-seen order."""
    out: dict[str, dict[str, int]] = {}
    for figures_by_role in items:
        for role, figures in (figures_by_role or {}).items():
            acc = out.setdefault(role, {})
            for k, v in figures.items():
                acc[k] = acc.get(k, 0) + int(v or 0)
    return out


def _sum(values: Iterable[Any]) -> int:
    return int(sum(int(v or 0) for v in values))


def _cost(rows: list[ResultRow]) -> float | None:
    costs = [r.cost_usd for r in rows if r.cost_usd is not None]
    return round(sum(float(c) for c in costs), 6) if costs else None


def _rate(count: int, seconds: Any, digits: int = 3) -> float | None:
    if not count or not seconds:
        return None
    return round(count / float(seconds), digits)


def _mean(values: Iterable[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return round(statistics.fmean(vals), 3) if vals else None
