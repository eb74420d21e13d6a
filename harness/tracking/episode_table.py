"""The per-problem table a W&B run carries: one row per recorded problem × repeat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.rows import read_results
from harness.tracking.scrub import scrub_text

COLUMNS = [
    "id",
    "repeat",
    "correct",
    "answer",
    "reference",
    "rounds",
    "agents",
    "tokens",
    "completion_tokens",
    "calls",
    "ceo_decisions",
    "error",
]
CELL_MAX = 500  # characters; a code task's reference is a whole test suite


def episode_rows(run_dir: str | Path, references: dict[str, Any] | None = None) -> list[list[Any]]:
    """Rows of :data:`COLUMNS` from the run store's ``results.jsonl`` (so resumed problems are
    included), restricted to the selected problems when ``references`` names them."""
    rows = []
    for (pid, repeat), r in sorted(read_results(run_dir).items()):
        if references is not None and pid not in references:
            continue  # outside this run's selection (a lowered `limit`)
        reference = None if references is None else references.get(pid)
        rows.append(
            [
                pid,
                repeat,
                bool(r.correct),
                _cell(r.answer),
                _cell(reference),
                r.rounds,
                r.agents,
                r.tokens,
                int(r.completion_tokens or 0),
                r.calls,
                ceo_decisions_text(r.ceo_decisions),
                _cell(r.error),
            ]
        )
    return rows


def ceo_decisions_text(decisions: Any) -> str | None:
    """``r1 continue 3×2048 · r2 stop``: what the CEO chose each round (after clamping)."""
    if not decisions:
        return None
    parts = []
    for d in decisions:
        head = f"r{d.get('round')}"
        if d.get("stop"):
            parts.append(f"{head} stop")
        else:
            parts.append(f"{head} continue {d.get('agents')}×{d.get('budget')}")
        if d.get("parsed") is False:
            parts[-1] += " (fallback)"
    return " · ".join(parts)


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    text = scrub_text(str(value))
    return text if len(text) <= CELL_MAX else text[: CELL_MAX - 1] + "…"
