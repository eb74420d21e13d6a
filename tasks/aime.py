"""AIME 2024 and 2025: integer answers 0-999, graded by integer match."""

from __future__ import annotations

from typing import Any

from harness.problem import Problem, Score
from harness.scoring.context import ScoringContext
from harness.scoring.extract import last_boxed
from harness.scoring.scorers import parse_integer, score_integer
from tasks.base import Task


class _Aime(Task):
    domain = "math"
    hf_split = "train"

    def record_id(self, record: dict[str, Any], index: int) -> str:
        return str(record.get("id", index))

    def to_problem(self, record: dict[str, Any], index: int) -> Problem:
        answer = int(str(record["answer"]).strip())  # "025" → 25
        solution = record.get("solution")
        box = last_boxed(solution) if solution else None
        if box is not None and parse_integer(box) == answer:
            response, how = solution, "solution"
        elif solution:
            response = f"{solution.rstrip()}\n\nThe final answer is $\\boxed{{{answer}}}$."
            how = "solution+box"
        else:
            response, how = f"The final answer is $\\boxed{{{answer}}}$.", "box"
        meta = {k: record[k] for k in ("url", "contest", "problem_idx", "year") if k in record}
        meta["oracle_source"] = how
        return Problem(
            id=self.record_id(record, index),
            prompt=str(record["problem"]).strip(),
            domain=self.domain,
            reference=answer,
            reference_response=response,
            meta=meta,
        )

    async def score(self, problem: Problem, response: str, ctx: ScoringContext) -> Score:
        try:
            return await score_integer(response or "", int(problem.reference), ctx)
        except Exception as exc:  # noqa: BLE001 - scoring must never abort a run
            return Score(False, None, f"scoring error: {type(exc).__name__}: {exc}")


class Aime2024(_Aime):
    name = "aime2024"
    hf_path = "HuggingFaceH4/aime_2024"
    local_file = "aime2024.jsonl"


class Aime2025(_Aime):
    name = "aime2025"
    hf_path = "MathArena/aime_2025"
    local_file = "aime2025.jsonl"

    def record_id(self, record: dict[str, Any], index: int) -> str:
        """``2025-<I|II>-<n>`` from the data, never from the row's position: the local copy
        has ``id`` (and ``contest``: ``aime_2025_I``); the hub's ``MathArena/aime_2025``
        numbers the problems 1-30 (``problem_idx``; 16-30 are AIME II's 1-15)."""
        if record.get("id") not in (None, ""):
            return str(record["id"])
        idx = int(record["problem_idx"])
        contest = str(record.get("contest") or "")
        if contest:
            part = "II" if contest.upper().endswith("_II") else "I"
        elif 1 <= idx <= 30:
            part, idx = ("I", idx) if idx <= 15 else ("II", idx - 15)
        else:
            raise ValueError(f"problem_idx {idx} is outside 1-30")
        if not 1 <= idx <= 15:
            raise ValueError(f"problem_idx {record['problem_idx']} is outside 1-15 for {contest}")
        return f"2025-{part}-{idx}"
