"""Scoring throughput on MATH-500 (prints figures; no timed assertions).

    .venv/bin/python tests/benchmarks/bench_scoring.py [--workers 2]

1. oracle path: every reference solution scored by Math500.score (last-box extraction, then
   the string shortcut or math-verify in the process pool), as ``model=oracle`` does;
2. math-verify path: every extracted answer checked by math-verify in the pool with the string
   shortcut disabled (the cost a real model's differently-written answers pay);
3. the same for rewritten answers (``\\displaystyle``, ``\\dfrac``) through the full scorer;
4. the math-verify checks of 2. queued behind two checks that never end (each killed when it
   has used ``--timeout`` CPU seconds, its worker replaced).
Target: all 500 in under 30 s on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from harness.scoring.extract import last_boxed  # noqa: E402
from harness.scoring.math_equiv import _worker  # noqa: E402
from tests.settings_helper import scoring_context, task_for  # noqa: E402

DATA = REPO.parent / "shared" / "benchmarks"


def perturb(answer: str) -> str:
    # \displaystyle defeats the string shortcut, so every answer goes to math-verify.
    return "\\displaystyle " + answer.replace("\\frac", "\\dfrac")


async def main(workers: int, timeout_s: float) -> None:
    os.environ.setdefault("HARNESS_DATA_DIR", str(DATA))
    task = task_for("math500")
    problems = task.load()
    ctx = scoring_context(workers=workers, timeout_s=timeout_s)
    try:
        t0 = time.perf_counter()
        await task.score(problems[0], "\\boxed{\\frac{1}{7}}", ctx)  # start the pool workers
        warm = time.perf_counter() - t0

        t0 = time.perf_counter()
        scores = await asyncio.gather(*(task.score(p, p.reference_response, ctx) for p in problems))
        t_oracle = time.perf_counter() - t0

        pool = ctx.pool()
        t0 = time.perf_counter()
        verdicts = await asyncio.gather(
            *(pool.call(_worker, last_boxed(p.reference_response), p.reference, False)
              for p in problems)
        )  # fmt: skip
        t_mv = time.perf_counter() - t0

        # The same 500 checks queued behind two that never end (killed at scoring.timeout_s):
        # the time until the 500 are done, and until the two hung ones were stopped.
        t0 = time.perf_counter()
        hung_calls = [pool.call(eval, "sum(1 for _ in iter(int, 1))"), pool.call(time.sleep, 3600)]
        hung_tasks = [asyncio.ensure_future(c) for c in hung_calls]
        behind = await asyncio.gather(
            *(pool.call(_worker, last_boxed(p.reference_response), p.reference, False)
              for p in problems)
        )  # fmt: skip
        t_behind = time.perf_counter() - t0
        hung = await asyncio.gather(*hung_tasks, return_exceptions=True)
        t_hung = time.perf_counter() - t0

        t0 = time.perf_counter()
        perturbed = await asyncio.gather(
            *(task.score(p, f"\\boxed{{{perturb(p.reference)}}}", ctx) for p in problems)
        )
        t_pert = time.perf_counter() - t0
    finally:
        ctx.close()

    n = len(problems)
    print(f"MATH-500 scoring, {workers} pool workers, {os.cpu_count()} cores")
    print(f"  pool start-up                    {warm:6.2f} s")
    print(
        f"  oracle (scorer, shortcut on)     {t_oracle:6.2f} s  {n / t_oracle:8.1f} /s  "
        f"correct {sum(s.correct for s in scores)}/{n}"
    )
    print(
        f"  math-verify only (shortcut off)  {t_mv:6.2f} s  {n / t_mv:8.1f} /s  "
        f"correct {sum(v for v, _ in verdicts)}/{n}"
    )
    print(
        f"  perturbed answers (scorer)       {t_pert:6.2f} s  {n / t_pert:8.1f} /s  "
        f"correct {sum(s.correct for s in perturbed)}/{n}"
    )
    print(
        f"  behind 2 hung checks             {t_behind:6.2f} s  {n / t_behind:8.1f} /s  "
        f"correct {sum(v[0] for v in behind)}/{n}; the hung ones stopped after {t_hung:.1f} s "
        f"({', '.join(type(r).__name__ for r in hung)}; limit {timeout_s:g} s CPU)"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=5.0, help="scoring.timeout_s (CPU s)")
    args = ap.parse_args()
    asyncio.run(main(args.workers, args.timeout))
