"""A run directory → what its report shows.

Reads ``config.yaml``, ``summary.json``, and results with their transcripts through
:func:`harness.transcript.read_episodes`, which yields only the transcript of the attempt each
result names (a crash and resume can leave an older attempt in ``transcripts.jsonl``).
Episode bodies are packed as they stream in, so a run of thousands of calls is never held
unpacked in memory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from harness.errors import DataError
from harness.rows import ResultRow, Summary, read_results, read_summary
from harness.transcript import read_episodes
from harness.view.embed import packed, to_json
from harness.view.records import episode_body, table_row


@dataclass
class RunView:
    dir: Path
    config: dict[str, Any]
    summary: Summary | None
    rows: list[dict[str, Any]] = field(default_factory=list)
    # One per row (same order): the packed episode body, or its plain dict (``pack=False``).
    episodes: list[Any] = field(default_factory=list)

    @property
    def benchmark(self) -> str:
        bench = self.config.get("benchmark")
        name = bench.get("name") if isinstance(bench, dict) else bench
        return str(name or (self.summary and self.summary.benchmark) or "?")

    @property
    def label(self) -> str:
        """``model · mas · benchmark`` (what a reader tells runs apart by)."""
        model = self.config.get("model")
        mas = self.config.get("mas")
        s = self.summary or Summary()
        return " · ".join(
            str(x)
            for x in (
                (model.get("name") if isinstance(model, dict) else model) or s.model or "?",
                (mas.get("name") if isinstance(mas, dict) else mas) or s.mas or "?",
                self.benchmark,
            )
        )


def is_run_dir(path: Path) -> bool:
    return (path / "results.jsonl").is_file()


def _config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.yaml"
    if not path.exists():
        return {}
    try:
        node = OmegaConf.load(path)
        # Resolved when written; an interpolation left in it stays as text rather than fail.
        return OmegaConf.to_container(node, resolve=False) or {}
    except Exception as exc:  # noqa: BLE001 - a broken config must not hide the results
        raise DataError(f"{path}: unreadable config ({type(exc).__name__}: {exc})") from exc


def load_run(run_dir: str | Path, *, pack: bool = True) -> RunView:
    """Everything the report of ``run_dir`` shows; a DataError when it is no run directory."""
    path = Path(run_dir)
    if not path.is_dir():
        raise DataError(f"{path}: no such directory")
    if not is_run_dir(path):
        raise DataError(f"{path}: not a run directory (no results.jsonl)")
    view = RunView(path, _config(path), read_summary(path / "summary.json"))
    encode = packed if pack else (lambda body: json.loads(to_json(body)))
    # A result names its attempt; without attempt ids (older runs) the last transcript of a
    # key is the one written just before its result line.
    shown: dict[tuple[str, int], tuple[dict[str, Any], Any]] = {}
    for line, ep in read_episodes(path):
        row = ResultRow.from_json(line)
        shown[row.key] = (table_row(0, row, ep), encode(episode_body(row, ep)))
    for n, (key, row) in enumerate(read_results(path).items(), 1):
        if key in shown:
            line, body = shown.pop(key)
        else:  # a result whose transcript is missing still has its row
            line, body = table_row(0, row, None), encode(episode_body(row, None))
        view.rows.append(line | {"n": n, "ep": n - 1})
        view.episodes.append(body)
    return view
