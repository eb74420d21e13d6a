"""Code tasks: extract the fenced solution, run it and the hidden tests in the sandbox.

Grading is the sandbox's grading mode: the solution runs first, then the hidden tests, whose
assertions compare plain copies of the results (an object that claims to equal everything does
not pass), and a pass needs the sandbox's evidence that every test ran to the end (a solution
that exits early with status 0 does not pass). Time limits come from the reference solution's
measured CPU time (``ScoringContext.code_limits``), so machine load cannot flip a verdict.
"""

from __future__ import annotations

import re
from typing import Any

from harness.problem import Problem, Score
from harness.scoring.context import ScoringContext
from harness.scoring.extract import Extraction, extract_code
from harness.scoring.scorers import no_answer, run_tests
from tasks.base import Task


def fenced(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```"


class CodeTask(Task):
    """Subclasses implement :meth:`program_parts` (solution code → program, hidden tests)."""

    domain = "code"

    def program_parts(self, problem: Problem, code: str) -> tuple[str, str]:
        """(the program: the solution and what it needs, the hidden tests run after it)."""
        raise NotImplementedError

    def completion_prompt(self, problem: Problem) -> str | None:
        """The code a reply that is only the function's body continues (HumanEval's format)."""
        return None

    def extract(self, problem: Problem, response: str) -> Extraction:
        """The one code extractor (``harness.scoring.extract.extract_code``: evalplus's
        sanitizer) for every code task."""
        return extract_code(
            response or "",
            problem.entry_point,
            self.completion_prompt(problem),
            keep=self.test_names(problem),
        )

    def test_names(self, problem: Problem) -> frozenset[str]:
        """Names the hidden tests use (a model's class the tests build must not be dropped)."""
        return frozenset(re.findall(r"[A-Za-z_]\w*", str(problem.reference_text or "")))

    def reference_code(self, problem: Problem) -> str | None:
        return self.extract(problem, problem.reference_response).answer

    async def score(self, problem: Problem, response: str, ctx: ScoringContext) -> Score:
        try:
            ex = self.extract(problem, response)
            code, note = ex.answer, ex.note
            details: dict[str, Any] = {"extraction": ex.method}
            if code is None or not code.strip():
                return no_answer(ex)
            reference = self.reference_code(problem) or ""
            entry = problem.entry_point
            limits = await ctx.code_limits(
                self.name, problem.id, *self.program_parts(problem, reference), entry_point=entry
            )
            program, tests = self.program_parts(problem, code)
            ok, reason, run = await run_tests(program, tests, ctx, limits, entry_point=entry)
            details.update(run)
            return Score(ok, code, reason if not ok else note, details)
        except Exception as exc:  # noqa: BLE001 - scoring must never abort a run
            return Score(False, None, f"scoring error: {type(exc).__name__}: {exc}")
