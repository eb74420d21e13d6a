"""Per-run figures of the answer trajectories (``harness.trajectory``), merged into summary.json.

Every rate comes with the n it rests on and a standard error clustered by problem (repeats of
one problem are correlated; with one sample per problem it is the plain binomial one). The
names are documented in the README ("Answer trajectories").
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.trajectory import (
    CEO_DIRECTION,
    CLASSES,
    CORRECT,
    ERROR,
    KINDS,
    NEW_ROUND,
    RESCUED,
    REVISION,
    TALKED_OUT,
    Trajectory,
    _order,
    episode_trajectory,
)
from harness.transcript import read_episodes

log = logging.getLogger("harness")


def mean_se(values: Sequence[float], ids: Sequence[str]) -> tuple[float | None, float | None]:
    """Mean and its standard error clustered by ``ids`` (as harness.scoring.stats.accuracy)."""
    n = len(values)
    if n == 0:
        return None, None
    mean = sum(values) / n
    groups: dict[str, float] = defaultdict(float)
    for v, i in zip(values, ids, strict=True):
        groups[i] += v - mean
    k = len(groups)
    if k < 2:
        return mean, None
    se = math.sqrt(k / (k - 1) * sum(e * e for e in groups.values())) / n
    return mean, se


def _rate(hits: Sequence[bool], ids: Sequence[str], name: str) -> dict[str, Any]:
    mean, se = mean_se([float(h) for h in hits], ids)
    return {
        f"{name}_rate": _r(mean),
        f"{name}_stderr": _r(se),
        f"{name}_n": len(hits),
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 6)


def trajectory_stats(episodes: Iterable[tuple[str, Trajectory]]) -> dict[str, Any]:
    """The summary fields for (problem id, trajectory) pairs; {} when none was graded."""
    eps = [(str(i), t) for i, t in episodes if t is not None]
    if not eps:
        return {}
    out: dict[str, Any] = {"trajectory_n": len(eps)}
    out.update(_accuracy_fields(eps))
    out.update(_flip_fields(eps))
    out.update(_class_fields(eps))
    out.update(_evaluator_fields(eps))
    out.update(_critic_fields(eps))
    out["trajectory_curve"] = curve(eps)
    out["trajectory_grading_errors"] = sum(1 for _, t in eps for s in t.steps if s.status == ERROR)
    out["trajectory_final_mismatch"] = sum(1 for _, t in eps if t.mismatch)
    return out


def _accuracy_fields(eps: list[tuple[str, Trajectory]]) -> dict[str, Any]:
    """Accuracy of the first proposal and of the final answer, and the gain between them."""
    ids = [i for i, _ in eps]
    out: dict[str, Any] = {}
    first = [float(t.first == CORRECT) for _, t in eps]
    final = [float(t.final) for _, t in eps]
    for name, vals in (("first_proposal", first), ("final", final)):
        mean, se = mean_se(vals, ids)
        out[f"{name}_accuracy"], out[f"{name}_stderr"] = _r(mean), _r(se)
    gain, gain_se = mean_se([b - a for a, b in zip(first, final, strict=True)], ids)
    out["discussion_gain"], out["discussion_gain_stderr"] = _r(gain), _r(gain_se)
    return out


def _flip_row() -> dict[str, int]:
    return {"right_to_wrong": 0, "wrong_to_right": 0, "steps": 0, "from_right": 0, "from_wrong": 0}


def _flip_fields(eps: list[tuple[str, Trajectory]]) -> dict[str, Any]:
    """Flips of the system's answer, attributed to the kind of step and the step that made
    them (every kind listed, steps only where some episode had one)."""
    by_kind: dict[str, dict[str, int]] = {k: _flip_row() for k in KINDS}
    by_step: dict[str, dict[str, int]] = {}
    for _, t in eps:
        prev = None
        for s in t.steps:
            if prev is not None:
                for table, key in ((by_kind, s.kind), (by_step, s.label)):
                    row = table.setdefault(key, _flip_row())
                    row["steps"] += 1
                    row["from_right" if prev == CORRECT else "from_wrong"] += 1
                    if (prev == CORRECT) != (s.state == CORRECT):
                        row["right_to_wrong" if prev == CORRECT else "wrong_to_right"] += 1
            prev = s.state
    out: dict[str, Any] = {
        "flips_right_to_wrong": sum(v["right_to_wrong"] for v in by_kind.values()),
        "flips_wrong_to_right": sum(v["wrong_to_right"] for v in by_kind.values()),
    }
    for kind in (REVISION, NEW_ROUND, CEO_DIRECTION):
        out[f"flips_right_to_wrong_{kind}"] = by_kind[kind]["right_to_wrong"]
        out[f"flips_wrong_to_right_{kind}"] = by_kind[kind]["wrong_to_right"]
    out["flips_by_kind"] = by_kind
    out["flips_by_step"] = dict(sorted(by_step.items(), key=lambda kv: _order(kv[0])))
    return out


def _class_fields(eps: list[tuple[str, Trajectory]]) -> dict[str, Any]:
    """How many episodes fell in each class, and the rescued and talked-out rates."""
    ids = [i for i, _ in eps]
    classes = {c: 0 for c in CLASSES}
    for _, t in eps:
        classes[t.klass] += 1
    out: dict[str, Any] = {"trajectory_classes": classes}
    out.update(_rate([t.klass == RESCUED for _, t in eps], ids, "rescued"))
    out.update(_rate([t.klass == TALKED_OUT for _, t in eps], ids, "talked_out"))
    return out


def _evaluator_fields(eps: list[tuple[str, Trajectory]]) -> dict[str, Any]:
    """The evaluator's accept/reject against the truth (only verdicts it actually gave)."""
    ev = [(i, e) for i, t in eps for e in t.evaluations if e.get("parsed", True)]
    acc = {"accepted_right": 0, "accepted_wrong": 0, "rejected_right": 0, "rejected_wrong": 0}
    for _, e in ev:
        right = e["state"] == CORRECT
        acc[f"{'accepted' if e['accepted'] else 'rejected'}_{'right' if right else 'wrong'}"] += 1
    out: dict[str, Any] = {
        "evaluator_n": len(ev),
        "evaluator_unparsed": sum(
            1 for _, t in eps for e in t.evaluations if not e.get("parsed", True)
        ),
    }
    for k, v in acc.items():
        out[f"evaluator_{k}"] = v
    on_wrong = [(i, e["accepted"]) for i, e in ev if e["state"] != CORRECT]
    on_right = [(i, not e["accepted"]) for i, e in ev if e["state"] == CORRECT]
    out.update(
        _rate([h for _, h in on_wrong], [i for i, _ in on_wrong], "evaluator_accepted_wrong")
    )
    out.update(
        _rate([h for _, h in on_right], [i for i, _ in on_right], "evaluator_rejected_right")
    )
    return out


