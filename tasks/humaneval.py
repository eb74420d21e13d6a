"""HumanEval (164): graded on the dataset's ``entry_point`` with its own ``check``."""

from __future__ import annotations

from typing import Any

from harness.problem import Problem
from tasks.code import CodeTask, fenced


class HumanEval(CodeTask):
    name = "humaneval"
    hf_path = "openai/openai_humaneval"
    hf_split = "test"
    local_file = "humaneval.jsonl"

    def to_problem(self, record: dict[str, Any], index: int) -> Problem:
        prompt = str(record["prompt"])
        return Problem(
            id=str(record["task_id"]),
            prompt=prompt,  # signature + docstring only; `test` is never shown
            domain=self.domain,
            reference={"test": record["test"], "prompt": prompt},
            reference_text=str(record["test"]),
            reference_response=fenced(prompt + record["canonical_solution"]),
            entry_point=str(record["entry_point"]),
        )

    def completion_prompt(self, problem: Problem) -> str | None:
        return str(problem.reference["prompt"])

    def program_parts(self, problem: Problem, code: str) -> tuple[str, str]:
        # The prompt goes first so its imports and helper functions (HumanEval/10's
        # is_palindrome, /38's encode_cyclic) exist even when the model omits them; the
        # model's own definition of the entry point comes later and replaces the stub.
        ref = problem.reference
        program = f"{ref['prompt']}\n    pass\n\n{code}\n"
        return program, f"{ref['test']}\ncheck({problem.entry_point})\n"
