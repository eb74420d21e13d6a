"""Math answer extraction and equivalence on the hard cases (math-verify underneath)."""

from __future__ import annotations

import asyncio

import pytest

from harness.scoring.extract import all_boxed, extract_math, last_boxed, strip_thinking
from harness.scoring.math_equiv import is_equivalent, math_equal
from tests.settings_helper import scoring_context

EQUIVALENT = [
    # fractions vs decimals, \dfrac, shorthand
    ("0.5", "\\frac{1}{2}"),
    ("\\dfrac{1}{2}", "\\frac{1}{2}"),
    ("\\dfrac12", "\\frac{1}{2}"),
    ("\\tfrac{3}{4}", "0.75"),
    ("1/2", "\\frac12"),
    # roots
    ("2\\sqrt{2}", "\\sqrt{8}"),
    ("\\sqrt2", "\\sqrt{2}"),
    ("\\frac{\\sqrt3}{2}", "\\frac{\\sqrt{3}}{2}"),
    # intervals, sets, tuples
    ("[2, 5)", "[2,5)"),
    ("(-\\infty, 3]", "(-\\infty,3]"),
    ("\\{2, 1\\}", "\\{1,2\\}"),
    ("3, 1, 2", "1,2,3"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi/2)"),
    # matrices
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
    (
        "\\begin{pmatrix} 0.5 & 0 \\\\ 0 & 1 \\end{pmatrix}",
        "\\begin{pmatrix} \\frac{1}{2} & 0 \\\\ 0 & 1 \\end{pmatrix}",
    ),
    # percentages
    ("50\\%", "50"),
    ("50", "50\\%"),
    ("12.5\\%", "12.5"),
    # units (MATH-500's three unit answers, and \text{} units)
    ("864", "864 \\mbox{ inches}^2"),
    ("864 \\text{ square inches}", "864 \\mbox{ inches}^2"),
    ("15", "15\\mbox{ cm}^2"),
    ("\\text{5 inches}", "5"),
    ("10 \\text{ dollars}", "10"),
    ("\\$10", "10"),
    # degrees
    ("90", "90^\\circ"),
    ("90^{\\circ}", "90^\\circ"),
    ("90°", "90"),
    # \text{} wrappers
    ("\\text{(C)}", "C"),
    ("\\textbf{(C)}", "\\text{(C)}"),
    ("Evelyn", "\\text{Evelyn}"),
    # trailing periods, equations, thousands separators
    ("5.", "5"),
    ("x = 5", "5"),
    ("1{,}000", "1000"),
    ("1,000", "1000"),
    # symbolic
    ("p - q", "p-q"),
    ("x^2+2x+1", "(x+1)^2"),
]

NOT_EQUIVALENT = [
    ("\\frac{1}{3}", "\\frac{1}{2}"),
    ("0.33", "\\frac{1}{3}"),
    ("[2, 5]", "[2,5)"),
    ("\\{1, 2, 3\\}", "\\{1,2\\}"),
    ("\\begin{pmatrix} 1 \\\\ 3 \\end{pmatrix}", "\\begin{pmatrix}1\\\\2\\end{pmatrix}"),
    ("91^\\circ", "90^\\circ"),
    ("\\text{(B)}", "\\text{(C)}"),
    ("865", "864 \\mbox{ inches}^2"),
    ("x^2+1", "(x+1)^2"),
    ("\\frac{1}{", "\\frac{1}{2}"),
]


@pytest.mark.parametrize(("pred", "gold"), EQUIVALENT)
def test_equivalent(pred: str, gold: str) -> None:
    ok, how = is_equivalent(pred, gold)
    assert ok, how


@pytest.mark.parametrize(("pred", "gold"), NOT_EQUIVALENT)
def test_not_equivalent(pred: str, gold: str) -> None:
    ok, how = is_equivalent(pred, gold)
    assert not ok, how


def test_last_box_wins_and_braces_balance() -> None:
    text = "First $\\boxed{1}$, then $\\boxed{\\frac{a}{b^{2}}}$ and finally \\fbox{\\{1,2\\}}."
    assert all_boxed(text) == ["1", "\\frac{a}{b^{2}}", "\\{1,2\\}"]
    assert last_boxed(text) == "\\{1,2\\}"
    assert last_boxed("so \\boxed 7.") == "7"
    assert last_boxed("\\boxed{unclosed") is None


def test_extraction_fallbacks_are_recorded() -> None:
    ex = extract_math("Many steps. The final answer is $42$.")
    assert (ex.answer, ex.method) == ("42", "final_answer")
    assert "no boxed answer" in (ex.note or "")
    ex = extract_math("Many steps, so the answer is 42.")
    assert (ex.answer, ex.method) == ("42", "answer_is")
    ex = extract_math("I cannot solve this")
    assert ex.answer is None and ex.note == "no boxed answer"


def test_thinking_is_not_graded() -> None:
    assert strip_thinking("<think>\\boxed{1}</think> so \\boxed{2}") == "so \\boxed{2}"
    assert extract_math("<think>\\boxed{1} and more thinking").answer is None


