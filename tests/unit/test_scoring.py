"""Scorers other than math equivalence, the code path through a sandbox stand-in, and stats."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from harness.sandbox import ExecResult
from harness.scoring.extract import extract_code, extract_letter
from harness.scoring.limits import CodeLimits
from harness.scoring.scorers import (
    concept_coverage,
    parse_integer,
    parse_number,
    score_coverage,
    score_integer,
    score_letter,
    score_numeric,
)
from harness.scoring.stats import accuracy, majority_vote, pass_at_k, pass_at_ks, summarize


def run(coro):
    return asyncio.run(coro)


# -- letters ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("so \\boxed{B}", "B"),
        ("\\boxed{(c)}", "C"),
        ("\\boxed{\\text{D}}", "D"),
        ("\\boxed{A) 42}", "A"),
        ("The answer is (C).", "C"),
        ("<think>\\boxed{A}</think>\\boxed{B}", "B"),
    ],
)
def test_letter_extraction(text: str, letter: str) -> None:
    assert extract_letter(text).answer == letter


def test_letter_scoring() -> None:
    assert run(score_letter("\\boxed{B}", "B")).correct
    s = run(score_letter("\\boxed{E}", "B"))
    assert not s.correct and s.answer is None and "no choice letter" in s.reason
    assert s.details["no_answer"] == "unparseable"
    s = run(score_letter("no idea", "B"))
    assert not s.correct and s.details["no_answer"] == "no_anchor"


# -- integers (AIME) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("025", 25),
        ("25.0", 25),
        ("1{,}000", 1000),
        ("n = 25", 25),
        ("\\text{25}", 25),
        ("25^\\circ", 25),
        ("\\frac{1}{2}", None),
        ("abc", None),
    ],
)
def test_parse_integer(text: str, value: int | None) -> None:
    assert parse_integer(text) == value


def test_integer_scoring() -> None:
    assert run(score_integer("thus \\boxed{025}", 25)).correct
    assert not run(score_integer("\\boxed{24}", 25)).correct
    s = run(score_integer("\\boxed{x}", 25))
    assert not s.correct and "not an integer" in s.reason


# -- numbers (SciBench) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("50.7", 50.7),
        ("+65.49", 65.49),
        ("−2", -2.0),
        ("89,034.79", 89034.79),
        ("1.5 \\times 10^{-3}", 1.5e-3),
        ("3.0e8", 3.0e8),
        ("50.7 \\mathrm{~atm}", 50.7),
        ("\\approx 4.2", 4.2),
        ("x", None),
    ],
)
def test_parse_number(text: str, value: float | None) -> None:
    got = parse_number(text)
    assert got == pytest.approx(value) if value is not None else got is None


def test_numeric_tolerance() -> None:
    assert run(score_numeric("\\boxed{52}", 50.7, 0.05)).correct
    assert not run(score_numeric("\\boxed{60}", 50.7, 0.05)).correct
    assert not run(score_numeric("nothing", 50.7, 0.05)).correct


# -- concept coverage (CommonGen) ------------------------------------------------------------


def test_coverage_allows_inflections() -> None:
    covered, missing = concept_coverage(
        "The dogs ran across the snowy field while a child was throwing balls.",
        ["dog", "run", "field", "throw", "ball", "snow", "cat"],
    )
    assert "dog" in covered and "run" in covered and "throw" in covered and "ball" in covered
    assert missing == ["snow", "cat"] or missing == ["cat"]  # snowy is not an inflection


def test_coverage_score_reports_fraction() -> None:
    s = run(score_coverage("A dog.", ["dog", "cat"]))
    assert not s.correct and s.details["coverage"] == 0.5 and s.details["missing"] == ["cat"]
    assert run(score_coverage("Cats and dogs.", ["dog", "cat"])).correct
    assert not run(score_coverage("", ["dog"])).correct


# -- code extraction and scoring through a sandbox stand-in ----------------------------------


def test_code_extraction_prefers_block_defining_entry_point() -> None:
    text = "```python\ndef f(x):\n    return x\n```\nand a test:\n```python\nassert f(1) == 1\n```"
    assert "def f" in extract_code(text, "f").answer
    assert extract_code("no code here", "f").answer is None
    assert extract_code("def f(x):\n    return 1", "f").method == "raw"


_Result = ExecResult  # the sandbox's own result type, filled in by a stand-in sandbox


class StandInSandbox:
    """Runs a program and its tests in a plain subprocess: only for unit tests of the scoring
    logic (the integration tests use the real sandbox and its grading mode)."""

    async def run(self, program: str, *, tests: str | None = None, cpu_s=None,
                  timeout_s: float | None = None, entry_point=None) -> _Result:  # fmt: skip
        source = program + "\n" + (tests or "")

        def go() -> _Result:
            try:
                p = subprocess.run([sys.executable, "-c", source], capture_output=True,
                                   text=True, timeout=timeout_s or 10)  # fmt: skip
            except subprocess.TimeoutExpired:
                return _Result("timeout")
            return _Result("passed" if p.returncode == 0 else "failed", p.stdout, p.stderr,
                           p.returncode)  # fmt: skip

        return await asyncio.to_thread(go)


class StandInContext:
    async def code_limits(self, benchmark, problem_id, program, tests, entry_point=None):
        return CodeLimits(5.0, 25.0, None)

    def sandbox(self) -> StandInSandbox:
        return StandInSandbox()


def test_code_scoring_with_stand_in_sandbox(tmp_path) -> None:
    from tests.settings_helper import task_for

    rec = {
        "task_id": "Fixture/0",
        "prompt": "from typing import List\n\n\ndef add(xs: List[int]) -> int:\n"
        '    """Sum of xs."""\n',
        "entry_point": "add",
        "canonical_solution": "    return sum(xs)\n",
        "test": "\n\ndef check(candidate):\n    assert candidate([1, 2]) == 3\n",
    }
    task = task_for("humaneval")
    p = task.to_problem(rec, 0)
    ctx = StandInContext()
    assert run(task.score(p, p.reference_response, ctx)).correct
    # the model forgot the import: the prompt's imports still apply
    good = "```python\ndef add(xs: List[int]) -> int:\n    return sum(xs)\n```"
    assert run(task.score(p, good, ctx)).correct
    wrong = "```python\ndef add(xs):\n    return 0\n```"
    s = run(task.score(p, wrong, ctx))
    assert not s.correct and s.reason.startswith("failed")
    # grading uses the entry point, not the last def
    last_def = "```python\ndef add(xs):\n    return sum(xs)\n\ndef helper():\n    return 0\n```"
    assert run(task.score(p, last_def, ctx)).correct
    assert not run(task.score(p, "I don't know", ctx)).correct


# -- statistics ------------------------------------------------------------------------------


def rows(spec: dict[str, list[int]], answers: dict[str, list[str]] | None = None) -> list[dict]:
    out = []
    for pid, cs in spec.items():
        for r, c in enumerate(cs):
            a = answers[pid][r] if answers else None
            out.append({"id": pid, "repeat": r, "correct": bool(c), "answer": a})
    return out


def test_accuracy_plain_binomial_stderr() -> None:
    res = accuracy(rows({"a": [1], "b": [0], "c": [1], "d": [1]}))
    assert res["n"] == 4 and res["accuracy"] == 0.75
    assert res["stderr"] == pytest.approx((0.75 * 0.25 / 3) ** 0.5)


def test_accuracy_clustered_is_wider_for_correlated_repeats() -> None:
    same = rows({"a": [1, 1, 1], "b": [0, 0, 0], "c": [1, 1, 1], "d": [0, 0, 0]})
    flat = rows({str(i): [c] for i, c in enumerate([1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0])})
    assert accuracy(same)["accuracy"] == accuracy(flat)["accuracy"] == 0.5
    assert accuracy(same)["stderr"] > accuracy(flat)["stderr"]
    assert accuracy([])["n"] == 0


def test_pass_at_k_matches_the_combinatorial_formula() -> None:
    from math import comb

    for n, c, k in [(10, 3, 1), (10, 3, 5), (5, 0, 2), (5, 5, 5), (20, 7, 10)]:
        expected = 1 - comb(n - c, k) / comb(n, k)
        assert pass_at_k(n, c, k) == pytest.approx(expected)
    res = pass_at_ks(rows({"a": [1, 0, 0, 0, 0], "b": [0] * 5}), ks=(1, 5, 10))
    assert res == {"pass@1": pytest.approx(0.1), "pass@5": pytest.approx(0.5)}


def test_commongen_summary_reports_mean_coverage_beside_accuracy() -> None:
    r = [
        {"id": "a", "repeat": 0, "correct": True, "answer": "x", "score_details": {"coverage": 1.0}},
        {"id": "b", "repeat": 0, "correct": False, "answer": "y",
         "score_details": {"coverage": 0.5}},
        {"id": "c", "repeat": 0, "correct": False, "answer": None,
         "score_details": {"coverage": 0.0}},
    ]  # fmt: skip
    s = summarize(r, domain="text")
    assert s["accuracy"] == pytest.approx(1 / 3) and s["coverage_mean"] == pytest.approx(0.5)
    assert s["coverage_stderr"] == pytest.approx(0.5 / 3**0.5)
    assert "coverage_mean" not in summarize(r, domain="math")
    undecided = [{**r[1], "score_details": {"scoring_error": True}}]
    assert summarize(undecided, domain="math")["scoring_errors"] == 1


def test_majority_vote_and_summary() -> None:
    r = rows({"a": [0, 1, 1], "b": [1, 0, 0]}, {"a": ["3", "4", "4"], "b": ["1", "2", "2"]})
    assert majority_vote(r)["majority_accuracy"] == 0.5
    s = summarize(r, domain="math")
    assert s["n"] == 6 and s["n_problems"] == 2 and s["repeats"] == 3
    assert "majority_accuracy" in s
    s = summarize(rows({"a": [1, 0], "b": [0, 0]}), domain="code")
    assert s["pass@1"] == pytest.approx(0.25) and "majority_accuracy" not in s
    assert summarize(rows({"a": [1]}))["n"] == 1
