"""Mathematical answer equivalence on top of math-verify.

math-verify does the real work (LaTeX → sympy, numeric/symbolic/set/interval/matrix
comparison). Its timeouts use ``signal.alarm``, which only works in a process's main thread,
so :func:`is_equivalent` is meant to run inside ``ScoringContext.pool()`` workers; the async
wrapper :func:`math_equal` puts it there and adds an outer timeout of its own.

Own code (small, and said so): a light pre-normalisation that math-verify does not do for the
shapes MATH answers take: ``\\%`` (``50\\%`` neither parses nor equals ``50``), units written
inside ``\\text{}`` together with the number (``\\text{5 inches}``), and trailing periods.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from typing import Any

from harness.cfgutil import cfg_get

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
    if "%" in base:
        stripped = base.replace("\\%", "").replace("%", "").strip()
        add(stripped)
        add(f"\\frac{{{stripped}}}{{100}}")
    return out


@lru_cache(maxsize=4096)
def _parse(s: str, timeout_s: int) -> tuple[Any, ...]:
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
    return tuple(parse("\\boxed{" + s + "}", extraction_config=cfg, parsing_timeout=timeout_s))


def is_equivalent(
    pred: str, gold: str, timeout_s: int = 5, fast_path: bool = True
) -> tuple[bool, str]:
    """Whether ``pred`` equals ``gold``; returns (verdict, how it was decided).

    Synchronous and signal-using: call it in a process-pool worker, not a thread.
    ``fast_path=False`` skips the string shortcut (benchmarks of math-verify itself).
    """
    if fast_path and normalize_string(pred) == normalize_string(gold):
        return True, "string"
    from math_verify import verify

    gold_parsed = [g for g in (_parse(v, timeout_s) for v in variants(gold)) if g]
    if not gold_parsed:
        return False, "gold answer did not parse"
    for pv in variants(pred):
        p = _parse(pv, timeout_s)
        if not p:
            continue
        for g in gold_parsed:
            if verify(list(g), list(p), timeout_seconds=timeout_s):
                return True, "math_verify" if pv == pred.strip() else f"math_verify({pv!r})"
    return False, "not equivalent"


def _worker(pred: str, gold: str, timeout_s: int, fast_path: bool = True) -> tuple[bool, str]:
    # Never let a sympy error kill the pool's future with an exception the caller must handle.
    try:
        return is_equivalent(pred, gold, timeout_s, fast_path)
    except Exception as exc:  # noqa: BLE001 - model output can break sympy in any way
        return False, f"equivalence check failed: {type(exc).__name__}"


async def math_equal(
    pred: str, gold: str, ctx: Any, timeout_s: float | None = None
) -> tuple[bool, str]:
    """Run :func:`is_equivalent` in the scoring pool, with an outer timeout."""
    if normalize_string(pred) == normalize_string(gold):
        return True, "string"
    inner = int(timeout_s or cfg_get(getattr(ctx, "cfg", None), "timeout_s") or 5)
    # math-verify gets ``inner`` s per parse/verify; several variants may be tried.
    outer = inner * 4 + 5
    loop = asyncio.get_running_loop()
    for attempt in (1, 2):
        try:
            fut = loop.run_in_executor(ctx.pool(), _worker, pred, gold, inner)
            return await asyncio.wait_for(fut, outer)
        except TimeoutError:
            return False, f"equivalence check timed out after {outer}s"
        except BrokenProcessPool as exc:
            # A worker died (OOM, signal): without a fresh pool every later check would fail
            # too and silently turn into wrong answers.
            ctx.reset_pool()
            if attempt == 2:
                return False, f"equivalence check failed: {type(exc).__name__}: {exc}"
        except Exception as exc:  # noqa: BLE001 - a broken pool must not abort the run
            return False, f"equivalence check failed: {type(exc).__name__}: {exc}"
    raise AssertionError("unreachable")
