"""CommonGen-Hard: one coherent text using all 20-30 given concepts.

Graded as AgentVerse and Self-Refine measured it: correct iff every concept appears (any
inflection counts); the coverage fraction is reported in ``Score.details``.

There is no reference text in the data. The oracle response is therefore a plain sentence
that lists every concept: it checks loading and coverage scoring, not text quality.
"""

from __future__ import annotations

from typing import Any

from harness.errors import DataError
from harness.problem import Problem, Score
from harness.scoring.context import ScoringContext
from harness.scoring.scorers import score_coverage
from tasks.base import Task


class CommonGenHard(Task):
    name = "commongen_hard"
    domain = "text"
    hf_path = None  # not on the hub in this form: AgentVerse ships it as a JSONL file
    local_file = "commongen_hard.jsonl"

    def load_hub(self) -> list[dict[str, Any]]:
        raise DataError(
            "CommonGen-Hard has no copy on the Hugging Face hub: download "
            "data/commongen/commongen_hard.jsonl from https://github.com/OpenBMB/AgentVerse "
            '(200 lines, each {"concepts": [20-30 strings]}) and set benchmark.data_files=PATH '
            "(or put it in HARNESS_DATA_DIR)"
        )

    def to_problem(self, record: dict[str, Any], index: int) -> Problem:
        if not isinstance(record["concepts"], list) or not record["concepts"]:
            raise ValueError("'concepts' must be a non-empty list of strings")
        concepts = [str(c) for c in record["concepts"]]
        # AgentVerse's task wording.
        prompt = (
            "Generate a coherent and grammatically correct paragraph containing all of the "
            f"following concepts: {', '.join(concepts)}"
        )
        oracle = f"This paragraph mentions {', '.join(concepts[:-1])} and {concepts[-1]}."
        return Problem(
            id=str(index),
            prompt=prompt,
            domain=self.domain,
            reference=concepts,
            reference_response=oracle,
            meta={"n_concepts": len(concepts), "oracle_note": "synthetic: lists every concept"},
        )

    async def score(self, problem: Problem, response: str, ctx: ScoringContext) -> Score:
        try:
            return await score_coverage(response or "", list(problem.reference))
        except Exception as exc:  # noqa: BLE001 - scoring must never abort a run
            return Score(False, None, f"scoring error: {type(exc).__name__}: {exc}")
