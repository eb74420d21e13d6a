"""Sweep points as the report sees them: one per run directory (or W&B run), with its status.

A run directory is found by its ``summary.json``, or, when a point crashed before writing one,
by its ``results.jsonl`` or Hydra's ``.hydra/`` folder. Status is never guessed upward:

- ``complete``: every selected problem × repeat has a result and the run did not fail;
- ``partial``: some results (n of n_expected), e.g. a run that was killed or hit errors;
- ``failed``: no results at all (a bad override, a crash at start).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import HarnessError
from harness.rows import ResultRow, Summary, read_results, read_summary
from harness.scoring import stats
from harness.summary import by_role as sum_roles
from harness.summary import no_answer_causes

#: knobs that tell two points of one model × system × benchmark apart
KNOBS = ("agents", "tokens", "turns", "critic_rounds", "repeats", "seed", "temperature")
STATUSES = ("complete", "partial", "failed")
#: folders that hold no run directories of ours (W&B's and submitit's own files, reports)
_SKIP_DIRS = {"wandb", ".submitit", ".hydra", "report"}


@dataclass
class Point:
    source: str  # the run dir, or wandb:ENTITY/PROJECT/RUN_ID
    model: str
    mas: str
    benchmark: str
    knobs: dict[str, Any]
    status: str
    n: int
    n_expected: int | None
    accuracy: float | None
    stderr: float | None
    correct: int | None = None
    tokens_per_problem: float | None = None
    completion_tokens_per_problem: float | None = None
    no_answer: int | None = None
    tokens_by_role: dict[str, dict[str, int]] | None = None
    error: str | None = None
    no_answer_causes: dict[str, int] | None = None  # summary.json's split of no_answer
    config_hash: str | None = None
    rows: list[ResultRow] | None = field(default=None, repr=False)  # results, when on disk


def find_run_dirs(paths: Iterable[str | Path]) -> list[Path]:
    """Run directories under ``paths`` (each a run dir or a sweep dir), sorted."""
    found: set[Path] = set()
    for root in map(Path, paths):
        if not root.exists():
            raise HarnessError(f"{root}: no such file or directory")
        for marker in ("summary.json", "results.jsonl", ".hydra"):
            for hit in [root / marker, *root.rglob(marker)]:
                if hit.exists() and not _SKIP_DIRS & set(hit.parent.relative_to(root).parts):
                    found.add(_shown(hit.parent))
    return sorted(found)


def _shown(path: Path) -> Path:
    """The path relative to the working directory when it is below it (readable in tables and
    the CSV), else absolute."""
    absolute = path.resolve()
    try:
        return absolute.relative_to(Path.cwd().resolve())
    except ValueError:
        return absolute


def load_run_dir(run_dir: str | Path) -> Point:
    run_dir = Path(run_dir)
    summary = read_summary(run_dir / "summary.json")
    config = _read_config(run_dir)
    rows = list(read_results(run_dir).values())
    if summary is not None:
        return _from_summary(str(run_dir), summary, config, rows)
    # No summary.json: the point crashed (or is still running) before writing one.
    knobs = {k: _knob(k, config.get(k)) for k in KNOBS}
    limit, repeats = config.get("limit"), config.get("repeats") or 1
    acc = stats.accuracy([r.to_json() for r in rows]) if rows else {}
    return Point(
        source=str(run_dir),
        model=_name(config, "model"),
        mas=_name(config, "mas"),
        benchmark=_name(config, "benchmark"),
        knobs=knobs,
        status="partial" if rows else "failed",
        n=len(rows),
        n_expected=int(limit) * int(repeats) if isinstance(limit, int) else None,
        accuracy=acc.get("accuracy"),
        stderr=acc.get("stderr"),
        correct=sum(bool(r.correct) for r in rows),
        error=_log_error(run_dir) or "no summary.json (the point crashed or is still running)",
        rows=rows,
        **_from_rows(rows),
    )


def load_points(paths: Iterable[str | Path]) -> list[Point]:
    return [load_run_dir(d) for d in find_run_dirs(paths)]


def _from_summary(source: str, s: Summary, config: dict[str, Any], rows: list[ResultRow]) -> Point:
    n = s.n
    status = "complete" if s.finished else ("partial" if n else "failed")
    knobs = {k: _knob(k, _either(getattr(s, k), config.get(k))) for k in KNOBS}
    if len(rows) != n:
        rows = []  # results.jsonl holds other rows too (a lowered limit): use the summary only
    derived = _from_rows(rows) if rows else {}
    return Point(
        source=source,
        model=model_label(s, config),
        mas=str(s.mas or _name(config, "mas")),
        benchmark=str(s.benchmark or _name(config, "benchmark")),
        knobs=knobs,
        status=status,
        n=n,
        n_expected=s.n_expected,
        accuracy=s.accuracy,
        stderr=s.stderr,
        correct=s.correct,
        # figures a summary from before they existed lacks, from its results
        tokens_per_problem=_either(s.tokens_per_problem, derived.get("tokens_per_problem")),
        completion_tokens_per_problem=_either(
            s.completion_tokens_per_problem, derived.get("completion_tokens_per_problem")
        ),
        no_answer=_either(s.no_answer, derived.get("no_answer")),
        no_answer_causes=s.no_answer_causes or derived.get("no_answer_causes"),
        tokens_by_role=s.tokens_by_role or derived.get("tokens_by_role"),
        error=s.error,
        config_hash=s.config_hash,
        rows=rows or None,
    )


def _either(value: Any, fallback: Any) -> Any:
    """A summary's field, else (absent or null: an older summary) ``fallback``."""
    return fallback if value is None else value


