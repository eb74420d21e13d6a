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

# Role names: transcripts, seeds, per-role token limits and the table engines key on these.
RECRUITER = "recruiter"
SOLVER = "solver"
JUDGE = "judge"  # not an agent of the system: the optional LLM judge of scoring
CRITIC = "critic"
EXECUTOR = "executor"
EVALUATOR = "evaluator"
CEO = "ceo"
ROLES = (CEO, RECRUITER, SOLVER, CRITIC, EXECUTOR, EVALUATOR)


class ParseError(ValueError):
    """An output whose meaning cannot be read. ``partial`` keeps whatever could be read, so a
    fallback can still use the good fields of a half-valid answer."""

    def __init__(self, reason: str, partial: Any = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial


# -- shared helpers -------------------------------------------------------------------------------

_EMPH = re.compile(r"\*\*|__|(?<!\w)[*_](?![\s*])|(?<![\s*])[*_](?!\w)")
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
}  # fmt: skip


def clean(text: str) -> str:
    """Free text without markdown emphasis and without the decoration around it."""
    return _EMPH.sub("", text).strip().strip("*#:： \t\n").strip()


def bare(text: str) -> str:
    """A one-token value without any wrapping: ``<Stop>``, ``(1)``, ``"8k".``"""
    return clean(text).strip("<>[]()\"'“”`.,;!-–—").strip()


def parse_int(text: str) -> int:
    """The first integer in ``text`` (digits or an English number word up to twelve)."""
    m = re.search(r"-?\d+", text)
    words = re.search(r"\b(" + "|".join(_NUMBER_WORDS) + r")\b", text, re.I)
    if m and (not words or m.start() < words.start()):
        return int(m.group(0))
    if words:
        return _NUMBER_WORDS[words.group(1).lower()]
    raise ParseError(f"no number in {_short(text)!r}")


_TOKENS = re.compile(r"(?<![\w.])(\d+(?:[,_ ]\d{3})*(?:\.\d+)?)\s*(k|K|thousand)?(?![A-Za-z0-9])")


def parse_token_count(text: str) -> int:
    """``8192``, ``8,192 tokens``, ``8k``, ``8 K``, ``16.5k`` → a token count (k = 1024, as the
    ``tokens`` knob and the 2k…32k budget menu count them)."""
    m = _TOKENS.search(text)
    if not m:
        raise ParseError(f"no token count in {_short(text)!r}")
    value = float(re.sub(r"[,_ ]", "", m.group(1)))
    if m.group(2):
        value *= 1024
    return int(value)


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
        value = re.sub(r"[\s#>*_|,;-]*$", "", value)
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

_FENCE = re.compile(r"```[ \t]*([\w+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block; an unclosed last fence counts (truncation)."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def extract_code(text: str) -> str | None:
    """The last Python (or untagged) fenced block."""
    blocks = [b for lang, b in code_blocks(text) if lang in ("", "python", "py", "python3")]
    return blocks[-1].strip() if blocks and blocks[-1].strip() else None


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


# -- canned outputs (table engines: oracle, replay) -----------------------------------------------

_CANNED_EXPERTS = [
    "A mathematician specialized in algebra, with expertise in equation solving",
    "A computer scientist specialized in algorithms, with expertise in correctness proofs",
    "A physicist specialized in modelling, with expertise in dimensional analysis",
    "A statistician specialized in probability, with expertise in combinatorics",
    "A software engineer specialized in Python, with expertise in testing edge cases",
    "A chemist specialized in physical chemistry, with expertise in quantitative reasoning",
    "A linguist specialized in semantics, with expertise in precise wording",
    "A logician specialized in formal reasoning, with expertise in checking arguments",
    "A biologist specialized in molecular biology, with expertise in experimental design",
    "An engineer specialized in numerical methods, with expertise in estimation",
    "A teacher specialized in mathematics education, with expertise in spotting errors",
    "An economist specialized in optimization, with expertise in constraint problems",
]

_CANNED_SOLUTION = {
    "math": "The answer is \\boxed{0}.",
    "mc": "The answer is \\boxed{A}.",
    "code": "```python\ndef solution():\n    return None\n```",
    "text": "A short paragraph.",
}


def canned_response(role: str, domain: str) -> str:
    """A well-formed output of ``role`` that the parsers above accept, for engines that do not
    generate text (the oracle answers the solver with the reference; these fill the rest)."""
    if role == RECRUITER:
        return "\n".join(f"{i}. {e}" for i, e in enumerate(_CANNED_EXPERTS, 1))
    if role == CRITIC:
        return "The solution is consistent with the task and its answer is stated. [Agree]"
    if role == EVALUATOR:
        return (
            "### Correctness: 1\n### Advice: The solution is correct.\n"
            "### Recruiting Suggestion: The same experts."
        )
    if role == CEO:
        return (
            "### Decision: <Continue>\n### Recruit Number: 2\n"
            "### Direction: Check the final answer carefully.\n### Maximum Tokens: 2048"
        )
    if role == EXECUTOR:
        return (
            "### Thought: The solution must at least define its functions without errors.\n"
            "### Code:\n```python\nassert True\n```"
        )
    if role == JUDGE:
        return "Judgement: correct"
    if role == SOLVER:
        return _CANNED_SOLUTION.get(domain, _CANNED_SOLUTION["text"])
    raise ValueError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