def _critic_fields(eps: list[tuple[str, Trajectory]]) -> dict[str, Any]:
    """The critics' agree/disagree against the truth (abstentions counted apart)."""
    vs = [(i, v) for i, t in eps for v in t.verdicts]
    crit = {"agreed_right": 0, "agreed_wrong": 0, "disagreed_right": 0, "disagreed_wrong": 0}
    for _, v in vs:
        if v["agree"] is None:
            continue
        right = v["state"] == CORRECT
        crit[f"{'agreed' if v['agree'] else 'disagreed'}_{'right' if right else 'wrong'}"] += 1
    out: dict[str, Any] = {
        "critic_verdicts_n": len(vs),
        "critics_abstained": sum(1 for _, v in vs if v["agree"] is None),
    }
    for k, v in crit.items():
        out[f"critics_{k}"] = v
    c_wrong = [
        (i, bool(v["agree"])) for i, v in vs if v["agree"] is not None and v["state"] != CORRECT
    ]
    c_right = [
        (i, not v["agree"]) for i, v in vs if v["agree"] is not None and v["state"] == CORRECT
    ]
    out.update(_rate([h for _, h in c_wrong], [i for i, _ in c_wrong], "critics_agreed_wrong"))
    out.update(_rate([h for _, h in c_right], [i for i, _ in c_right], "critics_disagreed_right"))
    return out


def curve(eps: list[tuple[str, Trajectory]]) -> list[dict[str, Any]]:
    """Accuracy of the system's answer after each step, averaged over problems, with the mean
    tokens spent so far: the test-time scaling curve inside one episode. Steps are put in one
    order across episodes (round, then proposal, revisions, the round's end); an episode that
    skipped a step (consensus, an early stop) keeps its answer and its tokens at that point."""
    points: dict[str, tuple[int, int]] = {}
    per_ep: list[list[tuple[tuple[int, int], str, int, int]]] = []
    for _, t in eps:
        marks = [(_order(s.label), s.state, s.tokens, s.completion_tokens) for s in t.steps]
        for s in t.steps:
            points[s.label] = _order(s.label)
        for r in t.round_ends:
            label = f"r{r['round']}.end"
            points[label] = _order(label)
            marks.append((_order(label), r["state"], r["tokens"], r["completion_tokens"]))
        per_ep.append(sorted(marks, key=lambda m: m[0]))
    out = []
    ids = [i for i, _ in eps]
    for label, order in sorted(points.items(), key=lambda kv: kv[1]):
        hits, tokens, comp = [], [], []
        for marks in per_ep:
            got = [m for m in marks if m[0] <= order]
            last = got[-1] if got else (order, "no_answer", 0, 0)
            hits.append(float(last[1] == CORRECT))
            tokens.append(last[2])
            comp.append(last[3])
        mean, se = mean_se(hits, ids)
        out.append(
            {
                "step": label,
                "accuracy": _r(mean),
                "stderr": _r(se),
                "n": len(hits),
                "tokens": round(sum(tokens) / len(tokens), 1),
                "completion_tokens": round(sum(comp) / len(comp), 1),
            }
        )
    return out


def run_trajectories(
    run_dir: str | Path, keys: set[tuple[str, int]] | None = None
) -> list[tuple[str, Trajectory]]:
    """(problem id, trajectory) of each recorded episode with graded answers (``keys``: only
    these (id, repeat))."""
    out = []
    for row, ep in read_episodes(run_dir):
        if keys is not None and (str(row.get("id")), int(row.get("repeat", 0))) not in keys:
            continue
        t = episode_trajectory(ep)
        if t is not None:
            out.append((str(row.get("id")), t))
    return out


def run_stats(run_dir: str | Path, keys: set[tuple[str, int]] | None = None) -> dict[str, Any]:
    """The trajectory fields of summary.json for a run directory ({} without graded answers).
    Never raises: the summary must be written even if this by-product fails."""
    try:
        return trajectory_stats(run_trajectories(run_dir, keys))
    except Exception as exc:  # noqa: BLE001
        log.exception("answer-trajectory figures of %s failed", run_dir)
        return {"trajectory_error": f"{type(exc).__name__}: {exc}"}
