"""Scorers: one async function per kind of answer. Each returns a ``Score`` and never raises
for bad model output (unparseable → ``Score(correct=False, answer=None, reason=...)``)."""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

from harness.problem import Score
from harness.scoring.extract import Extraction, extract_letter, extract_math, strip_thinking
from harness.scoring.limits import CodeLimits
from harness.scoring.math_equiv import UNDECIDED, math_equal, variants


def no_answer(ex: Extraction, details: dict[str, Any] | None = None) -> Score:
    """A wrong answer that could not be read, with the cause (``details["no_answer"]``, one of
    ``harness.scoring.extract.CAUSES``) that results.jsonl and summary.json report."""
    return Score(False, None, ex.note, {**(details or {}), "extraction": ex.method,
                                         "no_answer": ex.cause or "no_anchor"})  # fmt: skip


async def score_math(response: str, gold: str, ctx: Any) -> Score:
    ex = extract_math(response)
    details: dict[str, Any] = {"extraction": ex.method}
    if ex.answer is None:
        return no_answer(ex)
    ok, how = await math_equal(ex.answer, gold, ctx)
    details["equivalence"] = how
    if how.startswith(UNDECIDED):
        details["scoring_error"] = True  # the pool could not decide: not the answer's fault
    reason = None if ok else _join(ex.note, f"{how}: {ex.answer!r} vs {gold!r}")
    return Score(ok, ex.answer, reason if not ok else ex.note, details)


_INT = re.compile(r"^[-+]?\d+(?:\.0*)?$")


def parse_integer(answer: str) -> int | None:
    """An AIME-style integer answer: ``025``, ``25.0``, ``1{,}000``, ``n = 25``, ``25^\\circ``."""
    for v in variants(answer):
        s = v.strip().strip("$").strip()
        s = s.replace("{,}", "").replace(",", "").replace("\\!", "").replace(" ", "")
        s = s.split("=")[-1]
        m = re.match(r"^\\(?:text|textbf|mathbf)\{(.*)\}$", s)
        if m:
            s = m.group(1)
        if _INT.match(s):
            return int(float(s))
    return None


async def score_integer(response: str, gold: int, ctx: Any = None) -> Score:
    ex = extract_math(response)
    details: dict[str, Any] = {"extraction": ex.method}
    if ex.answer is None:
        return no_answer(ex)
    value = parse_integer(ex.answer)
    if value is None:
        return Score(False, ex.answer, _join(ex.note, f"not an integer: {ex.answer!r}"), details)
    ok = value == int(gold)
    return Score(ok, str(value), ex.note if ok else _join(ex.note, f"{value} != {gold}"), details)


async def score_letter(
    response: str, gold: str, letters: str = "ABCD", choices: list[str] | None = None
) -> Score:
    """``choices``: the choices' texts in letter order, for replies that state a choice's text
    instead of its letter."""
    ex = extract_letter(response, letters, choices)
    details: dict[str, Any] = {"extraction": ex.method}
    if ex.answer is None:
        return no_answer(ex)
    ok = ex.answer == gold.upper()
    return Score(
        ok, ex.answer, ex.note if ok else _join(ex.note, f"{ex.answer} != {gold}"), details
    )


# -- numeric (SciBench) ----------------------------------------------------------------------

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_SCI = re.compile(
    rf"^(?P<m>{_NUM})\s*(?:(?:\\times|\\cdot|\*|x)\s*10\s*\^\s*\{{?\s*(?P<e>[-+−]?\d+)\s*\}}?"
    rf"|[eE](?P<e2>[-+]?\d+))?"
)


def parse_number(answer: str) -> float | None:
    """Leading number of an answer, in plain or scientific notation, units ignored.

    Own code: math-verify would turn ``1.5 \\times 10^{-3} \\mathrm{~J}`` into a product with
    symbols; SciBench answers are numbers followed by units, compared with a tolerance.
    """
    for v in variants(answer):
        s = v.strip().strip("$").strip()
        s = s.replace("{,}", "").replace("\\!", "").replace("−", "-").replace("~", " ")
        s = re.sub(r"(?<=\d),(?=\d{3}\b)", "", s)
        s = s.split("=")[-1].strip()
        s = re.sub(r"^\\(?:approx|sim)\s*", "", s)
        m = _SCI.match(s)
        if not m:
            continue
        try:
            value = float(m.group("m"))
            exp = m.group("e") or m.group("e2")
            if exp:
                value *= 10 ** int(exp.replace("−", "-"))
        except (ValueError, OverflowError):
            continue
        if math.isfinite(value):
            return value
    return None


