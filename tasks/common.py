"""Shared task shapes: math with a final answer, and helpers used by several benchmarks."""

from __future__ import annotations

from harness.problem import Problem, Score
from harness.scoring.context import ScoringContext
from harness.scoring.extract import last_boxed
from harness.scoring.math_equiv import normalize_string
from harness.scoring.scorers import score_math
from tasks.base import Task


def boxed_response(solution: str | None, answer: str) -> tuple[str, str]:
    """An oracle response: the dataset's own solution when its last box already holds the
    answer (so last-box extraction is really exercised), else the solution (or nothing)
    followed by a boxed final answer. Returns (response, how it was built)."""
    if solution and solution.strip():
        box = last_boxed(solution)
        if box is not None and normalize_string(box) == normalize_string(answer):
            return solution, "solution"
        return f"{solution.rstrip()}\n\nThe final answer is $\\boxed{{{answer}}}$.", "solution+box"
    return f"The final answer is $\\boxed{{{answer}}}$.", "box"


class MathTask(Task):
    """Free-form math answer graded by math-verify equivalence against ``Problem.reference``."""

    domain = "math"

    async def score(self, problem: Problem, response: str, ctx: ScoringContext) -> Score:
        try:
            return await score_math(response or "", str(problem.reference), ctx)
        except Exception as exc:  # noqa: BLE001 - scoring must never abort a run
            return Score(False, None, f"scoring error: {type(exc).__name__}: {exc}")
