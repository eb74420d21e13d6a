"""The failure classes of issue 16, one test each: what must be credited and what must not,
for multiple choice, code and math; and the no-answer cause from extractor to summary, viewer
and report."""

from __future__ import annotations

import asyncio

import pytest

from harness.problem import Score
from harness.scoring.extract import (
    EMPTY,
    NO_ANCHOR,
    SEVERAL,
    UNPARSEABLE,
    extract_code,
    extract_letter,
    extract_math,
)
from harness.scoring.math_equiv import is_equivalent
from harness.scoring.scorers import score_letter
from tests.settings_helper import scoring_context

CHOICES = ["2-methylbutane", "butane", "ethane", "2-methylpropane"]


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        # 1. only the letter, or beginning with it
        ("B", "B"),
        ("(C)", "C"),
        ("B) Because the ester is hydrolysed first, the acid forms.", "B"),
        ("D. It cannot be A or B.", "D"),
        ("A lot of reasoning.\n\n**C**", "C"),
        # 2. the letter not directly after the anchor
        ("The answer is most likely A", "A"),
        ('Answer: "B".', "B"),
        ("Long paragraph about kinetics.\n\nFinal answer - (C)", "C"),
        ("The correct answer is clearly (D), not (A).", "D"),
        ("Option B is correct.", "B"),
        # 3. other languages, scripts and full-width letters
        ("Réponse : D", "D"),
        ("答案：C", "C"),
        ("Antwort: A", "A"),
        ("الإجابة: ب", "B"),
        ("উত্তর: ঢ", "D"),
        ("Answer: Ｂ", "B"),
        ("答え：Ａ", "A"),
        # 4. markup around the letter
        ("Answer: $D$", "D"),
        ("Answer: $\\text{A}$", "A"),
        ("The answer is \\(\\mathbf{B}\\)", "B"),
        ("**Answer:** **C**", "C"),
        ("$\\boxed{\\textbf{B}}$", "B"),
        ("\\boxed{(c)}", "C"),
    ],
)  # fmt: skip
def test_letters_credited(text: str, letter: str) -> None:
    ex = extract_letter(text)
    assert ex.answer == letter, ex


def test_choice_text_without_letter_is_credited() -> None:
    # 5. only the text of one choice (lm-eval's GPQA fallback)
    ex = extract_letter("So the product is 2-methylpropane.", choices=CHOICES)
    assert (ex.answer, ex.method) == ("D", "choice_text")
    # a choice contained in a longer stated one counts once: "butane" in "2-methylbutane"
    assert extract_letter("The answer is 2-methylbutane", choices=CHOICES).answer == "A"
    got = asyncio.run(score_letter("It is ethane.", "C", choices=CHOICES))
    assert got.correct and got.answer == "C"


@pytest.mark.parametrize(
    "text",
    [
        # 6. two letters, or a hedge at the end: never credited
        "ANSWER: B, D",
        "The answer is B or D.",
        "Final answer: (A) and (C)",
        "The answer is either B or C.",
        "\\boxed{B, D}",
        "I'm torn between B and C.",
        "Answer: ethane or butane",
    ],
)
def test_hedges_are_not_credited(text: str) -> None:
    ex = extract_letter(text, choices=CHOICES)
    assert ex.answer is None and ex.cause == SEVERAL, ex


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("A possible approach is to compare the boiling points.", NO_ANCHOR),
        ("It's not A.", NO_ANCHOR),
        ("A) 2-methylbutane\nB) butane\nC) ethane\nD) propane\nLet me think.", NO_ANCHOR),
        ("\\boxed{E}", UNPARSEABLE),
        ("Answer: none of them", UNPARSEABLE),
        ("<think>B</think>", EMPTY),
    ],
)
def test_letters_not_read_have_a_cause(text: str, cause: str) -> None:
    ex = extract_letter(text)
    assert ex.answer is None and ex.cause == cause, ex


def test_the_last_statement_wins() -> None:
    assert extract_letter("\\boxed{A}\n\nOn reflection, the answer is C.").answer == "C"
    assert extract_letter("The answer is C. Eliminated: (A), (B), (D).").answer == "C"


# -- code ------------------------------------------------------------------------------------

PROMPT = 'def add(a: int, b: int) -> int:\n    """Sum of a and b."""\n'


