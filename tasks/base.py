"""What a benchmark is: records in, problems out, and the scorer that grades them.

A task does not know which multi-agent system answers it. Each benchmark module defines a
``Task`` subclass and registers it in ``tasks/__init__.py``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harness.errors import DataError
from harness.problem import DOMAINS, Problem, Score  # noqa: F401
from harness.scoring.context import ScoringContext


@dataclass
class BenchmarkSettings:
    """The keys every ``conf/benchmark/*.yaml`` has; benchmarks with more extend it."""

    name: str
    task: str
    data_files: str | None  # a local JSONL in the source's schema


class Task:
    """Subclasses set ``name``, ``domain``, ``hf_path``/``local_file`` and implement two methods.

    ``self.settings`` holds the typed ``benchmark:`` config (``settings_cls``), read from the
    composed config once by :func:`tasks.settings.benchmark_settings`."""

    name: str = ""
    domain: str = "math"
    hf_path: str | None = None  # default source: a Hugging Face dataset id
    hf_config: str | None = None
    hf_split: str = "test"
    local_file: str = ""  # file name inside HARNESS_DATA_DIR
    settings_cls: ClassVar[type] = BenchmarkSettings

    def __init__(self, settings: BenchmarkSettings) -> None:
        if not isinstance(settings, self.settings_cls):
            raise TypeError(
                f"{type(self).__name__} takes a {self.settings_cls.__name__} "
                f"(tasks.settings.benchmark_settings), got {type(settings).__name__}"
            )
        self.settings: Any = settings

    # -- to implement ------------------------------------------------------------------------
    def to_problem(self, record: dict[str, Any], index: int) -> Problem:
        raise NotImplementedError

    async def score(self, problem: Problem, response: str, ctx: ScoringContext) -> Score:
        raise NotImplementedError

    # -- loading -----------------------------------------------------------------------------
    def load_records(self) -> list[dict[str, Any]]:
        """Records from ``benchmark.data_files``, else ``$HARNESS_DATA_DIR``, else the HF hub."""
        data_files = self.settings.data_files
        if data_files:
            if Path(data_files).is_dir():
                return self.load_dir(Path(data_files))
            return read_jsonl(Path(data_files))
        data_dir = os.environ.get("HARNESS_DATA_DIR")
        if data_dir and self.local_file:
            path = Path(data_dir) / self.local_file
            if not path.exists():
                raise DataError(
                    f"HARNESS_DATA_DIR={data_dir} has no {self.local_file} for benchmark "
                    f"'{self.name}'; set benchmark.data_files=PATH or unset HARNESS_DATA_DIR"
                )
            return read_jsonl(path)
        return self.load_hub()

    def load_hub(self) -> list[dict[str, Any]]:
        if not self.hf_path:
            raise DataError(f"benchmark '{self.name}' has no hub source: set benchmark.data_files")
        try:
            import datasets

            ds = datasets.load_dataset(self.hf_path, self.hf_config, split=self.hf_split)
        except Exception as exc:  # the hub raises many types; the user needs one line
            raise DataError(
                f"could not load {self.hf_path} from the Hugging Face hub ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); for local data set "
                f"benchmark.data_files=PATH or HARNESS_DATA_DIR"
            ) from exc
        return located([dict(r) for r in ds], f"{self.hf_path} ({self.hf_split} split)")

    def load_dir(self, path: Path) -> list[dict[str, Any]]:
        """``benchmark.data_files`` naming a folder (a copy of a hub repository's files)."""
        raise DataError(
            f"benchmark.data_files={path} is a folder; benchmark '{self.name}' reads one JSONL file"
        )

    def load(self) -> list[Problem]:
        """Every problem, or one :class:`DataError` line naming the file, the line and what is
        wrong with it (a missing field, a value of the wrong type), or "no problems"."""
        loaded = self.load_records()
        try:
            records = self.select(loaded)
        except KeyError as exc:  # name the first row without the field the selection needs
            bad = next((r for r in loaded if isinstance(r, dict) and exc.args[0] not in r), None)
            where = getattr(bad, "origin", None) or f"benchmark '{self.name}'"
            raise DataError(
                f"{where}: missing field {exc.args[0]!r} (benchmark '{self.name}' needs it)"
            ) from exc
        problems = []
        for i, r in enumerate(records):
            where = getattr(r, "origin", None) or f"benchmark '{self.name}' record {i + 1}"
            if not isinstance(r, dict):
                raise DataError(f"{where}: not a JSON object ({type(r).__name__})")
            try:
                problems.append(self.to_problem(r, i))
            except DataError as exc:
                raise DataError(f"{where}: {exc}") from exc
            except KeyError as exc:
                raise DataError(
                    f"{where}: missing field {exc.args[0]!r} (benchmark '{self.name}' needs it)"
                ) from exc
            except (ValueError, TypeError, AttributeError) as exc:
                raise DataError(f"{where}: bad value for benchmark '{self.name}' ({exc})") from exc
        if not problems:
            src = getattr(loaded, "source", None) or f"benchmark '{self.name}'"
            raise DataError(f"{src}: no problems" + (" after selection" if loaded else ""))
        ids = [p.id for p in problems]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise DataError(f"benchmark '{self.name}': problem id {dup!r} is not unique")
        return problems

    def select(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Hook for splits / filtering; default keeps everything."""
        return records

    def problem_for_repeat(self, problem: Problem, repeat: int) -> Problem:
        """The problem as posed in repeat ``repeat`` (0-based); default: unchanged.

        The runner calls this for every (problem, repeat) before answering and scoring, so a
        task can vary the presentation per repeat (GPQA reshuffles its choices when
        ``benchmark.shuffle_per_repeat`` is set). The returned problem keeps ``id``.
        """
        return problem


class Record(dict):
    """A data row that knows where it came from (``file:line``), for one-line data errors."""

    origin: str = ""


class Records(list):
    """The rows of one source, named for the "no problems" error."""

    source: str = ""


def located(rows: list[Any], source: str, origin: Any = None) -> Records:
    """``rows`` as :class:`Records` of :class:`Record` (``origin(i)`` names row i)."""
    out = Records()
    out.source = source
    for i, row in enumerate(rows):
        if isinstance(row, dict):
            rec = Record(row)
            rec.origin = origin(i) if origin else f"{source} row {i + 1}"
            row = rec
        out.append(row)
    return out


def read_jsonl(path: Path) -> Records:
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    rows, lines = [], []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
                lines.append(n)
    return located(rows, str(path), lambda i: f"{path}:{lines[i]}")
