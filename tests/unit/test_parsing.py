"""Role-output parsers: tolerant of form (case, spacing, markdown, `8k`), strict about meaning."""

from __future__ import annotations

import pytest

from harness.mas.parsing import (
    ParseError,
    check_solution,
    clean,
    extract_code,
    parse_ceo,
    parse_critique,
    parse_evaluation,
    parse_recruits,
    parse_tests,
    parse_token_count,
)
from harness.roles import (
    CEO,
    CRITIC,
    EVALUATOR,
    EXECUTOR,
    RECRUITER,
    ROLES,
    SOLVER,
    canned_response,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("8192", 8192),
        ("8192 tokens", 8192),
        ("8,192 tokens", 8192),
        ("8k", 8192),
        ("8K tokens", 8192),
        ("**16 k**", 16384),
        ("<32000>", 32000),
        ("about 4096 tokens for each agent", 4096),
    ],
)
def test_token_counts(text: str, expected: int) -> None:
    assert parse_token_count(text) == expected


def test_token_count_without_number_fails() -> None:
    with pytest.raises(ParseError):
        parse_token_count("as many as needed")


def test_ceo_canonical_and_decorated() -> None:
    d = parse_ceo(
        "### Decision: <Continue>\n### Recruit Number: 3\n### Direction: check the algebra\n"
        "### Maximum Tokens: 8192 tokens"
    )
    assert (d.stop, d.recruit, d.direction, d.max_tokens) == (False, 3, "check the algebra", 8192)
    d = parse_ceo(
        "Let me think.\n**Decision:** STOP\n**Recruit Number**: three experts\n"
        "**Direction**: none\n**Maximum Tokens**: 8k"
    )
    assert (d.stop, d.recruit, d.max_tokens) == (True, 3, 8192)
    d = parse_ceo("decision = continue; recruit number = 9; direction = x; max tokens = 2048")
    assert (d.stop, d.recruit, d.max_tokens) == (False, 9, 2048)


def test_ceo_last_occurrence_wins_over_restated_format() -> None:
    text = (
        "The format is ### Decision: <Continue> or <Stop>\n\n"
        "### Decision: <Stop>\n### Recruit Number: 2\n### Direction: d\n### Maximum Tokens: 4096"
    )
    assert parse_ceo(text).stop is True


def test_ceo_ambiguous_fields_fail_with_partial() -> None:
    with pytest.raises(ParseError) as info:
        parse_ceo(
            "### Decision: <Continue> or <Stop>\n### Recruit Number: some\n"
            "### Direction: d\n### Maximum Tokens: 4k"
        )
    partial = info.value.partial
    assert partial.stop is None and partial.recruit is None
    assert partial.max_tokens == 4096 and partial.direction == "d"
    with pytest.raises(ParseError):
        parse_ceo("I would continue with three experts.")


@pytest.mark.parametrize(
    "text, correct",
    [
        ("### Correctness: 1\n### Advice: fine", True),
        ("**Correctness:** 0\n**Advice:** redo step 2", False),
        ("correctness : (1)\nadvice: ok", True),
        ("### Correctness: [0]", False),
        ("Correctness: Incorrect\nAdvice: no", False),
        ("1. Correctness: 1\n2. Advice: good", True),
    ],
)
def test_evaluator_variants(text: str, correct: bool) -> None:
    assert parse_evaluation(text).correct is correct


def test_evaluator_fields() -> None:
    e = parse_evaluation(
        "### Correctness: 0\n### Advice:\n- check f(0)\n- check f(1)\n\n"
        "### Recruiting Suggestion: a number theorist"
    )
    assert e.advice == "- check f(0)\n- check f(1)"
    assert e.recruiting == "a number theorist"


@pytest.mark.parametrize(
    "text", ["Correctness: 2", "Correctness: 0.5", "Correctness: maybe", "looks right to me", ""]
)
def test_evaluator_meaningless_fails(text: str) -> None:
    with pytest.raises(ParseError):
        parse_evaluation(text)


