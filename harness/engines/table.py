"""Engines that answer from a table instead of a model: ``oracle`` and ``replay``.

They are features, not mocks: the oracle answers each problem with the benchmark's reference
solution (an end-to-end integrity check of data, extraction, scoring and sandbox that must
score 100%), and replay re-scores responses produced elsewhere. Other roles of a multi-agent
system get well-formed canned answers (agree, correct, …) so the protocol runs through.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.engines.base import Completion, Engine, Request
from harness.errors import DataError
from harness.roles import SOLVER, canned_response


class TableEngine(Engine):
    def __init__(self, answers: dict[str, str], domains: dict[str, str], max_concurrency: int = 64):
        super().__init__(max_concurrency)
        self.answers = answers
        self.domains = domains
        self.missing: set[str] = set()  # problems asked for that the table has no answer to

    async def _generate(self, request: Request) -> Completion:
        pid = request.problem_id or ""
        if request.role != SOLVER:
            return Completion(canned_response(request.role, self.domains.get(pid, "math")))
        answer = self.answer_for(pid, request.repeat)
        if answer is None:
            self.missing.add(pid)
            return Completion("", finish_reason="missing", error=f"no answer for id {pid!r}")
        return Completion(answer)

    def answer_for(self, problem_id: str, repeat: int) -> str | None:
        return self.answers.get(problem_id)


class OracleEngine(TableEngine):
    name = "oracle"

    @classmethod
    def for_problems(
        cls, problems: list[Any], max_concurrency: int = 64, pose: Any = None
    ) -> OracleEngine:
        """``pose(problem, repeat)`` re-poses a problem for a repeat (GPQA reshuffles its
        choices per repeat when asked), so the oracle answers the question actually asked."""
        engine = cls(
            {p.id: p.reference_response for p in problems},
            {p.id: p.domain for p in problems},
            max_concurrency,
        )
        engine.problems = {p.id: p for p in problems}
        engine.pose = pose
        return engine

    def answer_for(self, problem_id: str, repeat: int) -> str | None:
        if self.pose is None or repeat == 0 or problem_id not in self.problems:
            return super().answer_for(problem_id, repeat)
        return self.pose(self.problems[problem_id], repeat).reference_response


class ReplayEngine(TableEngine):
    name = "replay"

    @classmethod
    def from_file(cls, path: str, problems: list[Any], max_concurrency: int = 64) -> ReplayEngine:
        file = Path(path)
        if not file.is_file():
            raise DataError(f"replay file not found: {path} (model.path must be a JSONL file)")
        answers: dict[str, str] = {}
        with file.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    answers[str(row["id"])] = str(row["response"])
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    raise DataError(
                        f'{path}:{n}: each line must be {{"id": ..., "response": ...}} ({exc})'
                    ) from exc
        engine = cls(answers, {p.id: p.domain for p in problems}, max_concurrency)
        known = {p.id for p in problems}
        engine.unknown_ids = sorted(set(answers) - known)
        return engine
