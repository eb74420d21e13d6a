"""``python -m harness``: one evaluation, or a sweep with ``-m``.

Bad input (an unknown knob value, a missing data file) ends with one line on stderr saying what
is wrong and what is accepted, and exit status 2; in a sweep the other points still run.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from harness.errors import HarnessError

log = logging.getLogger("harness")
_failures: list[str] = []
# An absolute path: with an editable install Hydra would otherwise look for a `conf` module.
CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> float | None:
    from harness.runner import run

    hc = HydraConfig.get()
    run_dir = hc.runtime.output_dir
    try:
        summary = run(cfg, run_dir)
    except HarnessError as exc:
        if hc.mode == RunMode.MULTIRUN:
            log.error("%s: %s", hc.job.override_dirname or run_dir, exc)
            _failures.append(str(exc))
            return None
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    pending = summary.get("not_recorded_engine_errors")
    if pending:
        msg = f"{pending} problems hit engine errors and were not recorded; rerun to retry them"
        if hc.mode == RunMode.MULTIRUN:
            _failures.append(msg)
        else:
            print(f"error: {msg}", file=sys.stderr)
            sys.exit(3)
    keys = (
        "benchmark",
        "model",
        "mas",
        "n",
        "accuracy",
        "stderr",
        "calls",
        "completion_tokens",
        "wall_s",
    )
    print(json.dumps({k: summary.get(k) for k in keys}))
    log.info("summary: %s", os.path.join(run_dir, "summary.json"))
    return summary.get("accuracy")  # for Hydra sweepers that optimise a value


def main() -> None:
    _hydra_main()
    if _failures:
        print(f"error: {len(_failures)} sweep point(s) failed: {_failures[0]}", file=sys.stderr)
        sys.exit(2)