def test_critic_verdicts() -> None:
    assert parse_critique("All steps hold. [Agree]").agree
    assert parse_critique("fine **[ agree ]**").agree
    c = parse_critique("Step 2 is wrong: 3*4 is 12.\n[Disagree]")
    assert not c.agree and c.text == "Step 2 is wrong: 3*4 is 12."
    # the last verdict counts: a critic quoting the rule before deciding
    assert not parse_critique('The rule says "[Agree]" if equal. They differ. [DISAGREE]').agree
    with pytest.raises(ParseError):
        parse_critique("I think it is probably fine.")


def test_recruits() -> None:
    text = "Experts:\n1. **A mathematician** in algebra\n2) A physicist\n3. a mathematician in algebra\n"
    with pytest.raises(ParseError) as info:
        parse_recruits(text, 3)  # the duplicate does not count
    assert len(info.value.partial) == 2
    assert parse_recruits(text + "4. A chemist", 3) == [
        "**A mathematician** in algebra",  # the description as written (the original's too)
        "a physicist",
        "a chemist",
    ]
    assert parse_recruits("- a chemist\n- a biologist", 2) == ["a chemist", "a biologist"]
    assert parse_recruits("1. a\n2. bb\n3. ccc\n4. dddd", 2) == ["ccc", "dddd"]


def test_solution_checks() -> None:
    assert check_solution("so \\boxed{42}", "math")
    assert check_solution("\\boxed{ B }", "mc")
    assert check_solution("```python\ndef f():\n    return 1\n```", "code")
    assert check_solution("A dog runs.", "text")
    for text, domain in [
        ("42", "math"),
        ("\\boxed{}", "math"),
        ("def f(): pass", "code"),
        ("", "text"),
    ]:
        with pytest.raises(ParseError):
            check_solution(text, domain)


def test_code_extraction_and_tests() -> None:
    assert extract_code("a\n```python\nx = 1\n```\nb\n```\ny = 2\n```") == "y = 2"
    assert extract_code("```python\nx = 1\n") == "x = 1"  # truncated fence
    assert extract_code("```text\nhello\n```") is None
    tests = parse_tests("### Thought: t\n### Code:\n```python\nassert f(1) == 2\n```")
    assert tests == "assert f(1) == 2"
    with pytest.raises(ParseError, match="not valid Python"):
        parse_tests("```python\nassert f(1 ==\n```")
    with pytest.raises(ParseError):
        parse_tests("I would test f(1).")


@pytest.mark.parametrize("domain", ["math", "mc", "code", "text"])
def test_canned_responses_parse(domain: str) -> None:
    assert parse_recruits(canned_response(RECRUITER, domain), 10)
    assert parse_critique(canned_response(CRITIC, domain)).agree
    assert parse_evaluation(canned_response(EVALUATOR, domain)).correct
    d = parse_ceo(canned_response(CEO, domain))
    assert d.stop is False and d.recruit and d.max_tokens
    assert parse_tests(canned_response(EXECUTOR, domain))
    assert check_solution(canned_response(SOLVER, domain), domain)
    assert set(ROLES) == {RECRUITER, SOLVER, CRITIC, EXECUTOR, EVALUATOR, CEO}
    with pytest.raises(ValueError):
        canned_response("manager", domain)


LATEX = r"Check x**2 + a_{2} = x^{*} and \frac{a_1}{b_2}; * is a product here"
PYTHON = "def __init__(self, *args, **kwargs):\n    return x**2  # __dunder__ and _private"


@pytest.mark.parametrize("content", [LATEX, PYTHON, "__init__", "*args", "x^{*}"])
def test_clean_never_changes_content(content: str) -> None:
    assert clean(content) == content
    assert clean(f"  **  {content}\n") == content  # decoration around the field goes
    critique = parse_critique(f"{content}\n[Disagree]")
    assert critique.text == content
    ev = parse_evaluation(
        f"### Correctness: 0\n### Advice: {content}\n### Recruiting Suggestion: x"
    )
    assert ev.advice == content
    ceo = parse_ceo(
        f"**Decision:** Continue\n**Recruit Number:** 2\n**Direction:** {content}\n"
        "**Maximum Tokens:** 8192"
    )
    assert ceo.direction == content


@pytest.mark.parametrize(
    ("field", "value"),
    [("**Stop**", "Stop"), ("** 3 **", "3"), ("_8192_", "8192"), ("### 1", "1"), (": yes", "yes")],
)
def test_clean_strips_decoration_around_a_whole_short_field(field: str, value: str) -> None:
    assert clean(field) == value
