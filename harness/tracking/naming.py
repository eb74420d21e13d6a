"""How a sweep point is named in W&B: a stable run id, a readable name, and its sweep's group."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import yaml

GROUP_MAX = 128  # W&B's limit on a group name


def wandb_run_id(run_dir: str | Path) -> str:
    """The same W&B run id every time this run directory is run (so a rerun resumes the W&B run
    instead of creating a twin), and different ids for different directories (two local result
    stores must never write into one W&B run)."""
    path = os.path.realpath(str(run_dir))
    return "h" + hashlib.sha256(path.encode()).hexdigest()[:15]


def run_name(run_dir: str | Path, info: dict[str, Any]) -> str:
    if info.get("run_id"):
        return str(info["run_id"])
    path = Path(run_dir).resolve()
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def sweep_group(run_dir: str | Path, info: dict[str, Any]) -> str | None:
    """The sweep this point belongs to, as a W&B group: the sweep's own overrides (what was
    swept, e.g. ``model=tiny tokens=16,32 seed=0,1``), read from the ``multirun.yaml`` Hydra
    writes in the sweep dir. A single run (no sweep) gets no group."""
    overrides = info.get("sweep_overrides")
    if overrides is None:
        overrides = _sweep_overrides(Path(run_dir))
    if overrides is None:
        return None
    text = " ".join(str(o) for o in overrides) or "(no overrides)"
    if len(text) <= GROUP_MAX:
        return text
    tag = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{text[: GROUP_MAX - 10]}… {tag}"


def _sweep_overrides(run_dir: Path) -> list[str] | None:
    for parent in run_dir.resolve().parents:
        marker = parent / "multirun.yaml"
        if marker.is_file():
            try:
                data = yaml.safe_load(marker.read_text()) or {}
                return list(data["hydra"]["overrides"]["task"])
            except (OSError, yaml.YAMLError, KeyError, TypeError):
                return None
    return None
