"""Answer extraction on what models actually write (item 3 of issue 9): an unboxed closing
statement, several boxes that together are the answer, and a closing statement after
intermediate boxes; plus the fallbacks and what must not be taken for an answer."""

from __future__ import annotations

import pytest

from harness.scoring.extract import extract_math, last_box_group


@pytest.mark.parametrize(
    ("text", "answer", "method"),
    [
        # Minerva's closing statement, unboxed
        ("Adding up, N is 14916.\nFinal Answer: The final answer is $14{,}916$. I hope it is "
         "correct.", "14{,}916", "final_answer"),
        ("Final Answer: The final answer is 12,000,023. I hope it is correct. <|im_start|>user",
         "12,000,023", "final_answer"),
        ("Final Answer: The largest $n$ is 34.", "34", "final_answer"),
        ("**Final Answer:** $\\frac{3}{4}$", "\\frac{3}{4}", "final_answer"),
        ("The final answer is \\(\\left( 3, \\frac{\\pi}{2} \\right)\\).",
         "\\left( 3, \\frac{\\pi}{2} \\right)", "final_answer"),
        # several boxes that together are the answer
        ("The roots are $\\boxed{-2} \\quad\\text{and}\\quad \\boxed{1}$.", "-2, 1",
         "boxed_group"),
        ("$x = \\boxed{3}$ and $y = \\boxed{4}$", "3, 4", "boxed_group"),
        ("\\boxed{1}, \\boxed{2}, \\boxed{3}", "1, 2, 3", "boxed_group"),
        # a closing statement after intermediate boxes wins over them
        ("First \\boxed{200}, then \\boxed{255}. Final Answer: The final answer is $10,455$. "
         "I hope it is correct.", "10,455", "final_answer"),
        # but a box after a statement is the answer, and far-apart boxes are not joined
        ("The final answer is 3... wait, recomputing: \\boxed{4}", "4", "boxed"),
        ("Step one gives \\boxed{2}. Much later, after more work, \\boxed{5}.", "5", "boxed"),
        ("so the answer is 42.", "42", "answer_is"),
        ("$(3, 2)$", "$(3, 2)$", "bare"),
    ],
)  # fmt: skip
def test_formats(text: str, answer: str, method: str) -> None:
    ex = extract_math(text)
    assert (ex.answer, ex.method) == (answer, method), ex


def test_decimals_are_not_sentence_ends() -> None:
    assert extract_math("Final Answer: The final answer is 7.78.").answer == "7.78"
    assert extract_math("Final Answer: The final answer is 7.78").answer == "7.78"


def test_no_answer_is_none() -> None:
    for text in ("I cannot solve this", "", "<think>\\boxed{1}", "Let me think.\nMore text."):
        ex = extract_math(text)
        assert ex.answer is None and ex.method == "none", (text, ex)


def test_box_group_positions() -> None:
    text = "a \\boxed{1} b \\boxed{2} and \\boxed{3}"
    answer, start, end, n = last_box_group(text)
    assert (answer, n) == ("2, 3", 2) and text[start:end] == "\\boxed{2} and \\boxed{3}"
