"""Separate a reasoning model's ``<think>…</think>`` from the text it shows others."""

from __future__ import annotations

import re

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
