"""Code tasks: extract the fenced solution, build a test program, run it in the sandbox."""

from __future__ import annotations

from typing import Any

from harness.cfgutil import cfg_get
from harness.problem import Problem, Score
from harness.scoring.context import ScoringContext
from harness.scoring.extract import extract_code
from harness.scoring.scorers import run_tests
from tasks.base import Task


def fenced(code: str) -> str:
    return f"```python\n{code.rstrip()}\n```"


class CodeTask(Task):
    """Subclasses implement :meth:`program` (solution code → complete test program)."""

    domain = "code"

    def program(self, problem: Problem, code: str) -> str:
        raise NotImplementedError

    def extract(self, problem: Problem, response: str) -> tuple[str | None, str, str | None]:
        ex = extract_code(response or "", problem.entry_point)
        return ex.answer, ex.method, ex.note

    async def score(self, problem: Problem, response: str, ctx: ScoringContext) -> Score:
        try:
            code, method, note = self.extract(problem, response)
            details: dict[str, Any] = {"extraction": method}
            if code is None or not code.strip():
                return Score(False, None, note or "no code block", details)
            timeout = cfg_get(self.cfg, "timeout_s")
            ok, reason, run = await run_tests(
                self.program(problem, code), ctx, float(timeout) if timeout else None
            )
            details.update(run)
            return Score(ok, code, reason if not ok else note, details)
        except Exception as exc:  # noqa: BLE001 - scoring must never abort a run
            return Score(False, None, f"scoring error: {type(exc).__name__}: {exc}")
