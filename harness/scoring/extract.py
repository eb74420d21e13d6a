"""Answer extraction from free-form model responses.

Own code: math-verify extracts answers too, but it picks among several candidates by its own
priorities and does not tell us *how* it found one. The harness needs the field's rule (the
last ``\\boxed{}``) plus an explicit, recorded fallback, so the transcript says why an answer
was or was not found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.text import PYTHON_TAGS, code_blocks, visible_text

_BOX_CMDS = ("\\boxed", "\\fbox")


@dataclass(frozen=True)
class Extraction:
    answer: str | None
    method: str  # "boxed" | fallback name | "none"
    note: str | None = None  # a short reason when a fallback was used or nothing was found


# Only the text outside <think>…</think> is graded. Episodes already strip it; this covers
# responses that come from elsewhere (replay).
strip_thinking = visible_text


def _read_group(text: str, start: int) -> tuple[str, int] | None:
    """Content of the balanced ``{...}`` beginning at ``text[start] == '{'``."""
    depth = 0
    i = start
    while i < len(text):
        c = text[i]
        if c == "\\":  # skip escaped characters such as \{ and \}
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i], i + 1
        i += 1
    return None


def boxes(text: str) -> list[tuple[str, int, int]]:
    """Every ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces) as (content, start, end), in
    order. Also accepts the brace-less form ``\\boxed 5`` that some models write."""
    out: list[tuple[str, int, int]] = []
    pattern = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
    for m in pattern.finditer(text):
        j = m.end()
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            got = _read_group(text, j)
            if got is not None:
                out.append((got[0].strip(), m.start(), got[1]))
        elif j > m.end() and j < len(text):
            token = re.match(r"[^\s$]+", text[j:])
            if token:
                out.append((token.group(0).rstrip(".,"), m.start(), j + token.end()))
    return out


def all_boxed(text: str) -> list[str]:
    """Contents of every box, in order."""
    return [content for content, _, _ in boxes(text)]


def last_boxed(text: str) -> str | None:
    found = boxes(text)
    return found[-1][0] if found else None


# What may stand between boxes that together form one answer: spacing, punctuation, "and",
# "or", math delimiters, and short assignments ("$x=\boxed{2}$ and $y=\boxed{3}$").
_BOX_GLUE = re.compile(
    r"^(?:\s|[$,;&]|\\[,;:! ]|\\q?quad\b|\\\\|\\[()\[\]]|\band\b|\bor\b"
    r"|\\text(?:rm|bf)?\{\s*(?:and|or|,)?\s*\}|[A-Za-z](?:_\{?\w+\}?)?\s*=)*$"
)


def last_box_group(text: str) -> tuple[str, int, int, int] | None:
    """The last box, joined with the boxes just before it when only glue separates them (a
    model that boxes each root: ``\\boxed{-2} \\quad\\text{and}\\quad \\boxed{1}`` → ``-2, 1``)."""
    found = boxes(text)
    if not found:
        return None
    group = [found[-1]]
    for prev in reversed(found[:-1]):
        if not _BOX_GLUE.match(text[prev[2] : group[0][1]]):
            break
        group.insert(0, prev)
    return ", ".join(c for c, _, _ in group), group[0][1], group[-1][2], len(group)


# Closing statements. Strong: "final answer" (Minerva's "Final Answer: The final answer is X. I
# hope it is correct." and its kin); weak: "the answer is X", used only when nothing is boxed.
_FINAL = re.compile(r"final\s+answer\s*(?:is|:|was)\s*:?\s*(?:the\s+final\s+answer\s+is\s*:?)?",
                    re.IGNORECASE)  # fmt: skip
_WEAK = re.compile(r"\banswer\s*(?:is|:)\s*:?", re.IGNORECASE)
_MATH_SPAN = re.compile(r"\s*(\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\])", re.DOTALL)
_SENTENCE = re.compile(r"(.+?)(?:\.(?=\s|$)|\n|$)")


def _statement_answer(text: str, start: int) -> str | None:
    """The answer stated from ``start``: a math span right there, else the rest of the sentence
    (after its last " is " when it reads "the volume of X is 120")."""
    m = _MATH_SPAN.match(text, start)
    if m:
        inner = next(g for g in m.groups()[1:] if g is not None)
        return inner.strip() or None
    m = _SENTENCE.match(text, start)
    if not m:
        return None
    sentence = m.group(1).strip().strip("*").strip()
    if " is " in sentence:
        sentence = sentence.rsplit(" is ", 1)[1].strip()
    found = _MATH_SPAN.fullmatch(sentence)
    if found:
        sentence = next(g for g in found.groups()[1:] if g is not None).strip()
    sentence = sentence.strip().strip('"').rstrip(".").strip()
    return sentence or None


def _last_statement(pattern: re.Pattern, text: str) -> tuple[str, int] | None:
    for m in reversed(list(pattern.finditer(text))):
        answer = _statement_answer(text, m.end())
        if answer:
            return answer, m.start()
    return None


_BARE_HINT = re.compile(r"[0-9$\\=({]")


def extract_math(text: str) -> Extraction:
    """The final answer of a math response, and how it was found.

    1. The last box, with the boxes right before it when only "and"/commas/spacing separate
       them (``boxed``, or ``boxed_group`` for several);
    2. but a "final answer" statement written after that box wins (``final_answer``): models
       box intermediate results and then close with "Final Answer: The final answer is X";
    3. without a box: the last "final answer" statement, else the last "the answer is X"
       (``answer_is``);
    4. else a short one-line response that looks like an answer is the answer (``bare``).
    """
    body = strip_thinking(text)
    group = last_box_group(body)
    final = _last_statement(_FINAL, body)
    if group is not None:
        answer, _, end, n_boxes = group
        if final is not None and final[1] >= end:
            return Extraction(final[0], "final_answer", "a final-answer statement after the box")
        if n_boxes > 1:
            return Extraction(answer, "boxed_group", f"{n_boxes} adjacent boxes joined")
        return Extraction(answer, "boxed")
    if final is not None:
        return Extraction(final[0], "final_answer", "no boxed answer; used the final-answer line")
    weak = _last_statement(_WEAK, body)
    if weak is not None:
        return Extraction(weak[0], "answer_is", "no boxed answer; used the last 'answer is' line")
    line = body.strip()
    if line and "\n" not in line and len(line) <= 100 and _BARE_HINT.search(line):
        return Extraction(line, "bare", "no boxed answer; the whole response is the answer")
    return Extraction(None, "none", "no boxed answer")


_LETTER = re.compile(r"^\(?\s*([A-Za-z])\s*\)?[.):]?$")
_LETTER_TEXT = re.compile(r"^\\text(?:bf)?\{\s*\(?([A-Za-z])\)?\s*\}$")


def extract_letter(text: str, letters: str = "ABCD") -> Extraction:
    """A multiple-choice letter: last boxed letter, else "answer is (X)", else a lone "X)" line."""
    body = strip_thinking(text)
    boxed = last_boxed(body)
    if boxed is not None:
        inner = boxed.strip().strip("$").strip()
        for pat in (_LETTER, _LETTER_TEXT):
            m = pat.match(inner)
            if m and m.group(1).upper() in letters:
                return Extraction(m.group(1).upper(), "boxed")
        m = re.match(r"^\(?([A-Za-z])\)?[\s:.)]", inner)  # "\boxed{B) 42}"
        if m and m.group(1).upper() in letters:
            return Extraction(m.group(1).upper(), "boxed", "boxed letter followed by text")
        return Extraction(None, "none", f"boxed content is not one of {letters}: {boxed[:60]!r}")
    pat = re.compile(rf"answer\s*(?:is|:)\s*\**\s*\(?([{letters}])\)?(?![A-Za-z])", re.IGNORECASE)
    matches = pat.findall(body)
    if matches:
        return Extraction(
            matches[-1].upper(), "answer_is", "no boxed answer; used the last 'answer is' letter"
        )
    return Extraction(None, "none", "no boxed answer")


def extract_code(text: str, entry_point: str | None = None) -> Extraction:
    """The fenced Python block to grade.

    Preference: the last ```python block that defines ``entry_point``; else the last python
    block; else the last fenced block of any language; else the raw text when it defines the
    entry point (models sometimes skip the fence).
    """
    body = strip_thinking(text)
    blocks = code_blocks(body)
    py = [c for lang, c in blocks if lang in PYTHON_TAGS]
    if entry_point:
        defining = [c for c in py if re.search(rf"def\s+{re.escape(entry_point)}\s*\(", c)]
        if defining:
            return Extraction(defining[-1], "fenced")
    if py:
        note = None if not entry_point else f"no block defines {entry_point}; used the last one"
        return Extraction(py[-1], "fenced", note)
    if blocks:
        return Extraction(blocks[-1][1], "fenced_other", "no python block; used the last fence")
    if entry_point and re.search(rf"def\s+{re.escape(entry_point)}\s*\(", body):
        return Extraction(body, "raw", "no fenced block; graded the raw text")
    return Extraction(None, "none", "no code block")
