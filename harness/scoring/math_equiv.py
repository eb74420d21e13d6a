"""Mathematical answer equivalence on top of math-verify.

math-verify does the real work (LaTeX → sympy, numeric/symbolic/set/interval/matrix
comparison). Its own timeouts use ``signal.alarm`` (main thread only, and wall time, so a busy
machine would turn slow checks into wrong answers): they are switched off here, and
:func:`math_equal` runs :func:`is_equivalent` in the scoring pool (``harness.scoring.pool``),
which limits each check's own CPU time and kills and replaces a worker stuck past it.

Own code (small, and said so): a light pre-normalisation that math-verify does not do for the
shapes MATH answers take: ``\\%`` (``50\\%`` neither parses nor equals ``50``), units written
inside ``\\text{}`` together with the number (``\\text{5 inches}``), and trailing periods.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from harness.scoring.pool import CheckError, CheckTimeout

#: modules a scoring worker imports before it takes its first check
WARM_MODULES = ("harness.scoring.math_equiv", "math_verify", "latex2sympy2_extended")

# Units math-verify's own unit normalisation misses are handled by stripping a trailing
# ``\text{ word}`` / ``\mbox{ word}`` (with optional exponent) after a numeric part.
_TRAILING_TEXT_UNIT = re.compile(
    r"^(?P<num>.*?[0-9}.])\s*(?:\\,|\\;|\\ |~)*\\(?:text|mbox|mathrm|textrm)\{\s*[A-Za-z][A-Za-z .]*\}"
    r"(?:\^\{?[0-9]\}?)?$"
)
_TEXT_WRAPPER = re.compile(r"^\\(?:text|textbf|mathrm|mbox|textrm)\{(?P<inner>.*)\}$", re.DOTALL)
_NUM_THEN_WORDS = re.compile(r"^(?P<num>[-+]?[0-9][0-9,]*(?:\.[0-9]+)?)\s+[A-Za-z][A-Za-z ]*\.?$")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|\\circ|°|\\degree")
_WS = re.compile(r"\s+")
# Hendrycks' MATH normaliser (fix_fracs / fix_sqrt): brace-less \frac12 and \sqrt2.
_FRAC_SHORT = re.compile(r"\\[dt]?frac\s*([0-9a-zA-Z])\s*([0-9a-zA-Z])")
_FRAC_HALF = re.compile(r"\\[dt]?frac\s*(\{[^{}]*\})\s*([0-9a-zA-Z])")
_FRAC_FIRST = re.compile(r"\\[dt]?frac\s*([0-9a-zA-Z])\s*\{")
_SQRT_SHORT = re.compile(r"\\sqrt\s*([0-9a-zA-Z])")
# Percent written as a word or an abbreviation, bare or in \text{} (Inspect AI's math scorer
# reads these as "%"): "12.5 percent", "12.5 pct", "12.5 percentage", "\frac14\text{ percent}".
_PERCENT_WORD = re.compile(
    r"\s*(?:\\[,;: ]|~)*(?:\\(?:text|mbox|mathrm|textrm)\{\s*)?"
    r"(?:per\s*cent(?:age)?s?|pct\.?)\s*\}?\s*$",
    re.IGNORECASE,
)
# One side of an equation that is a variable: "x", "y_1", "n", "\theta" ("x = 7", "7 = x").
_VARIABLE = re.compile(r"^\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?\s*$")


def fix_shorthand(s: str) -> str:
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_FIRST.sub(r"\\frac{\1}{", s)
    s = _FRAC_HALF.sub(r"\\frac\1{\2}", s)
    return _SQRT_SHORT.sub(r"\\sqrt{\1}", s)


def normalize_string(s: str) -> str:
    """Cheap canonical string for the exact-match fast path (no sympy)."""
    s = s.strip().strip("$").strip()
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\left", "").replace("\\right", "")
    s = s.replace("\\!", "").replace("\\,", "").replace("\\;", "").replace("\\ ", "")
    s = _WS.sub("", s)
    return s.rstrip(".")


def variants(s: str) -> list[str]:
    """Readings of one answer string worth handing to math-verify, most literal first."""
    s = s.strip()
    out = [s]

    def add(v: str) -> None:
        v = v.strip()
        if v and v not in out:
            out.append(v)

    base = s.strip("$").strip()
    while base.endswith((".", ",")) and not base.endswith("\\."):
        base = base[:-1].rstrip()
    add(base)
    add(fix_shorthand(base))
    m = _TEXT_WRAPPER.match(base)
    if m:  # \text{5 inches}, \text{(C)}
        inner = m.group("inner").strip()
        add(inner)
        m2 = _NUM_THEN_WORDS.match(inner)
        if m2:
            add(m2.group("num"))
    m = _TRAILING_TEXT_UNIT.match(base)
    if m:
        add(m.group("num"))
    m = _NUM_THEN_WORDS.match(base)
    if m:
        add(m.group("num"))
    if _DEGREES.search(base):
        add(_DEGREES.sub("", base))
    word = _PERCENT_WORD.search(base)
    if word and word.start() > 0:
        base = base[: word.start()] + "\\%"
        add(base)
    if "%" in base:
        stripped = base.replace("\\%", "").replace("%", "").strip()
        add(stripped)
        add(fix_shorthand(stripped))
        add(f"\\frac{{{fix_shorthand(stripped)}}}{{100}}")
    if base.count("=") == 1 and not re.search(r"[<>]|\\[lg]eq?|\\neq", base):
        left, right = base.split("=")
        if _VARIABLE.match(left) and not _VARIABLE.match(right):
            add(right)
        elif _VARIABLE.match(right) and not _VARIABLE.match(left):
            add(left)
    return out


def _quiet_math_verify() -> None:
    """math-verify warns once per process that its timeout is off: that is the design here."""
    import math_verify.grader
    import math_verify.parser

    math_verify.parser.TIMEOUT_WARNING_SHOWN = True
    math_verify.grader.TIMEOUT_WARNING_SHOWN = True


@lru_cache(maxsize=4096)
def _parse(s: str) -> tuple[Any, ...]:
    from latex2sympy2_extended.math_normalization import NormalizationConfig
    from math_verify import LatexExtractionConfig, parse

    # The answer is already extracted: wrap it in one \boxed so math-verify takes it whole.
    cfg = [
        LatexExtractionConfig(
            boxed_match_priority=0,
            normalization_config=NormalizationConfig(
                basic_latex=True,
                units=True,
                malformed_operators=False,
                nits=True,
                boxed="all",
                equations=False,
            ),
        )
    ]
    return tuple(parse("\\boxed{" + s + "}", extraction_config=cfg, parsing_timeout=None))


def is_equivalent(pred: str, gold: str, fast_path: bool = True) -> tuple[bool, str]:
    """Whether ``pred`` equals ``gold``; returns (verdict, how it was decided).

    Synchronous and unbounded in time (math-verify's own timeouts are off): call it through
    :func:`math_equal`, whose pool enforces the limit. ``fast_path=False`` skips the string
    shortcut (benchmarks of math-verify itself).
    """
    if fast_path and normalize_string(pred) == normalize_string(gold):
        return True, "string"
    from math_verify import verify

    _quiet_math_verify()
    gold_parsed = [g for g in (_parse(v) for v in variants(gold)) if g]
    if not gold_parsed:
        return False, "gold answer did not parse"
    for pv in variants(pred):
        p = _parse(pv)
        if not p:
            continue
        for g in gold_parsed:
            if verify(list(g), list(p), timeout_seconds=None):
                return True, "math_verify" if pv == pred.strip() else f"math_verify({pv!r})"
    return False, "not equivalent"


def _worker(pred: str, gold: str, fast_path: bool = True) -> tuple[bool, str]:
    # Never let a sympy error reach the pool as a failed check: it is a "not equivalent".
    try:
        return is_equivalent(pred, gold, fast_path)
    except Exception as exc:  # noqa: BLE001 - model output can break sympy in any way
        return False, f"equivalence check failed: {type(exc).__name__}"


#: how-strings of checks that could not decide (the pool's fault, not the answer's)
UNDECIDED = ("equivalence check timed out", "scoring error")


async def math_equal(pred: str, gold: str, ctx: Any) -> tuple[bool, str]:
    """Run :func:`is_equivalent` in the scoring pool (``ctx.pool()``); (verdict, how)."""
    if normalize_string(pred) == normalize_string(gold):
        return True, "string"
    try:
        return await ctx.pool().call(_worker, pred, gold)
    except CheckTimeout as exc:
        return False, f"equivalence check timed out: {exc}"
    except CheckError as exc:
        return False, f"scoring error: {exc}"
