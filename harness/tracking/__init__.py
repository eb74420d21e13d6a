"""Experiment tracking: where a run's progress and results go besides its run directory.

The runner talks to a :class:`Tracker` only; ``build_tracker`` picks the backend from the
``tracking`` settings (``conf/tracking/default.yaml``). A tracker must never stop or slow a
run: every backend swallows its own failures (after one warning) and the run's local files
stay the source of truth.

What the runner passes:

- ``start(run_dir, config, info)``: ``config`` the resolved config (plain dict); ``info`` the
  run's identity (``run_id``, ``config_hash``, ``data_digest``, ``prompts_digest``,
  ``n_expected``) and, when known, ``references`` ({problem id: reference} of the selected
  problems, for the per-problem table), ``git``/``versions`` (provenance) and
  ``sweep_overrides`` (the sweep's own overrides; otherwise read from ``multirun.yaml``).
- ``progress(...)`` after each recorded problem; ``result(row)`` with each results line
  (a :class:`harness.rows.ResultRow`); ``finish(summary)`` once, with the summary.json written
  (a :class:`harness.rows.Summary`, ``complete``/``error`` included), also when the run failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.rows import ResultRow, Summary


class Tracker:
    """No tracking: the interface, and what runs get when tracking is disabled."""

    def start(self, run_dir: Path, config: dict[str, Any], info: dict[str, Any]) -> None:
        """A run (one sweep point) begins; ``info`` holds run id, provenance and the plan."""

    def progress(self, done: int, total: int, correct: int, tokens: int, elapsed_s: float) -> None:
        """Live figures, called after each recorded problem."""

    def result(self, row: ResultRow) -> None:
        """One recorded result line (as written to results.jsonl)."""

    def waiting(self, retries: int, last_error: str) -> None:
        """The engine is retrying: ``retries`` since its last answer, the last error."""

    def finish(self, summary: Summary) -> None:
        """The run ended (complete or not) with this summary.json."""

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the backend is done with this run (True), or ``timeout`` passed."""
        return True


def build_tracker(tracking_cfg: Any) -> Tracker:
    """The tracker for one run: ``tracking_cfg`` is the ``tracking`` config node (or
    :class:`~harness.tracking.settings.TrackingSettings`); None means no tracking."""
    if tracking_cfg is None:
        return Tracker()
    from harness.tracking.mode import resolve_mode
    from harness.tracking.settings import tracking_settings

    settings = tracking_settings(tracking_cfg).wandb
    mode = resolve_mode(settings.mode)
    if mode == "disabled":
        return Tracker()
    from harness.tracking.wandb_tracker import WandbTracker, wandb_is_off

    if wandb_is_off():
        return Tracker()
    return WandbTracker(settings, mode)
