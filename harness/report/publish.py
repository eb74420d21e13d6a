"""Log a report (tables and plots) to W&B as a run of ``job_type="report"``."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import pandas as pd

from harness.tracking.mode import resolve_mode

log = logging.getLogger("harness")


def publish(out_dir: Path, files: list[Path], table: pd.DataFrame, project: str) -> str | None:
    """``project`` is ``[ENTITY/]PROJECT``. The mode follows the tracker's (``auto``: online
    only with credentials). Returns where the W&B run went, or None when W&B is off or failed
    (the report files are written either way)."""
    mode = resolve_mode("auto")
    if mode == "disabled":
        return None
    entity, _, name = project.rpartition("/")
    run_id = "r" + hashlib.sha256(os.path.realpath(out_dir).encode()).hexdigest()[:15]
    try:
        import wandb

        run = wandb.init(
            project=name,
            entity=entity or None,
            dir=str(out_dir),
            id=run_id,
            name=f"report {out_dir}",
            job_type="report",
            mode=mode,
            resume="allow",
            reinit="create_new",
            settings=wandb.Settings(
                silent=True, console="off", disable_git=True, x_disable_stats=True
            ),
        )
        images = {f"plots/{p.stem}": wandb.Image(str(p)) for p in files if p.suffix == ".png"}
        run.log({"leaderboard": wandb.Table(dataframe=table), **images})
        art = wandb.Artifact(f"leaderboard-{run_id}", type="report")
        for p in files:
            art.add_file(str(p), name=p.name)
        run.log_artifact(art)
        run.finish()
    except Exception as exc:  # noqa: BLE001 - the report on disk is the result; W&B is extra
        log.warning(
            "W&B: could not log the report (%s: %s); the files are in %s",
            type(exc).__name__,
            exc,
            out_dir,
        )
        return None
    return f"{mode} W&B run {run_id} in {out_dir / 'wandb'}"
