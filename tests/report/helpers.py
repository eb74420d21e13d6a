"""Run directories written by hand, in the layout and schema the runner writes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from harness.scoring import stats


def rows_for(correct: list[bool], seed: int = 0, answer_missing: int = 0, tokens: int = 100):
    rows = []
    for i, ok in enumerate(correct):
        rows.append(
            {
                "id": f"q{i}",
                "repeat": 0,
                "correct": ok,
                "answer": None if i < answer_missing else str(i + seed),
                "prompt_tokens": 3 * tokens,
                "completion_tokens": tokens,
                "tokens_by_role": {
                    "solver": {
                        "calls": 1,
                        "prompt_tokens": tokens,
                        "completion_tokens": tokens // 2,
                    },
                    "critic": {
                        "calls": 2,
                        "prompt_tokens": 2 * tokens,
                        "completion_tokens": tokens // 2,
                    },
                },
            }
        )
    return rows


def write_run(
    root: Path,
    model: str = "tiny",
    mas: str = "agentverse",
    benchmark: str = "math500",
    *,
    correct: list[bool] | None = None,
    n_expected: int | None = None,
    complete: bool | None = True,
    legacy: bool = False,
    error: str | None = None,
    summary: bool = True,
    answer_missing: int = 0,
    config_hash: str | None = None,
    limit: int | None = None,
    **knobs: Any,
) -> Path:
    """A run dir with results.jsonl, config.yaml and (unless ``summary=False``) summary.json
    computed the way the runner computes it. ``legacy``: a summary without the fields added
    later (n_expected, complete, no_answer, tokens_by_role)."""
    knobs = {
        "agents": 3,
        "tokens": 2048,
        "turns": 3,
        "critic_rounds": 2,
        "repeats": 1,
        "seed": 0,
        "temperature": 0.0,
        **knobs,
    }
    correct = [True, False, True, True] if correct is None else correct
    name = "-".join(f"{k}{v}" for k, v in knobs.items())
    run_dir = root / model / benchmark / mas / name
    run_dir.mkdir(parents=True, exist_ok=True)
    rows = rows_for(correct, seed=knobs["seed"], answer_missing=answer_missing)
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run_dir / "config.yaml").write_text(
        json.dumps(
            {
                "model": {"name": model},
                "mas": {"name": mas},
                "benchmark": {"name": benchmark},
                **knobs,
                "limit": limit or len(correct),
            }
        )
    )
    if not summary:
        return run_dir
    s: dict[str, Any] = {"benchmark": benchmark, "model": model, "mas": mas, **knobs}
    s.update(stats.summarize(rows))
    s["tokens_per_problem"] = round(sum(4 * 100 for _ in rows) / len(rows), 1) if rows else None
    if not legacy:
        s.update(
            n_expected=len(correct) if n_expected is None else n_expected,
            complete=complete,
            error=error,
            no_answer=sum(r["answer"] is None for r in rows),
            config_hash=config_hash or hashlib.sha256(str(run_dir).encode()).hexdigest()[:8],
        )
    (run_dir / "summary.json").write_text(json.dumps(s))
    return run_dir


def md_tables(text: str) -> dict[str, list[list[dict[str, str]]]]:
    """Markdown tables by the ``##`` section they are in: each a list of {header: cell}."""
    out: dict[str, list[list[dict[str, str]]]] = {}
    section, lines = "", text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        if line.startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            head = [c.strip() for c in line.strip("|").split(" | ")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("| "):
                cells = [c.strip() for c in lines[i].strip().strip("|").split(" | ")]
                rows.append(dict(zip(head, cells, strict=True)))
                i += 1
            out.setdefault(section, []).append(rows)
            continue
        i += 1
    return out
