"""Reading a written report back: its tags, its CSP, and the data it embeds."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from harness.view.embed import unpacked


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script, self._text = dict(attrs), []

    def handle_data(self, data):
        if self._script is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._script is not None:
            self.scripts.append((self._script, "".join(self._text)))
            self._script = None


class Page:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.html = path.read_text(encoding="utf-8")
        parser = _Tags()
        parser.feed(self.html)
        self.tags = parser.tags
        self.scripts = parser.scripts

    def blob(self, element_id: str) -> Any:
        for attrs, text in self.scripts:
            if attrs.get("id") == element_id:
                return json.loads(text)
        raise KeyError(element_id)

    @property
    def data(self) -> dict[str, Any]:
        return self.blob("view-data")

    def episodes(self, run: int = 0) -> list[dict[str, Any]]:
        return [
            e if isinstance(e, dict) else unpacked(e) for e in self.blob(f"view-episodes-{run}")
        ]

    @property
    def csp(self) -> str:
        for tag, attrs in self.tags:
            if (
                tag == "meta"
                and (attrs.get("http-equiv") or "").lower() == "content-security-policy"
            ):
                return attrs["content"] or ""
        return ""

    def executable_scripts(self) -> list[str]:
        return [text for attrs, text in self.scripts if attrs.get("type") != "application/json"]

    def tag_names(self) -> set[str]:
        return {t for t, _ in self.tags}

    def text_of_all_episodes(self, run: int = 0) -> str:
        return json.dumps(self.episodes(run), ensure_ascii=False)


def csp_source(csp: str, directive: str) -> str:
    m = re.search(rf"(?:^|;)\s*{directive}\s+([^;]+)", csp)
    return m.group(1).strip() if m else ""
