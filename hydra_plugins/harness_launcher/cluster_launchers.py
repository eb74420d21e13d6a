"""The harness's versions of Hydra's joblib and submitit launchers (``hydra/launcher=parallel``,
``submitit_local`` and the ``slurm_*`` presets): the same launchers, plus what a first run on a
cluster needs.

- Before anything starts, one line and exit 2 for what cannot work: under joblib, more than one
  worker with a GPU engine (each would load its own vLLM engine on the same GPUs); under
  SLURM, a vLLM point whose parallel size does not fill the GPUs its job gets.
- After the points ran in other processes, their outcomes (each point's summary.json) decide the
  exit status, as for the default launcher: 2 when a point failed, 3 when problems were left
  unrecorded. Hydra's own launchers return status 0 for a point that failed with a message.
"""

# No `from __future__ import annotations`: Hydra loads plugin modules without registering them
# in sys.modules, and dataclasses then cannot resolve string annotations.

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn, JobStatus
from hydra_plugins.hydra_joblib_launcher.config import JobLibLauncherConf
from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher
from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    LocalLauncher as _LocalLauncher,
)
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import (
    SlurmLauncher as _SlurmLauncher,
)
from omegaconf import DictConfig

import harness.cluster as cluster
from harness.errors import HarnessError

log = logging.getLogger(__name__)
HERE = "hydra_plugins.harness_launcher.cluster_launchers"


def _refuse(exc: HarnessError) -> None:
    # Inside Hydra a raised error becomes a traceback and exit 1; this is bad input: one line.
    print(f"error: {exc}", file=sys.stderr, flush=True)
    sys.exit(2)


def _sweep_configs(launcher, job_overrides: Sequence[Sequence[str]]) -> list[DictConfig]:
    loader = launcher.hydra_context.config_loader
    return [loader.load_sweep_config(launcher.config, list(o)) for o in job_overrides]


def _collect(rets: Sequence[JobReturn]) -> None:
    """Record the points' outcomes where the CLI sets the exit status (harness.cli.STATE)."""
    from harness import cli

    for ret in rets:
        if ret.status != JobStatus.COMPLETED or ret.hydra_cfg is None:
            continue  # an internal error: Hydra re-raises it (traceback, exit 1)
        run_dir = str(ret.hydra_cfg.hydra.runtime.output_dir)
        outcome = cluster.point_outcome(run_dir)
        if outcome is None:
            continue
        kind, message = outcome
        (cli.STATE.not_recorded if kind == "not_recorded" else cli.STATE.failures).append(message)
        log.error("%s", message)


class HarnessJoblibLauncher(JoblibLauncher):
    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        n_jobs = int(self.joblib.get("n_jobs") or -1)
        if len(job_overrides) == 1:
            n_jobs = 1  # one point: one engine, nothing to share the GPUs with
        try:
            cluster.check_one_gpu_engine(
                _sweep_configs(self, job_overrides), n_jobs, "hydra/launcher=parallel (joblib)"
            )
        except HarnessError as exc:
            _refuse(exc)
        rets = super().launch(job_overrides, initial_job_idx)
        _collect(rets)
        return rets


class _SubmititChecks:
    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        gpus = self.params.get("gpus_per_node")
        try:
            for cfg in _sweep_configs(self, job_overrides):
                cluster.check_parallel_size(cfg, gpus, f"hydra/launcher ({self._EXECUTOR})")
        except HarnessError as exc:
            _refuse(exc)
        rets = super().launch(job_overrides, initial_job_idx)
        _collect(rets)
        return rets


class SlurmLauncher(_SubmititChecks, _SlurmLauncher):
    pass


class LocalLauncher(_SubmititChecks, _LocalLauncher):
    pass


@dataclass
class HarnessJoblibConf(JobLibLauncherConf):
    _target_: str = f"{HERE}.HarnessJoblibLauncher"


@dataclass
class HarnessSlurmConf(SlurmQueueConf):
    _target_: str = f"{HERE}.SlurmLauncher"


@dataclass
class HarnessLocalConf(LocalQueueConf):
    _target_: str = f"{HERE}.LocalLauncher"


store = ConfigStore.instance()
# The bases of conf/hydra/launcher/{parallel,submitit_local,slurm_*}.yaml.
store.store(
    group="hydra/launcher", name="harness_joblib", node=HarnessJoblibConf, provider="harness"
)
store.store(group="hydra/launcher", name="harness_slurm", node=HarnessSlurmConf, provider="harness")
store.store(group="hydra/launcher", name="harness_local", node=HarnessLocalConf, provider="harness")
