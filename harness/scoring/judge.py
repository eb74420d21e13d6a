"""Optional LLM judge (``scoring.judge=MODEL``), for those who want the paper's judged numbers.

The original harness graded math with an LLM judge only. Here the symbolic score always decides
``correct``; the judge's verdict is recorded beside it (``judge_correct`` in results.jsonl,
``judge_accuracy`` and its agreement with the symbolic score in summary.json), never instead.
"""

from __future__ import annotations

import re
from typing import Any

from harness.engines.base import Engine, Request, SamplingParams
from harness.problem import Problem
from harness.scoring.settings import ScoringSettings
from harness.text import split_thinking

#: domains with a reference answer a judge can compare against
JUDGED_DOMAINS = ("math", "mc")
_VERDICT = re.compile(r"judge?ment\W*(correct|incorrect|yes|no|1|0)\b", re.I)

PROMPT = """You are grading an answer to a problem against its reference answer.

# Problem
{task}

# Reference answer
{reference}

# Response to grade
{response}

Is the final answer of the response equivalent to the reference answer (ignore formatting, \
units written differently and equivalent forms)? Reply with exactly one line:
Judgement: correct
or
Judgement: incorrect"""


def parse_verdict(text: str) -> bool | None:
    m = _VERDICT.search(split_thinking(text)[1])
    if not m:
        return None
    return m.group(1).lower() in ("correct", "yes", "1")


class Judge:
    def __init__(self, engine: Engine, max_tokens: int = 512) -> None:
        self.engine = engine
        self.max_tokens = max_tokens

    @classmethod
    def from_settings(
        cls, model: Any, scoring: ScoringSettings, problems: list[Problem]
    ) -> Judge | None:
        """The judge whose model settings ``model`` are (RunSettings.judge_model: the model
        config ``scoring.judge`` names, None when unset), answering in ``judge_tokens``."""
        if model is None:
            return None
        from harness.engines import build_engine

        return cls(build_engine(model, problems), scoring.judge_tokens)

    async def start(self) -> None:
        await self.engine.start()

    async def grade(self, problem: Problem, response: str) -> dict[str, Any] | None:
        """The judge's verdict (None when the domain has no reference answer to judge)."""
        if problem.domain not in JUDGED_DOMAINS:
            return None
        prompt = PROMPT.format(task=problem.prompt, reference=problem.reference, response=response)
        request = Request(
            [{"role": "user", "content": prompt}],
            SamplingParams(max_tokens=self.max_tokens),
            problem_id=problem.id,
            role="judge",
        )
        try:
            out = await self.engine.generate(request)
        except Exception as exc:  # a judge failure leaves the symbolic score standing
            return {"correct": None, "error": f"{type(exc).__name__}: {exc}"}
        verdict = parse_verdict(out.text)
        return {
            "correct": verdict,
            "output": out.text[-2000:],
            "completion_tokens": out.completion_tokens,
            "note": None if verdict is not None else "no 'Judgement: correct|incorrect' line",
        }
