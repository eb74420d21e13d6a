"""Sweep points pulled from a W&B project (``--wandb ENTITY/PROJECT``).

Each W&B run the tracker wrote carries summary.json's own figures as its summary and the
knobs as top-level config keys, so a point reads the same as from disk. What only the results
lines hold (pooling seeds, the no-answer share of summaries written before it existed) is not
available here. A run W&B reports as crashed, failed or still running is never complete.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.errors import HarnessError
from harness.report.points import KNOBS, Point, _either, _knob
from harness.rows import Summary

#: W&B run states that mean the run did not end normally
_NOT_DONE = ("running", "crashed", "failed", "killed", "preempted")


def points_from_wandb(path: str, api_factory: Callable[[], Any] | None = None) -> list[Point]:
    """``path`` is ``ENTITY/PROJECT``; ``api_factory`` builds the API client (tests pass a
    stand-in: the real one needs the network and an account)."""
    if path.count("/") != 1 or not all(path.split("/")):
        raise HarnessError(f"--wandb {path!r}: expected ENTITY/PROJECT")
    if api_factory is None:
        import wandb

        api_factory = wandb.Api
    try:
        runs = list(api_factory().runs(path))
    except Exception as exc:  # noqa: BLE001 - network, auth, unknown project: one line
        raise HarnessError(
            f"could not read W&B project {path}: {type(exc).__name__}: {exc}"
        ) from exc
    points = []
    for run in runs:
        point = _point(path, run)
        if point is not None:
            points.append(point)
    return points


def _point(path: str, run: Any) -> Point | None:
    config = dict(run.config or {})
    # summary.json's own names, beside the tracker's derived figures (kept in ``extra``)
    summary = Summary.from_json(dict(run.summary_metrics or {}))
    if not {"model", "mas", "benchmark"} <= set(config):
        return None  # not a harness run (a report run, or another tool's)
    n = summary.n
    complete = summary.complete
    if complete is None:
        complete = n > 0 and not summary.error
    if str(getattr(run, "state", "finished")) in _NOT_DONE:
        complete = False
    status = "complete" if complete else ("partial" if n else "failed")
    error = summary.error
    if not complete and not error and str(getattr(run, "state", "")) in _NOT_DONE:
        error = f"W&B run state: {run.state}"
    return Point(
        source=f"wandb:{path}/{run.id}",
        model=str(config["model"]),
        mas=str(config["mas"]),
        benchmark=str(config["benchmark"]),
        knobs={k: _knob(k, _either(getattr(summary, k), config.get(k))) for k in KNOBS},
        status=status,
        n=n,
        n_expected=summary.n_expected or config.get("n_expected"),
        accuracy=summary.accuracy,
        stderr=summary.stderr,
        correct=summary.correct,
        tokens_per_problem=summary.tokens_per_problem,
        completion_tokens_per_problem=summary.completion_tokens_per_problem,
        no_answer=summary.no_answer,
        tokens_by_role=summary.tokens_by_role or None,
        error=error,
        config_hash=summary.config_hash or config.get("config_hash"),
    )