def test_math_equal_runs_in_the_process_pool() -> None:
    async def go() -> list[tuple[bool, str]]:
        ctx = scoring_context(workers=1, timeout_s=5)
        try:
            return await asyncio.gather(
                math_equal("0.5", "\\frac{1}{2}", ctx),
                math_equal("\\frac{1}{3}", "\\frac{1}{2}", ctx),
                math_equal("\\left(", "\\frac{1}{2}", ctx),  # garbage never raises
            )
        finally:
            ctx.close()

    (ok1, how1), (ok2, _), (ok3, _) = asyncio.run(go())
    assert ok1 and how1.startswith("math_verify")
    assert not ok2 and not ok3


def test_a_dead_scoring_worker_does_not_turn_later_answers_wrong() -> None:
    import os
    import signal

    ctx = scoring_context(workers=1)
    try:
        assert asyncio.run(math_equal("1/2", "0.5", ctx))[0]
        for pid in ctx.pool().worker_pids():  # an OOM kill, say
            os.kill(pid, signal.SIGKILL)
        ok, how = asyncio.run(math_equal("\\frac{2}{4}", "0.5", ctx))
        assert ok, how
    finally:
        ctx.close()


HUNG_CHECKS = r"""
import asyncio, json, sys, time
from tests.settings_helper import scoring_context
from harness.scoring.math_equiv import math_equal
from harness.scoring.pool import CheckTimeout

PAIRS = [("0.5", "\\frac{1}{2}"), ("2\\sqrt{2}", "\\sqrt{8}"), ("[2, 5)", "[2,5)"),
         ("x^2+2x+1", "(x+1)^2"), ("\\frac{1}{3}", "\\frac{1}{2}")] * 4

async def main():
    # the blocked check ends at wall_factor x timeout_s = 8 s; a real check needs milliseconds
    # of CPU, so even a starved one stays far inside that
    ctx = scoring_context(workers=2, timeout_s=float(sys.argv[1]), wall_factor=4)
    pool = ctx.pool()
    # Two checks that never end (one computes forever, one blocks), queued first.
    hung = [pool.call(eval, "sum(1 for _ in iter(int, 1))"), pool.call(time.sleep, 3600)]
    checks = [math_equal(a, b, ctx) for a, b in PAIRS]
    results = await asyncio.gather(*hung, *checks, return_exceptions=True)
    print(json.dumps({
        "hung": [type(r).__name__ for r in results[:2]],
        "verdicts": [r[0] for r in results[2:]],
        "hows": [r[1] for r in results[2:]],
    }))
    if sys.argv[2] == "leave-hung":
        # A hung check still running when the program ends must not keep the process alive.
        pool.call(time.sleep, 3600)
        pool.call(eval, "sum(1 for _ in iter(int, 1))")
        await asyncio.sleep(1)
        return
    ctx.close()

asyncio.run(main())
"""


@pytest.mark.parametrize("ending", [pytest.param("close", marks=pytest.mark.slow), "leave-hung"])
def test_checks_queued_behind_hung_checks_score_correctly_and_the_process_exits(ending) -> None:
    """Run in a subprocess: its exit is part of what is tested. The only time bound is a
    generous "did not hang" one; the verdicts must not depend on how busy the machine is."""
    import json
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", HUNG_CHECKS, "2", ending],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["hung"] == ["CheckTimeout", "CheckTimeout"]
    assert out["verdicts"] == [True, True, True, True, False] * 4, out["hows"]
    assert not any("timed out" in h for h in out["hows"])
    assert elapsed < 300, f"the process took {elapsed:.0f}s to finish"


def test_closing_the_context_ends_its_workers() -> None:
    """One process runs many sweep points: each point's pool must be gone when it closes."""
    import os

    pids = []
    for _ in range(2):  # two points of a sweep
        ctx = scoring_context(workers=2)
        assert asyncio.run(math_equal("1/2", "0.5", ctx))[0]
        pids += ctx.pool().worker_pids()
        ctx.close()
    assert pids
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


KILLED_MID_CHECK = r"""
import asyncio, os
from tests.settings_helper import scoring_context

async def main():
    ctx = scoring_context(workers=1, timeout_s=1000)
    hung = asyncio.ensure_future(ctx.pool().call(eval, "sum(1 for _ in iter(int, 1))"))
    while not ctx.pool().worker_pids():
        await asyncio.sleep(0.1)
    print(ctx.pool().worker_pids()[0], flush=True)
    await asyncio.sleep(1)
    os.kill(os.getpid(), 9)  # no cleanup runs

asyncio.run(main())
"""


def test_a_harness_killed_mid_check_leaves_no_scoring_worker() -> None:
    import subprocess
    import sys
    import time
    from pathlib import Path

    from harness.scoring.pool import process_identity

    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_MID_CHECK],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    pid = int(proc.stdout.readline())
    worker = process_identity(pid)

    def running() -> bool:  # the same process, and not a zombie waiting to be reaped
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return process_identity(pid) == worker and state != "Z"

    assert proc.wait(timeout=120) == -9
    deadline = time.monotonic() + 60  # "did not live on", not a speed bound
    while running() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not running(), "the worker outlived the harness"
