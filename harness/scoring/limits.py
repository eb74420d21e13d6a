"""Time limits for graded code, from the reference solution's measured CPU time (evalplus's
policy: ``max(floor, factor x reference)``), measured once per problem and cached on disk.

CPU time, not wall time: on a busy machine a program gets less of a core, which stretches its
wall time but hardly its CPU time, so a verdict does not depend on the load. The cache is a JSON
file (``scoring.reference_times``, under ``$HARNESS_CACHE`` by default) keyed by benchmark,
problem and a hash of the program and the interpreter, so a changed reference or test set, or
another Python, is measured again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CodeLimits:
    cpu_s: float
    wall_s: float
    reference_cpu_s: float | None  # None: the reference could not be measured
    note: str | None = None

    def as_details(self) -> dict:
        out = {"cpu_limit_s": round(self.cpu_s, 3), "wall_limit_s": round(self.wall_s, 3)}
        if self.reference_cpu_s is not None:
            out["reference_cpu_s"] = round(self.reference_cpu_s, 4)
        if self.note:
            out["limits_note"] = self.note
        return out


def reference_key(benchmark: str, problem_id: str, program: str, tests: str) -> str:
    digest = hashlib.sha256()
    for part in (program, tests, sys.version, platform.machine()):
        digest.update(part.encode())
        digest.update(b"\0")
    return f"{benchmark}/{problem_id}/{digest.hexdigest()[:16]}"


class ReferenceTimes:
    """The on-disk cache of measured reference CPU times (None path: in memory only)."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path).expanduser() if path else None
        self._entries: dict[str, dict] | None = None

    def _load(self) -> dict[str, dict]:
        if self._entries is None:
            self._entries = self._read()
        return self._entries

    def _read(self) -> dict[str, dict]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # a damaged cache is measured again, not trusted
        entries = data.get("entries") if isinstance(data, dict) else None
        return entries if isinstance(entries, dict) else {}

    def get(self, key: str) -> float | None:
        entry = self._load().get(key)
        if isinstance(entry, dict) and isinstance(entry.get("cpu_s"), int | float):
            return float(entry["cpu_s"])
        return None

    def put(self, key: str, cpu_s: float, wall_s: float) -> None:
        entry = {"cpu_s": round(cpu_s, 5), "wall_s": round(wall_s, 4), "measured": time.time()}
        self._load()[key] = entry
        if self.path is None:
            return
        # Several processes (sweep points run in parallel) may add entries: merge under a lock.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with open(lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            merged = self._read()
            merged[key] = entry
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".")
            try:
                with os.fdopen(fd, "w") as fh:
                    json.dump({"version": 1, "entries": merged}, fh, indent=0, sort_keys=True)
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            self._entries = {**merged, **self._entries}
