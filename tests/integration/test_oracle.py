"""model=oracle integrity check: every benchmark whose data is present scores 100% on its
full set when each problem is answered with its own ``reference_response``, through the real
scorers (math-verify in the real process pool, code in the real sandbox).

Data: ``$HARNESS_DATA_DIR``, else ``../shared/benchmarks`` beside the repository.
CommonGen-Hard has no reference text: its oracle response is a synthetic sentence listing
every concept (tasks/commongen.py), so this checks loading and coverage scoring only.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from tasks import get_task
from tasks.base import Problem, Score, ScoringContext

DATA_DIR = Path(
    os.environ.get("HARNESS_DATA_DIR") or Path(__file__).parents[2].parent / "shared/benchmarks"
)

# (task, benchmark overrides, data file, expected problem count or None)
CASES = [
    ("math500", {}, "math500.jsonl", 500),
    ("aime2024", {}, "aime2024.jsonl", 30),
    ("aime2025", {}, "aime2025.jsonl", 30),
    ("humaneval", {}, "humaneval.jsonl", 164),
    ("mbpp_sanitized", {"split": "all"}, "mbpp_sanitized.jsonl", 427),
    ("scibench", {}, "scibench.jsonl", None),
    ("commongen_hard", {}, "commongen_hard.jsonl", None),
    ("gpqa_diamond", {}, "gpqa_diamond.jsonl", None),
    ("humaneval_plus", {}, "humaneval_plus.jsonl", None),
    ("mbpp_plus", {}, "mbpp_plus.jsonl", None),
]


@pytest.fixture(scope="module")
def data_dir() -> Path:
    os.environ["HARNESS_DATA_DIR"] = str(DATA_DIR)
    return DATA_DIR


async def _score_all(task, problems: list[Problem], ctx: ScoringContext) -> list[Score]:
    return await asyncio.gather(*(task.score(p, p.reference_response, ctx) for p in problems))


@pytest.mark.parametrize(("name", "overrides", "file", "count"), CASES, ids=[c[0] for c in CASES])
def test_oracle_scores_100_percent(data_dir: Path, name, overrides, file, count) -> None:
    if not (data_dir / file).exists():
        pytest.skip(f"no {file} in {data_dir}")
    task = get_task({"name": name, "task": name, "data_files": None, **overrides})
    problems = task.load()
    if count is not None:
        assert len(problems) == count
    if task.domain == "code":
        pytest.importorskip("harness.sandbox", reason="the sandbox is not available")
    ctx = ScoringContext({"workers": 2, "timeout_s": 5})
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
    if name == "mbpp_sanitized":  # the default split is the 257-problem test split
        test_ids = {p.id for p in get_task({"task": name, "split": "test"}).load()}
        assert len(test_ids) == 257 and test_ids <= {p.id for p in problems}
