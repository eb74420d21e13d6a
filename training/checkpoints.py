"""Every saved checkpoint becomes a harness model, with no YAML written by hand.

The run's ``checkpoints.json`` lists ``{"name", "path", "step", "epoch"}`` per checkpoint.
Each is also registered as ``<registry>/model/<name>.yaml``: a model config that inherits the
engine settings of a harness model config (``register.base``) and points ``path`` at the
checkpoint. ``hydra_plugins/harness_models`` puts the registry on the harness's config search
path, so ``python -m harness model=<name>`` and ``-m model=<a>,<b>`` just work.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from harness.errors import ConfigError
from training.settings import RegisterSpec

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def checkpoint_name(run_name: str, step: int, epoch: float | None, by_epoch: bool) -> str:
    if by_epoch and epoch is not None:
        return f"{run_name}-epoch{round(epoch)}"
    return f"{run_name}-step{step}"


def registry_entry(name: str, path: Path, base: str, run_dir: Path) -> str:
    return (
        f"# Registered by `python -m training` (run {run_dir}).\n"
        f"# Evaluate: python -m harness model={name}\n"
        "defaults:\n"
        f"  - {base}\n"
        "  - _self_\n\n"
        f"name: {json.dumps(name)}\n"
        f"path: {json.dumps(str(path))}\n"
        "build: null\n"
    )


def register(spec: RegisterSpec, name: str, path: Path, run_dir: Path) -> Path:
    if not _NAME.match(name):
        raise ConfigError(
            f"checkpoint name {name!r} is not a valid model name (letters, digits, ._-)"
        )
    out = Path(spec.dir).expanduser() / "model" / f"{name}.yaml"
    _write_atomically(out, registry_entry(name, path.resolve(), spec.base, run_dir.resolve()))
    return out


def sweep_command(names: list[str], benchmark: str) -> str:
    if len(names) == 1:
        return f"python -m harness model={names[0]} benchmark={benchmark}"
    return f"python -m harness -m model={','.join(names)} benchmark={benchmark}"


class CheckpointRecorder(TrainerCallback):
    """After each save (all ranks have written): record and register it, on rank 0 only."""

    def __init__(self, run_dir: Path, run_name: str, spec: RegisterSpec, by_epoch: bool) -> None:
        self.run_dir = run_dir
        self.run_name = run_name
        self.spec = spec
        self.by_epoch = by_epoch
        self.entries: list[dict[str, Any]] = []
        self.path = run_dir / "checkpoints.json"

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        epoch = round(state.epoch, 4) if state.epoch is not None else None
        name = checkpoint_name(self.run_name, state.global_step, epoch, self.by_epoch)
        entry = {
            "name": name,
            "path": str(folder.resolve()),
            "step": state.global_step,
            "epoch": epoch,
        }
        self.entries = [e for e in self.entries if e["name"] != name] + [entry]
        # save_total_limit rotates old checkpoints away before this callback: forget them.
        for gone in [e for e in self.entries if not Path(e["path"]).exists()]:
            self.entries.remove(gone)
            (Path(self.spec.dir).expanduser() / "model" / f"{gone['name']}.yaml").unlink(
                missing_ok=True
            )
        _write_atomically(self.path, json.dumps(self.entries, indent=2) + "\n")
        if self.spec.enabled:
            register(self.spec, name, folder, self.run_dir)
        print(f"checkpoint {name}: {folder}", flush=True)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
