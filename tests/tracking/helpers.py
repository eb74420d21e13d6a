"""A run store made by hand, and tracking settings composed as the CLI composes them."""

from __future__ import annotations

import json
from pathlib import Path

from harness.settings import compose, to_plain

ROWS = [
    {
        "id": "p1",
        "repeat": 0,
        "correct": True,
        "answer": "14",
        "rounds": 1,
        "agents": 3,
        "calls": 5,
        "prompt_tokens": 900,
        "completion_tokens": 300,
        "tokens_by_role": {"solver": {"calls": 1, "prompt_tokens": 200, "completion_tokens": 100}},
        "ceo_decisions": [{"round": 1, "stop": False, "agents": 3, "budget": 2048, "parsed": True}],
    },
    {
        "id": "p2",
        "repeat": 0,
        "correct": False,
        "answer": None,
        "rounds": 2,
        "agents": 2,
        "calls": 9,
        "prompt_tokens": 1500,
        "completion_tokens": 700,
        "tokens_by_role": {"solver": {"calls": 2, "prompt_tokens": 400, "completion_tokens": 300}},
        "ceo_decisions": [
            {"round": 1, "stop": False, "agents": 2, "budget": 1024, "parsed": False},
            {"round": 2, "stop": True, "agents": 2, "budget": 1024, "parsed": True},
        ],
    },
]


def composed(*overrides: str):
    """The composed config with a ``tracking`` group, whether or not conf/config.yaml lists it
    among its defaults yet."""
    listed = "tracking" in compose([])
    return compose([*([] if listed else ["+tracking=default"]), *overrides])


def plain_config(cfg) -> dict:
    out = to_plain(cfg)
    out.pop("hydra", None)
    return out


def write_store(run_dir: Path, rows=ROWS, **summary_extra) -> dict:
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run_dir / "transcripts.jsonl").write_text(
        "".join(json.dumps({"id": r["id"], "repeat": 0, "calls": []}) + "\n" for r in rows)
    )
    (run_dir / "config.yaml").write_text("model:\n  name: tiny\n")
    summary = {
        "benchmark": "math500",
        "model": "tiny",
        "mas": "ceo",
        "n": len(rows),
        "accuracy": sum(r["correct"] for r in rows) / len(rows),
        "stderr": 0.5,
        "n_expected": len(rows),
        "complete": True,
        "error": None,
        "tokens_per_problem": 1700.0,
        "git": {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False},
        "versions": {"python": "3.11.7"},
        **summary_extra,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return summary
