"""Run statistics over result rows (``id``, ``repeat``, ``correct``, ``answer``).

Pure functions; :func:`summarize` returns a dict merged into ``summary.json``. ``n`` (rows)
is always reported, with ``n_problems`` and ``repeats``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def _by_problem(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    groups: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[str(r["id"])].append(r)
    return groups


def accuracy(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean correctness with its standard error.

    With one sample per problem this is the binomial s.e. ``sqrt(p(1-p)/(n-1))``. With
    repeats, samples of one problem are correlated, so the s.e. is clustered by problem:
    the s.e. of the mean over problems of each problem's mean correctness (Miller, "Adding
    error bars to evals", 2024) — it equals the plain one when every cluster has size 1.
    """
    n = len(rows)
    if n == 0:
        return {"n": 0, "accuracy": None, "stderr": None}
    acc = sum(bool(r["correct"]) for r in rows) / n
    groups = _by_problem(rows)
    k = len(groups)
    if k < 2:
        return {"n": n, "n_problems": k, "accuracy": acc, "stderr": None}
    # Cluster-robust s.e. of the overall mean (clusters = problems, unequal sizes allowed).
    resid = [sum(bool(r["correct"]) - acc for r in g) for g in groups.values()]
    se = math.sqrt(k / (k - 1) * sum(e * e for e in resid)) / n
    return {"n": n, "n_problems": k, "accuracy": acc, "stderr": se}


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k estimator (Chen et al., 2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def pass_at_ks(rows: Sequence[Mapping[str, Any]], ks: Iterable[int] = (1, 5, 10)) -> dict[str, Any]:
    """Mean pass@k over problems, for each k not larger than the fewest samples per problem."""
    groups = _by_problem(rows)
    if not groups:
        return {}
    counts = [(len(g), sum(bool(r["correct"]) for r in g)) for g in groups.values()]
    n_min = min(n for n, _ in counts)
    out: dict[str, Any] = {}
    for k in ks:
        if k <= n_min:
            out[f"pass@{k}"] = sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)
    return out


def majority_vote(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Accuracy of the most frequent answer per problem (maj@n), over repeated samples.

    Only meaningful for short canonical answers (math, letters): a vote's answer is correct
    when some sample with that same answer was scored correct. Ties go to the answer seen
    first; rows without an answer do not vote.
    """
    groups = _by_problem(rows)
    if not groups:
        return {}
    correct_votes = 0
    for g in groups.values():
        answers = [str(r["answer"]).strip() for r in g if r.get("answer") not in (None, "")]
        if not answers:
            continue
        winner = Counter(answers).most_common(1)[0][0]
        correct_votes += any(
            bool(r["correct"]) for r in g if str(r.get("answer", "")).strip() == winner
        )
    return {"majority_accuracy": correct_votes / len(groups)}


def coverage(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """CommonGen-Hard's own metric beside all-concepts accuracy: the mean fraction of concepts
    covered per answer (``score_details.coverage``), with its standard error over problems."""
    values = [
        (str(r["id"]), float(d["coverage"]))
        for r in rows
        if isinstance(d := r.get("score_details") or {}, Mapping) and "coverage" in d
    ]
    if not values:
        return {}
    mean = sum(v for _, v in values) / len(values)
    per_problem: dict[str, list[float]] = defaultdict(list)
    for pid, v in values:
        per_problem[pid].append(v)
    k = len(per_problem)
    se = None
    if k > 1:
        resid = [sum(v - mean for v in vs) for vs in per_problem.values()]
        se = math.sqrt(k / (k - 1) * sum(e * e for e in resid)) / len(values)
    return {"coverage_mean": mean, "coverage_stderr": se}


def summarize(
    rows: Sequence[Mapping[str, Any]], domain: str | None = None, ks: Iterable[int] = (1, 5, 10)
) -> dict[str, Any]:
    """Everything for ``summary.json``: accuracy/stderr always; with repeats also pass@k (code)
    or majority vote (math, multiple choice); for text tasks scored by concept coverage, the
    mean coverage (``coverage_mean``); and how many answers the scoring pool could not decide
    (``scoring_errors``: timeouts or dead workers, counted apart from wrong answers)."""
    out = accuracy(rows)
    if domain in ("text", None):
        out.update(coverage(rows))
    undecided = sum(1 for r in rows if (r.get("score_details") or {}).get("scoring_error"))
    if undecided:
        out["scoring_errors"] = undecided
    groups = _by_problem(rows)
    out["n_problems"] = len(groups)
    reps = {len(g) for g in groups.values()}
    out["repeats"] = max(reps) if reps else 0
    if out["repeats"] > 1:
        if domain == "code":
            out.update(pass_at_ks(rows, ks))
        elif domain in ("math", "mc", None):
            out.update(majority_vote(rows))
    return out
