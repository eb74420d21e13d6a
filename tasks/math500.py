"""MATH-500 (Lightman et al.'s PRM800K test split of MATH), answers graded by math-verify."""

from __future__ import annotations

from typing import Any

from harness.problem import Problem
from tasks.common import MathTask, boxed_response


class Math500(MathTask):
    name = "math500"
    hf_path = "HuggingFaceH4/MATH-500"
    hf_split = "test"
    local_file = "math500.jsonl"

    def to_problem(self, record: dict[str, Any], index: int) -> Problem:
        answer = str(record["answer"])
        response, how = boxed_response(record.get("solution"), answer)
        return Problem(
            id=str(record.get("unique_id") or index),
            prompt=str(record["problem"]),
            domain=self.domain,
            reference=answer,
            reference_response=response,
            meta={
                "subject": record.get("subject"),
                "level": record.get("level"),
                "oracle_source": how,
            },
        )
