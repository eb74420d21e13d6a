"""SciBench textbook problems: numeric answers compared with a relative tolerance (upstream
uses ``math.isclose(pred, gold, rel_tol=0.05)``; ``benchmark.rel_tol`` changes it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import DataError
from harness.problem import Problem, Score
from harness.scoring.context import ScoringContext
from harness.scoring.scorers import parse_number, score_numeric
from tasks.base import BenchmarkSettings, Task


@dataclass
class SciBenchSettings(BenchmarkSettings):
    rel_tol: float  # relative tolerance of the numeric comparison


class SciBench(Task):
    name = "scibench"
    domain = "math"
    hf_path = "xw27/scibench"
    hf_split = "train"
    local_file = "scibench.jsonl"
    settings_cls = SciBenchSettings

    def to_problem(self, record: dict[str, Any], index: int) -> Problem:
        gold = parse_number(str(record["answer_number"]))
        if gold is None:
            raise DataError(f"scibench line {index + 1}: answer_number is not a number")
        unit = str(record.get("unit") or "").strip()
        prompt = str(record["problem_text"]).strip()
        if unit:
            # SciBench's own convention: the unit is given, the answer is the bare number.
            prompt += f"\n\nThe unit of the answer is {unit}; give only the number in the box."
        number = str(record["answer_number"]).strip()
        solution = str(record.get("solution") or "").strip()
        response = f"The answer is therefore $\\boxed{{{number}}}$."
        if solution:
            response = f"{solution}\n\n{response}"
        return Problem(
            id=str(index + 1),  # (source, problemid) is not unique: the line number is
            prompt=prompt,
            domain=self.domain,
            reference=gold,
            reference_response=response,
            meta={
                "source": record.get("source"),
                "problemid": str(record.get("problemid", "")).strip(),
                "unit": unit,
                "answer_latex": str(record.get("answer_latex", "")).strip(),
            },
        )

    async def score(self, problem: Problem, response: str, ctx: ScoringContext) -> Score:
        try:
            rel_tol = self.settings.rel_tol
            return await score_numeric(response or "", float(problem.reference), rel_tol, ctx)
        except Exception as exc:  # noqa: BLE001 - scoring must never abort a run
            return Score(False, None, f"scoring error: {type(exc).__name__}: {exc}")
