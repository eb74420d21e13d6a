"""``python -m training``: supervised fine-tuning, Hydra-configured (``conf/train/``).

Launchable as is (one process; on CPU DeepSpeed runs over gloo), or with ``torchrun``,
``deepspeed --module training`` or ``accelerate launch -m training`` for several GPUs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from harness.errors import HarnessError

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf" / "train")


def _take_launcher_args() -> None:
    """The ``deepspeed`` launcher appends ``--local_rank=N``, which Hydra would reject."""
    keep = [sys.argv[0]]
    args = iter(sys.argv[1:])
    for a in args:
        if a.startswith(("--local_rank", "--local-rank")):
            value = a.split("=", 1)[1] if "=" in a else next(args, "0")
            os.environ.setdefault("LOCAL_RANK", value)
        else:
            keep.append(a)
    sys.argv[:] = keep
    several = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if several and not any(a.startswith("hydra.run.dir=") for a in keep):
        print(
            "error: a multi-process launch needs hydra.run.dir=DIR (every rank must write "
            "to the same output dir)",
            file=sys.stderr,
        )
        sys.exit(2)


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def _hydra_main(cfg: DictConfig) -> None:
    from training.train import run

    try:
        run(cfg, HydraConfig.get().runtime.output_dir)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    _take_launcher_args()
    _hydra_main()


if __name__ == "__main__":
    main()
