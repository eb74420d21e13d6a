"""Parsers for every role's output: tolerant of form, strict about meaning.

Models decorate structured answers in many ways (``**Decision:** Stop``, ``### Recruit Number: 3
experts``, ``Maximum Tokens: 8k``). The parsers accept such variants, but refuse answers whose
meaning is unclear (``<Continue> or <Stop>``, a correctness of 2): those raise
:class:`ParseError`, which the multi-agent systems turn into a bounded retry and then a recorded
fallback. Nothing here calls a model.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from harness.roles import CEO, CRITIC, EVALUATOR, EXECUTOR, RECRUITER, SOLVER  # noqa: F401
from harness.text import find_token_count, last_python_block


class ParseError(ValueError):
    """An output whose meaning cannot be read. ``partial`` keeps whatever could be read, so a
    fallback can still use the good fields of a half-valid answer."""

    def __init__(self, reason: str, partial: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial


# -- shared helpers -------------------------------------------------------------------------------

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip
# Decoration around a field, never inside it: a heading mark or a colon before the value, an
# emphasis marker standing alone at either end ("** Stop", "Stop **"), or one pair wrapping a
# whole short single-line field ("**Stop**", "_8192_").
_LEAD = re.compile(r"^(?:#+(?=\s)\s*|[:：]+\s*|(?:\*\*|__|\*|_)(?=\s|$)\s*)+")
_TRAIL = re.compile(r"(?:\s+(?:\*\*|__|\*|_)|\s+)+$|^(?:\*\*|__|\*|_)$")
_WRAPPED = re.compile(r"^(\*\*|__|\*|_)([^\n]{1,60}?)\1$")


def clean(text: str) -> str:
    """A field's text without the decoration around it. The content is never changed: text
    passed between agents keeps its ``x**2``, ``a_{2}``, ``x^{*}``, ``__init__`` and ``*args``
    (the original passed it through, removing only the verdict tag)."""
    s = _TRAIL.sub("", _LEAD.sub("", text.strip())).strip()
    m = _WRAPPED.match(s)
    if not m or m.group(2)[0] in "*_" or m.group(2)[-1] in "*_":
        return s
    inner = m.group(2)
    # `__init__` is a name, not emphasis: underscores unwrap only a number or several words
    if m.group(1)[0] == "_" and not (inner.strip().isdigit() or " " in inner.strip()):
        return s
    return inner.strip()


def bare(text: str) -> str:
    """A one-token value without any wrapping: ``<Stop>``, ``(1)``, ``"8k".``, ``**1**``."""
    return clean(text).strip("<>[]()\"'“”`.,;!-–—*_").strip()


def parse_int(text: str) -> int:
    """The first integer in ``text`` (digits or an English number word up to twelve)."""
    m = re.search(r"-?\d+", text)
    words = re.search(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", text, re.I)
    if m and (not words or m.start() < words.start()):
        return int(m.group(0))
    if words:
        return _NUMBER_WORDS[words.group(1).lower()]
    raise ParseError(f"no number in {_short(text)!r}")


def parse_token_count(text: str) -> int:
    """``8192``, ``8,192 tokens``, ``8k``, ``8 K``, ``16.5k`` → a token count (k = 1024)."""
    n = find_token_count(text)
    if n is None:
        raise ParseError(f"no token count in {_short(text)!r}")
    return n


def _short(text: str, n: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _label_pattern(label: str) -> str:
    return r"[\s_-]*".join(re.escape(w) for w in label.split())


def sections(text: str, labels: dict[str, list[str]]) -> dict[str, str]:
    """Split ``text`` at headers such as ``### Decision:``, ``**Decision**:`` or ``Decision =``.

    ``labels`` maps a key to the header spellings that mean it. Each key gets the text from its
    header to the next known header; when a header occurs more than once the last one wins
    (models often restate the format before answering).
    """
    alts = []
    for i, (_key, spellings) in enumerate(labels.items()):
        alts.append(f"(?P<k{i}>" + "|".join(_label_pattern(s) for s in spellings) + ")")
    header = re.compile(
        r"(?:^|(?<=[\s#>*_|.;]))(?:" + "|".join(alts) + r")s?\s*(?:\*\*|__|\*)?\s*[:：=]",
        re.I | re.M,
    )
    keys = list(labels)
    hits = [(m.start(), m.end(), keys[int(m.lastgroup[1:])]) for m in header.finditer(text)]
    out: dict[str, str] = {}
    for j, (_start, end, key) in enumerate(hits):
        stop = hits[j + 1][0] if j + 1 < len(hits) else len(text)
        value = text[end:stop]
        # the next header's own line decoration ("### ") belongs to it, not to this value
        value = re.sub(r"(?:\s+(?:#+|\*\*|__|>|\|)?)+$", "", value)
        out[key] = clean(value)
    return out


# -- recruiter ------------------------------------------------------------------------------------

_NUMBERED = re.compile(
    r"^\s*(?:[-*+]\s*)?(?:\*\*|__)?\s*(?:(?:expert|role|agent)\s*)?#?(\d{1,2})\s*[.):\]]\s*(.+)$",
    re.I | re.M,
)
_BULLET = re.compile(r"^\s*[-*+•]\s+(.+)$", re.M)


def parse_recruits(text: str, n: int) -> list[str]:
    """The first ``n`` distinct experts of a numbered (or, failing that, bulleted) list."""
    found = [m.group(2) for m in _NUMBERED.finditer(text)] or _BULLET.findall(text)
    experts: list[str] = []
    seen: set[str] = set()
    for raw in found:
        desc = clean(raw)
        key = re.sub(r"[^a-z0-9]+", " ", desc.lower()).strip()
        if len(key) < 3 or key in seen:
            continue
        seen.add(key)
        # "You are {role}." reads right with "a chemist …", not "A chemist …"
        experts.append(re.sub(r"^(A|An|The)\b", lambda m: m.group(1).lower(), desc))
    if len(experts) < n:
        raise ParseError(f"named {len(experts)} distinct experts, {n} needed", partial=experts)
    return experts[:n]


# -- critic ---------------------------------------------------------------------------------------

_VERDICT = re.compile(r"\[\s*(?:\*\*|__)?\s*(dis)?agree(?:d|s)?\s*(?:\*\*|__)?\s*\]", re.I)


@dataclass
class Critique:
    agree: bool
    text: str  # the critique without its verdict token (what goes back to the solver)


def parse_critique(text: str) -> Critique:
    """A review ending with ``[Agree]`` or ``[Disagree]``; the last verdict token counts."""
    verdicts = list(_VERDICT.finditer(text))
    if not verdicts:
        raise ParseError("no [Agree] or [Disagree] verdict", partial=text.strip())
    agree = verdicts[-1].group(1) is None
    body = clean(_VERDICT.sub("", text))
    return Critique(agree=agree, text="" if agree else body)


# -- evaluator ------------------------------------------------------------------------------------

_EVAL_LABELS = {
    "correctness": ["correctness"],
    "advice": ["advice", "feedback"],
    "recruiting": ["recruiting suggestion", "recruitment suggestion", "recruit suggestion"],
}


@dataclass
class Evaluation:
    correct: bool
    advice: str = ""
    recruiting: str = ""


def parse_correctness(value: str) -> bool:
    v = bare(value).lower()
    m = re.match(r"^\s*([01])(?:\.0+)?(?:\s*/\s*1)?(?![\d.])", v)
    if m:
        return m.group(1) == "1"
    words = re.match(r"^\s*(incorrect|not correct|wrong|false|no|correct|right|true|yes)\b", v)
    if words:
        return words.group(1) in ("correct", "right", "true", "yes")
    raise ParseError(f"correctness {_short(value)!r} is not 0 or 1")


def parse_evaluation(text: str) -> Evaluation:
    """``Correctness: 0|1`` (required), ``Advice:`` and ``Recruiting Suggestion:`` (optional)."""
    parts = sections(text, _EVAL_LABELS)
    if "correctness" not in parts:
        raise ParseError("no 'Correctness:' line")
    return Evaluation(
        correct=parse_correctness(parts["correctness"]),
        advice=parts.get("advice", ""),
        recruiting=parts.get("recruiting", ""),
    )


# -- CEO ------------------------------------------------------------------------------------------

_CEO_LABELS = {
    "decision": ["decision"],
    "recruit": ["recruit number", "recruitment number", "number of experts", "recruit"],
    "direction": ["direction", "discussion direction"],
    "tokens": ["maximum tokens", "max tokens", "token budget", "maximum token"],
}


@dataclass
class CEODecision:
    """What the CEO said; ``None`` marks a field it did not state clearly."""

    stop: bool | None = None
    recruit: int | None = None
    direction: str | None = None
    max_tokens: int | None = None
    problems: list[str] = field(default_factory=list)


def parse_decision(value: str) -> bool:
    """True for Stop, False for Continue; both or neither is ambiguous."""
    v = value.lower()
    stop = re.search(r"\b(stop|terminate|halt)\b", v)
    go = re.search(r"\b(continue|proceed)\b", v)
    if bool(stop) == bool(go):
        raise ParseError(f"decision {_short(value)!r} is neither Continue nor Stop")
    return bool(stop)


def parse_ceo(text: str) -> CEODecision:
    """The four fields of the CEO's answer. Raises :class:`ParseError` (with the readable fields
    as ``partial``) unless Decision, Recruit Number and Maximum Tokens all parse."""
    parts = sections(text, _CEO_LABELS)
    d = CEODecision(direction=parts.get("direction") or None)
    readers = (("decision", "stop", parse_decision), ("recruit", "recruit", parse_int),
               ("tokens", "max_tokens", parse_token_count))  # fmt: skip
    for key, attr, read in readers:
        if key not in parts:
            d.problems.append(f"no '{key}' field")
            continue
        try:
            setattr(d, attr, read(parts[key]))
        except ParseError as exc:
            d.problems.append(exc.reason)
    if d.problems:
        raise ParseError("; ".join(d.problems), partial=d)
    return d


# -- solver and executor --------------------------------------------------------------------------


def extract_code(text: str) -> str | None:
    """The last Python (or untagged) fenced block."""
    return last_python_block(text)


_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{\s*[^\s}]")


def check_solution(text: str, domain: str) -> str:
    """Return ``text`` if it has the answer structure its domain asks for, else raise."""
    if not text.strip():
        raise ParseError("empty solution")
    if domain in ("math", "mc") and not _BOXED.search(text):
        raise ParseError("no final answer in \\boxed{}")
    if domain == "code" and extract_code(text) is None:
        raise ParseError("no fenced ```python code block")
    return text


_EXEC_LABELS = {"thought": ["thought"], "code": ["code", "tests", "test code"]}


def parse_tests(text: str) -> str:
    """The executor's test code: the fenced block of its ``### Code:`` section, else the last
    Python block anywhere. It must be valid Python."""
    code = None
    section = sections(text, _EXEC_LABELS).get("code")
    if section:
        code = extract_code(section) or extract_code(text)
    code = code or extract_code(text)
    if not code:
        raise ParseError("no fenced ```python block of tests")
    try:
        ast.parse(code)
    except SyntaxError as exc:
        raise ParseError(f"tests are not valid Python (line {exc.lineno}: {exc.msg})") from exc
    return code