def test_body_only_completion_gets_the_prompt_in_front() -> None:
    # 1. HumanEval's completion format
    for reply in ("    return a + b\n", "```python\n    total = a + b\n    return total\n```"):
        ex = extract_code(reply, "add", PROMPT)
        assert ex.method == "completion" and ex.answer.startswith("def add(a: int, b: int)")
        namespace: dict = {}
        exec(compile(ex.answer, "<solution>", "exec"), namespace)  # noqa: S102 - our own text
        assert namespace["add"](2, 3) == 5


def test_trailing_code_that_fails_is_dropped() -> None:
    # 2. a __main__ block reading stdin, top-level prints, the model's own failing asserts
    reply = (
        "```python\nimport math\n\ndef add(a, b):\n    return a + b\n\n"
        "print(add(1, 2))\nassert add(1, 1) == 3\n"
        "if __name__ == '__main__':\n    a, b = map(int, input().split())\n    print(add(a, b))\n```"
    )
    code = extract_code(reply, "add").answer
    assert code == "import math\ndef add(a, b):\n    return a + b"
    exec(compile(code, "<solution>", "exec"), {})  # noqa: S102 - runs without stdin now


def test_unfenced_code_mixed_with_prose() -> None:
    # 3. evalplus takes the longest run of lines that parses
    reply = "Sure, here is my solution:\ndef add(a, b):\n    return a + b\nThis adds the numbers."
    assert extract_code(reply, "add").answer == "def add(a, b):\n    return a + b"


def test_duplicate_definitions_follow_evalplus() -> None:
    # 4. evalplus's sanitizer keeps the first definition of a name
    reply = "```python\ndef add(a, b):\n    return a - b\n\ndef add(a, b):\n    return a + b\n```"
    assert extract_code(reply, "add").answer == "def add(a, b):\n    return a - b"


def test_code_helpers_the_tests_use_are_kept() -> None:
    reply = "```python\nclass Pair:\n    def __init__(self, a):\n        self.a = a\n\n" \
            "def first(p):\n    return p.a\n```"  # fmt: skip
    assert "class Pair" not in extract_code(reply, "first").answer
    assert "class Pair" in extract_code(reply, "first", keep={"Pair", "first"}).answer


def test_a_generator_entry_point_or_helper_is_not_dropped() -> None:
    # evalplus skips functions without a return: a generator must survive, prints must not
    reply = "```python\ndef evens(n):\n    for i in range(n):\n        yield 2 * i\n\nprint(1)\n```"
    assert extract_code(reply, "evens").answer == "def evens(n):\n    for i in range(n):\n" \
        "        yield 2 * i"  # fmt: skip
    helper = "```python\ndef gen(n):\n    yield n\n\ndef f(n):\n    return list(gen(n))\n" \
        "\nassert f(1) == [2]\n```"  # fmt: skip
    code = extract_code(helper, "f").answer
    assert "def gen" in code and "assert" not in code


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("I am not sure how to do this.", NO_ANCHOR),
        ("```python\ndef add(a, b)\n    return a + b\n```", UNPARSEABLE),
        ("", EMPTY),
    ],
)
def test_code_not_read_has_a_cause(text: str, cause: str) -> None:
    ex = extract_code(text, "add")
    assert ex.answer is None and ex.cause == cause, ex


# -- math ------------------------------------------------------------------------------------


def test_flood_of_boxes_is_not_joined() -> None:
    # 1. boxes on separate lines, or more than a handful in a row, are not one answer
    flood = "\n".join(f"Step {i}: $\\boxed{{{i}}}$" for i in range(200)) + "\nSo $\\boxed{42}$"
    assert extract_math(flood).answer == "42"
    same_line = ", ".join(f"\\boxed{{{i}}}" for i in range(40))
    assert extract_math(same_line).answer == "39"
    assert extract_math("\\boxed{7}\\boxed{7}\\boxed{7}").answer == "7"
    # … while adjacent boxes that form one answer still are
    assert extract_math("$\\boxed{-2} \\quad\\text{and}\\quad \\boxed{1}$").answer == "-2, 1"


