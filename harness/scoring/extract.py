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


def all_boxed(text: str) -> list[str]:
    """Contents of every ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces), in order.

    Also accepts the brace-less form ``\\boxed 5`` that some models write.
    """
    out: list[str] = []
    pattern = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
    for m in pattern.finditer(text):
        j = m.end()
        while j < len(text) and text[j] == " ":
            j += 1
        if j < len(text) and text[j] == "{":
            got = _read_group(text, j)
            if got is not None:
                out.append(got[0].strip())
        elif j > m.end() and j < len(text):
            token = re.match(r"[^\s$]+", text[j:])
            if token:
                out.append(token.group(0).rstrip(".,"))
    return out


def last_boxed(text: str) -> str | None:
    boxes = all_boxed(text)
    return boxes[-1] if boxes else None


_ANSWER_IS = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:)\s*:?\s*\$*([^\n$]+?)\$*\s*(?:\.\s*)?$",
    re.IGNORECASE | re.MULTILINE,
)


def extract_math(text: str) -> Extraction:
    """Last ``\\boxed{}``; fallback: the last "answer is X" statement."""
    body = strip_thinking(text)
    boxed = last_boxed(body)
    if boxed is not None:
        return Extraction(boxed, "boxed")
    matches = _ANSWER_IS.findall(body)
    if matches:
        ans = matches[-1].strip().rstrip(".")
        if ans:
            return Extraction(ans, "answer_is", "no boxed answer; used the last 'answer is' line")
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
