"""The run store: everything a run leaves in its output directory.

- ``config.yaml``      the resolved config
- ``identity.json``    run id, config hash and the digest of the data loaded: what resume checks
- ``results.jsonl``    one line per problem × repeat, appended and fsynced as each finishes
- ``transcripts.jsonl`` every model call of each episode, written just before its result line
- ``summary.json``     aggregate figures, rewritten atomically at the end

A result line is the commit point: a problem counts as done once its line is complete. After a
``kill -9`` the torn tail of a line is cut off before appending, and a key that appears twice
(possible only with hand-edited files) is counted once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from harness.errors import ConfigError
from harness.identity import identity
from harness.rows import ResultRow, Summary, read_summary
from harness.text import escape_surrogates
from harness.transcript import iter_records


class RunStore:
    def __init__(self, run_dir: str | Path) -> None:
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.results_path = self.dir / "results.jsonl"
        self.transcripts_path = self.dir / "transcripts.jsonl"
        self.summary_path = self.dir / "summary.json"
        self.config_path = self.dir / "config.yaml"
        self.identity_path = self.dir / "identity.json"
        self._results_f = None
        self._transcripts_f = None

    # -- config / identity -------------------------------------------------------------------
    def prepare(self, cfg: dict[str, Any], ident: dict[str, Any], overwrite: bool = False) -> None:
        """Check that existing results were made by the same configuration on the same data,
        then save both. ``cfg`` is the resolved config, ``ident`` its run id, config hash and
        data digest."""
        if overwrite:
            for p in (self.results_path, self.transcripts_path, self.summary_path):
                p.unlink(missing_ok=True)
        elif self.results_path.exists() and self.config_path.exists():
            old = OmegaConf.to_container(OmegaConf.load(self.config_path), resolve=False)
            diff = _diff(identity(old), identity(cfg))
            if diff:
                raise ConfigError(
                    f"{self.dir} holds results of a different configuration (differs at: "
                    f"{', '.join(diff[:5])}); use another hydra.run.dir or run.overwrite=true"
                )
            before = self.read_identity()
            if before.get("data_digest") and before["data_digest"] != ident["data_digest"]:
                raise ConfigError(
                    f"{self.dir} holds results of different benchmark data (digest "
                    f"{before['data_digest']} then, {ident['data_digest']} now); use another "
                    f"hydra.run.dir or run.overwrite=true"
                )
        _atomic_write(self.config_path, OmegaConf.to_yaml(OmegaConf.create(cfg)))
        _atomic_write(self.identity_path, json.dumps(ident, indent=2) + "\n")

    def read_identity(self) -> dict[str, Any]:
        try:
            return json.loads(self.identity_path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    # -- results -----------------------------------------------------------------------------
    def load_results(self) -> dict[tuple[str, int], ResultRow]:
        """Finished (id, repeat) → result; a torn last line is dropped from the file."""
        done: dict[tuple[str, int], ResultRow] = {}
        for line in _read_jsonl_repairing(self.results_path):
            row = ResultRow.from_json(line)
            done.setdefault(row.key, row)
        _repair_tail(self.transcripts_path)
        return done

    def append(self, result: ResultRow, transcript: dict[str, Any]) -> ResultRow:
        """Write one episode's transcript line, then its result line; returns the result as
        written (text escaped, see below)."""
        if self._results_f is None:
            self._results_f = self.results_path.open("a", encoding="utf-8")
            self._transcripts_f = self.transcripts_path.open("a", encoding="utf-8")
        # Text no UTF-8 file can hold (a lone surrogate in a response, a program's output or an
        # error message) is escaped (the transcript in place; the result as returned), so the
        # tracker and the summary, which get these rows after the store, see the same safe
        # text; the line records how many strings (``text_escaped``).
        line = result.to_json()
        for row in (transcript, line):
            _escape_in_place(row)
        # The transcript goes first so a result line never points at a missing transcript.
        _append_line(self._transcripts_f, transcript)
        _append_line(self._results_f, line)
        return ResultRow.from_json(line)

    def write_summary(self, summary: Summary | dict[str, Any]) -> None:
        """``summary.json``; a dict is the early-failure summary (harness.runner), written
        before there is a run to summarise."""
        data = summary.to_json() if isinstance(summary, Summary) else summary
        _atomic_write(self.summary_path, json.dumps(data, indent=2, sort_keys=False) + "\n")

    def read_summary(self) -> Summary | None:
        return read_summary(self.summary_path)

    def close(self) -> None:
        for f in (self._results_f, self._transcripts_f):
            if f is not None:
                f.close()
        self._results_f = self._transcripts_f = None


ESCAPED_KEY = "text_escaped"


def _escape_in_place(row: dict[str, Any]) -> None:
    """Escape lone surrogates in ``row`` (see harness.text.escape_surrogates), recording the
    number of strings changed under ``text_escaped``; a clean row is left untouched."""
    try:
        json.dumps(row, ensure_ascii=False, default=str).encode("utf-8")
        return
    except UnicodeEncodeError:
        pass
    clean, changed = escape_surrogates(json.loads(json.dumps(row, default=str)))
    row.clear()
    row.update(clean)
    row[ESCAPED_KEY] = int(row.get(ESCAPED_KEY) or 0) + changed


def _append_line(f, row: dict[str, Any]) -> None:
    line = json.dumps(row, ensure_ascii=False, default=str)
    try:
        data = line + "\n"
        data.encode("utf-8")
    except UnicodeEncodeError:  # a row not passed through _escape_in_place: never crash
        data = json.dumps(row, default=str) + "\n"
    f.write(data)
    f.flush()
    os.fsync(f.fileno())


def _repair_tail(path: Path) -> None:
    """kill -9 mid-write leaves a partial last line: cut it, so the next append starts on a
    fresh line. Reads only the tail (transcripts can be large)."""
    if not path.exists():
        return
    with path.open("r+b") as f:
        end = f.seek(0, os.SEEK_END)
        if end == 0:
            return
        f.seek(end - 1)
        if f.read(1) == b"\n":
            return
        pos = end
        while pos > 0:
            step = min(65536, pos)
            pos -= step
            f.seek(pos)
            chunk = f.read(step)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                f.truncate(pos + cut + 1)
                return
        f.truncate(0)


def _read_jsonl_repairing(path: Path) -> list[dict[str, Any]]:
    _repair_tail(path)
    return list(iter_records(path))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