@pytest.mark.parametrize(
    ("pred", "gold", "ok"),
    [
        # 2. percent as a word or suffix against a decimal gold
        ("12.5 percent", "0.125", True),
        ("12.5 pct", "0.125", True),
        ("12.5 percentage", "0.125", True),
        ("12.5\\text{ percent}", "0.125", True),
        ("\\frac14\\text{ percent}", "0.0025", True),
        ("13 percent", "0.125", False),
        # 3. a gold written as an equation, the variable on either side
        ("7", "x = 7", True),
        ("7", "7 = x", True),
        ("7", "7=y", True),
        ("8", "x = 7", False),
    ],
)
def test_math_equivalence_classes(pred: str, gold: str, ok: bool) -> None:
    assert is_equivalent(pred, gold)[0] is ok


def test_math_not_read_has_a_cause() -> None:
    assert extract_math("I give up.").cause == NO_ANCHOR
    assert extract_math("\\boxed{}").cause == UNPARSEABLE
    assert extract_math("<think>lots</think>").cause == EMPTY


# -- no answer from the extractor to summary, viewer and report --------------------------------


def test_no_answer_cause_reaches_row_summary_viewer_and_report() -> None:
    from harness.records import no_answer_cause
    from harness.report.entries import make_entries
    from harness.report.points import Point
    from harness.report.render import dataframe, markdown
    from harness.rows import ResultRow
    from harness.summary import no_answer_causes
    from harness.view.records import NO_ANSWER, NO_ANSWER_CAUSES, failure

    ctx = scoring_context(workers=1)
    try:
        hedge = asyncio.run(score_letter("ANSWER: B, D", "B"))
    finally:
        ctx.close()
    assert not hedge.correct and no_answer_cause(hedge) == SEVERAL
    assert no_answer_cause(Score(False, None, "scoring error: boom")) == "scoring_error"
    assert no_answer_cause(Score(True, "B")) is None
    rows = [
        ResultRow.from_json(r)
        for r in (
            {"id": "1", "correct": False, "answer": None, "no_answer_cause": SEVERAL},
            {"id": "2", "correct": False, "answer": None, "no_answer_cause": NO_ANCHOR},
            {"id": "3", "correct": False, "answer": None, "no_answer_cause": SEVERAL},
            {"id": "4", "correct": True, "answer": "B", "no_answer_cause": None},
            {"id": "5", "correct": False, "answer": None},  # from before causes were recorded
        )
    ]
    assert no_answer_causes(rows) == {NO_ANCHOR: 1, SEVERAL: 2, "unknown": 1}
    assert failure(rows[0], None) == NO_ANSWER_CAUSES[SEVERAL]
    assert failure(rows[4], None) == NO_ANSWER
    point = Point(
        source="runs/x", model="m", mas="single", benchmark="gpqa_diamond", knobs={},
        status="complete", n=5, n_expected=5, accuracy=0.2, stderr=0.1, no_answer=4, rows=rows,
        no_answer_causes=no_answer_causes(rows),  # as the loader reads it from summary.json
    )  # fmt: skip
    entries = make_entries([point])
    md = markdown(entries)
    assert "## Answers not read, by cause" in md and "several answers 2" in md
    assert dataframe(entries)["no_answer_several_answers"].tolist() == [2]


def test_ceo_run_without_readable_answers_reports_no_answer_not_errors(
    tmp_path, monkeypatch, data_dir
) -> None:
    """A mas=ceo run whose final solutions hold no readable answer: wrong answers with their
    cause (no_answer), not errors (before: errors 10 as well as no_answer 10)."""
    from hydra import compose, initialize_config_dir

    import harness.runner as runner
    from harness.engines.base import Completion, Engine, Request
    from tests.conftest import ROOT, read_jsonl

    class Prose(Engine):
        async def _generate(self, request: Request) -> Completion:
            return Completion("I have thought about it at length, without a conclusion.", 10, 5)

    monkeypatch.setattr(runner, "build_engine", lambda *a, **k: Prose(4))
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "config",
            overrides=["model=oracle", "mas=ceo", "turns=1", "critic_rounds=0", "limit=3",
                       "benchmark=math500", "run.progress=false", "scoring.trajectory=false"],
        )  # fmt: skip
    summary = asyncio.run(runner.run_async(cfg, tmp_path))
    assert (summary["n"], summary["errors"], summary["no_answer"]) == (3, 0, 3)
    assert summary["no_answer_causes"] == {NO_ANCHOR: 3}
    rows = read_jsonl(tmp_path / "results.jsonl")
    assert [r["no_answer_cause"] for r in rows] == [NO_ANCHOR] * 3
    assert all(r["error"] is None for r in rows)