def model_label(s: Summary, config: dict[str, Any]) -> str:
    """The row's model: ``model.name``, unless it is only the generic API config's name
    (``model=openai``: whatever the server serves), then the id the server reported."""
    name = str(s.model or _name(config, "model"))
    served = s.served_model
    engine = (config.get("model") or {}).get("engine") if isinstance(config, dict) else None
    if served and name == "openai" and engine in (None, "openai"):
        return str(served)
    return name


def _from_rows(rows: list[ResultRow]) -> dict[str, Any]:
    """Figures a summary may lack, from results lines (``answer: null`` = nothing extracted),
    by the names of Point's fields."""
    if not rows:
        return {}
    prompt = sum(int(r.prompt_tokens or 0) for r in rows)
    completion = sum(int(r.completion_tokens or 0) for r in rows)
    return {
        "tokens_per_problem": (prompt + completion) / len(rows),
        "completion_tokens_per_problem": completion / len(rows),
        "no_answer": sum(1 for r in rows if r.no_answer),
        "no_answer_causes": no_answer_causes(rows),
        "tokens_by_role": sum_roles(r.tokens_by_role for r in rows),
    }


def _read_config(run_dir: Path) -> dict[str, Any]:
    """The resolved config the run saved, else the one Hydra wrote before the job started
    (unresolved: only literal values such as the group names and knobs are used)."""
    for path in (run_dir / "config.yaml", run_dir / ".hydra" / "config.yaml"):
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict):
            return data
    return {}


def _name(config: dict[str, Any], group: str) -> str:
    node = config.get(group)
    name = node.get("name") if isinstance(node, dict) else node
    return str(name) if name is not None else "?"


def _knob(key: str, value: Any) -> Any:
    if key == "tokens" and value is not None:
        from harness.knobs import parse_tokens

        try:
            return parse_tokens(value)
        except HarnessError:
            return str(value)  # a bad value: shown as given, next to the failure
    return value


_LOG_ERROR = re.compile(r"\]\[(?:ERROR|CRITICAL)\] - (.*)$")


def _log_error(run_dir: Path) -> str | None:
    """The last error line of the run's own log, for points that died without a summary."""
    for name in ("harness.log", *(p.name for p in run_dir.glob("*.log"))):
        try:
            lines = (run_dir / name).read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in reversed(lines):
            m = _LOG_ERROR.search(line)
            if m:
                return m.group(1).strip()
    return None