async def score_numeric(response: str, gold: float, rel_tol: float, ctx: Any = None) -> Score:
    ex = extract_math(response)
    details: dict[str, Any] = {"extraction": ex.method, "rel_tol": rel_tol}
    if ex.answer is None:
        return no_answer(ex, details)
    value = parse_number(ex.answer)
    if value is None:
        return Score(False, ex.answer, _join(ex.note, f"no number in {ex.answer!r}"), details)
    ok = math.isclose(value, gold, rel_tol=rel_tol, abs_tol=1e-12)
    details["value"] = value
    reason = ex.note if ok else _join(ex.note, f"{value:g} vs {gold:g} (rel_tol {rel_tol})")
    return Score(ok, ex.answer, reason, details)


# -- concept coverage (CommonGen-Hard) -------------------------------------------------------

_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")


@lru_cache(maxsize=65536)
def _forms(word: str) -> frozenset[str]:
    """The word, its lemmas and (for a lemma) its inflections.

    lemminflect is what CommonGen's own evaluator uses for lemmas; without it, a small suffix
    rule set (own code) covers the regular inflections.
    """
    w = word.lower()
    out = {w}
    try:
        from lemminflect import getAllInflections, getAllLemmas

        for lemmas in getAllLemmas(w).values():
            out.update(lemmas)
        for forms in getAllInflections(w).values():
            out.update(forms)
    except ImportError:
        for suf, rep in (
            ("ies", "y"),
            ("es", ""),
            ("s", ""),
            ("ing", ""),
            ("ing", "e"),
            ("ed", ""),
            ("ed", "e"),
            ("d", ""),
        ):
            if w.endswith(suf) and len(w) > len(suf) + 2:
                out.add(w[: -len(suf)] + rep)
        if len(w) > 4 and w[-1] == w[-2] and w[-3] not in "aeiou":
            out.add(w[:-1])  # running → runn → run
    return frozenset(out)


def concept_coverage(text: str, concepts: list[str]) -> tuple[list[str], list[str]]:
    """(covered, missing): a concept is covered when one text token shares a form with it."""
    token_forms: set[str] = set()
    for tok in _WORD.findall(text):
        token_forms |= _forms(tok)
    covered, missing = [], []
    for concept in concepts:
        words = concept.split()  # multi-word concepts need every word
        hit = all(_forms(w) & token_forms for w in words) if words else False
        (covered if hit else missing).append(concept)
    return covered, missing


async def score_coverage(response: str, concepts: list[str]) -> Score:
    text = strip_thinking(response).strip()
    if not text:
        return Score(False, None, "empty response", {"coverage": 0.0, "missing": list(concepts)})
    covered, missing = concept_coverage(text, concepts)
    frac = len(covered) / len(concepts) if concepts else 1.0
    details = {
        "coverage": frac,
        "covered": len(covered),
        "n_concepts": len(concepts),
        "missing": missing,
    }
    reason = None if not missing else f"missing {len(missing)} concept(s): {', '.join(missing[:8])}"
    return Score(not missing, text[:2000], reason, details)


# -- code (through the sandbox) --------------------------------------------------------------


async def run_tests(
    program: str, tests: str, ctx: Any, limits: CodeLimits, entry_point: str | None = None
) -> tuple[bool, str | None, dict[str, Any]]:
    """Run a solution and its hidden tests in the shared sandbox (grading mode: the tests in a
    process of their own, a pass only with evidence that every test ran): (passed, reason,
    details). ``entry_point``: the function under test (it may bear a builtin's name)."""
    details: dict[str, Any] = limits.as_details()
    try:
        result = await ctx.sandbox().run(
            program,
            tests=tests,
            cpu_s=limits.cpu_s,
            timeout_s=limits.wall_s,
            entry_point=entry_point,
        )
    except Exception as exc:  # noqa: BLE001 - sandbox trouble is a scoring failure, not a crash
        details["verdict"] = "sandbox_error"
        return False, f"sandbox error: {type(exc).__name__}: {exc}", details
    details.update(
        verdict=result.verdict,
        exit_code=result.exit_code,
        wall_s=round(float(result.wall_s or 0.0), 3),
        cpu_s=round(float(result.cpu_s or 0.0), 4),
    )
    if result.passed:
        details["checks"] = result.checks
        return True, None, details
    tail = (result.stderr or "").strip().splitlines()[-3:]
    why = result.detail or " | ".join(tail) or "no detail"
    return False, f"{result.verdict}: {why[:300]}", details


def _join(*parts: str | None) -> str | None:
    got = [p for p in parts if p]
    return "; ".join(got) if got else None
