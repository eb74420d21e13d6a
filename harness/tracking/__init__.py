"""Experiment tracking: where a run's progress and results go besides its run directory.

The runner talks to a :class:`Tracker` only; ``build_tracker`` picks the backend from the
``tracking`` settings. A tracker must never stop or slow a run: every backend swallows its own
failures (after one warning) and the run's local files stay the source of truth.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class Tracker:
    """No tracking: the interface, and what runs get when tracking is disabled."""

    def start(self, run_dir: Path, config: dict[str, Any], info: dict[str, Any]) -> None:
        """A run (one sweep point) begins; ``info`` holds run id, provenance and the plan."""

    def progress(self, done: int, total: int, correct: int, tokens: int, elapsed_s: float) -> None:
        """Live figures, called after each recorded problem."""

    def result(self, row: dict[str, Any]) -> None:
        """One recorded result line (as written to results.jsonl)."""

    def finish(self, summary: dict[str, Any]) -> None:
        """The run ended (complete or not) with this summary.json."""


def build_tracker(tracking_cfg: Any) -> Tracker:
    return Tracker()
