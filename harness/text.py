"""Text helpers every layer shares: the thinking split, fenced code blocks, token counts.

Lowest layer (imports nothing of the harness). One implementation each: the multi-agent
parsers, the scorers, the knobs and the engines all read model text through these.
"""

from __future__ import annotations

import re
from typing import Any

_THINK = re.compile(r"<think>(.*?)</think>", re.S)


def split_thinking(text: str) -> tuple[str | None, str]:
    """Return (thinking, visible). An unclosed ``<think>`` means the model never finished
    thinking: all of it is thinking and nothing is visible."""
    parts = _THINK.findall(text)
    visible = _THINK.sub("", text)
    if "<think>" in visible:
        head, _, tail = visible.partition("<think>")
        parts.append(tail)
        visible = head
    # A response that starts inside a forced prefix may carry only the closing tag.
    if "</think>" in visible:
        head, _, visible = visible.rpartition("</think>")
        parts.insert(0, head)
    thinking = "\n".join(p.strip() for p in parts if p.strip()) or None
    return thinking, visible.strip()


def visible_text(text: str) -> str:
    """Only the text outside ``<think>…</think>`` (an unclosed think is all thinking)."""
    return split_thinking(text)[1]


# An unclosed last fence counts: a response cut at its token limit still holds its code.
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
PYTHON_TAGS = ("", "python", "py", "python3")


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in order."""
    return [(m.group(1).lower(), m.group(2)) for m in _FENCE.finditer(text)]


def python_blocks(text: str) -> list[str]:
    """Bodies of the Python (or untagged) fenced blocks, in order."""
    return [body for lang, body in code_blocks(text) if lang in PYTHON_TAGS]


def last_python_block(text: str) -> str | None:
    """The last Python (or untagged) fenced block, stripped; None when there is none."""
    blocks = python_blocks(text)
    return blocks[-1].strip() if blocks and blocks[-1].strip() else None


_TOKEN_COUNT = re.compile(
    r"(?<![\w.])(\d+(?:[,_ ]\d{3})*(?:\.\d+)?)\s*(k|K|thousand)?(?:\s*tokens?)?(?![A-Za-z0-9])"
)


def find_token_count(text: str) -> int | None:
    """The first token count in ``text``: ``8192``, ``8,192 tokens``, ``8k``, ``8 K``,
    ``16.5k`` (k = 1024, as the ``tokens`` knob and the 2k…32k budget menu count them)."""
    m = _TOKEN_COUNT.search(str(text))
    if not m:
        return None
    value = float(re.sub(r"[,_ ]", "", m.group(1)))
    if m.group(2):
        value *= 1024
    return int(value)


_WHOLE_TOKEN_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kK]?)\s*(?:tokens?)?\s*$")


def read_token_count(value: str) -> int | None:
    """A value that is a token count and nothing else (``8k``, ``256``, ``16k tokens``)."""
    m = _WHOLE_TOKEN_COUNT.match(str(value))
    if not m:
        return None
    return int(float(m.group(1)) * (1024 if m.group(2) else 1))


def escape_surrogates(value: Any) -> tuple[Any, int]:
    """``value`` (a string, or lists / tuples / dicts of them, keys included) with every lone
    UTF-16 surrogate (``"\\ud800"``, which a model or a program can produce and which no UTF-8
    file, W&B or a browser can take) written as its escape text (``\\ud800``), and how many
    strings were changed. Everything else is returned as is (the same object when unchanged)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8"), 1
        return value, 0
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        changed = 0
        for k, v in value.items():
            k2, a = escape_surrogates(k)
            v2, b = escape_surrogates(v)
            out[k2] = v2
            changed += a + b
        return (out, changed) if changed else (value, 0)
    if isinstance(value, (list, tuple)):
        items = [escape_surrogates(v) for v in value]
        changed = sum(n for _, n in items)
        if not changed:
            return value, 0
        kind = tuple if isinstance(value, tuple) else list
        return kind(v for v, _ in items), changed
    return value, 0
