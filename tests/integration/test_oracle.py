"""model=oracle integrity check for the benchmarks without shared data (GPQA-Diamond,
HumanEval+, MBPP+): each problem answered with its own ``reference_response`` scores 100%
through the real scorers (the real sandbox for code). The shared benchmarks are checked end to
end through the CLI in test_cli.py (MATH-500 by the contract checks of ../shared)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from harness.problem import Problem, Score
from harness.scoring.context import ScoringContext
from tests.settings_helper import scoring_context, task_for

DATA_DIR = Path(
    os.environ.get("HARNESS_DATA_DIR") or Path(__file__).parents[2].parent / "shared/benchmarks"
)

FIXTURES = Path(__file__).parents[1] / "fixtures"

# The shared benchmarks run end to end through the CLI (tests/integration/test_cli.py). These
# are the benchmarks whose data is not shared here: their full sets when a data folder has
# them, else the made-up fixtures of the same schema.
# (task, benchmark overrides, data file, fixture, expected problem count or None)
CASES = [
    ("gpqa_diamond", {}, "gpqa_diamond.jsonl", "gpqa_diamond.jsonl", 198),
    ("humaneval_plus", {}, "humaneval_plus.jsonl", "evalplus/humaneval_plus_mini.jsonl", 164),
    ("mbpp_plus", {}, "mbpp_plus.jsonl", "evalplus/mbpp_plus_mini.jsonl", None),
]


@pytest.fixture(scope="module")
def data_dir() -> Path:
    os.environ["HARNESS_DATA_DIR"] = str(DATA_DIR)
    return DATA_DIR


async def _score_all(task, problems: list[Problem], ctx: ScoringContext) -> list[Score]:
    return await asyncio.gather(*(task.score(p, p.reference_response, ctx) for p in problems))


@pytest.mark.parametrize(
    ("name", "overrides", "file", "fixture", "count"), CASES, ids=[c[0] for c in CASES]
)
def test_oracle_scores_100_percent(data_dir: Path, name, overrides, file, fixture, count) -> None:
    full = (data_dir / file).exists()
    data_files = None if full else str(FIXTURES / fixture)
    task = task_for(name, data_files=data_files, **overrides)
    problems = task.load()
    if full and count is not None:
        assert len(problems) == count
    ctx = scoring_context(workers=2, timeout_s=5)
    start = time.perf_counter()
    try:
        scores = asyncio.run(_score_all(task, problems, ctx))
    finally:
        ctx.close()
    wall = time.perf_counter() - start
    failed = [
        (p.id, s.answer, s.reason) for p, s in zip(problems, scores, strict=True) if not s.correct
    ]
    print(f"\n{name}: {len(problems) - len(failed)}/{len(problems)} in {wall:.1f}s")
    assert not failed, f"{len(failed)} oracle failures, first: {failed[:5]}"
