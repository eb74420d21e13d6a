"""The harness's sweep launcher (``hydra/launcher=harness``, the default).

Prints the sweep's plan first, then runs its points in this process on the one shared event
loop: one after another (``concurrency: 1``), or N at once (``hydra.launcher.concurrency=N``)
against the one loaded engine, so a point's tail of trickling requests overlaps the next
point's start and the engine stays full. Each point keeps its own run directory, log, resume
and summary. For points in separate processes use ``hydra/launcher=joblib``; for SLURM, the
``slurm_*`` presets (hydra-submitit-launcher).
"""

# No `from __future__ import annotations`: Hydra loads plugin modules without registering them
# in sys.modules, and dataclasses then cannot resolve string annotations.

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
    filter_overrides,
    run_job,
    setup_globals,
)
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)


@dataclass
class HarnessLauncherConf:
    _target_: str = "hydra_plugins.harness_launcher.harness_launcher.HarnessLauncher"
    concurrency: int = 1  # sweep points run at once on the shared event loop
    plan: bool = True  # print the plan (points, problems, bounds of calls and tokens) first


ConfigStore.instance().store(
    group="hydra/launcher", name="harness", node=HarnessLauncherConf, provider="harness"
)


class HarnessLauncher(Launcher):
    def __init__(self, concurrency: int = 1, plan: bool = True) -> None:
        self.concurrency = max(1, int(concurrency))
        self.plan = bool(plan)
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None
        self.hydra_context: HydraContext | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        from harness import cli

        setup_globals()
        assert self.config is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        configs = []
        for i, overrides in enumerate(job_overrides):
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(cfg):
                cfg.hydra.job.id = cfg.hydra.job.num = initial_job_idx + i
            configs.append((cfg, overrides))
        if self.plan:
            self._print_plan(configs)
        if self.concurrency == 1:
            return self._done([self._run_job(cfg) for cfg, _ in configs])
        token = cli.DEFER.set(True)
        try:
            rets = [self._run_job(cfg) for cfg, _ in configs]
        finally:
            cli.DEFER.reset(token)
        configure_log(self.config.hydra.job_logging, self.config.hydra.verbose)
        try:
            cli.loop_runner().run(self._run_points(rets))
        finally:
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return self._done(rets)

    def _done(self, rets: list[JobReturn]) -> list[JobReturn]:
        # tracking.wandb.workspace: the sweep's W&B comparison view (never fails the sweep)
        from harness.tracking.sweep_end import after_sweep

        assert self.config is not None
        after_sweep(self.config)
        return rets

    def _run_job(self, cfg: DictConfig) -> JobReturn:
        ret = run_job(
            hydra_context=self.hydra_context,
            task_function=self.task_function,
            config=cfg,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
        assert self.config is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        return ret

    async def _run_points(self, rets: list[JobReturn]) -> None:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(ret: JobReturn) -> None:
            if ret.status != JobStatus.COMPLETED:
                return  # failed while being set up; Hydra reports it
            point = ret._return_value
            async with gate:
                try:
                    ret.return_value = await point.execute()
                    ret.status = JobStatus.COMPLETED
                except Exception as exc:  # noqa: BLE001 - reported per point, like Hydra does
                    ret.return_value = exc
                    ret.status = JobStatus.FAILED

        await asyncio.gather(*(one(r) for r in rets))

    def _print_plan(self, configs: list[tuple[DictConfig, Sequence[str]]]) -> None:
        from harness.plan import plan_point, render

        plans = []
        for cfg, overrides in configs:
            run_dir = str(Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir))
            task_cfg = OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"])
            plans.append(plan_point(task_cfg, run_dir, " ".join(filter_overrides(list(overrides)))))
        print(render(plans, self.concurrency), flush=True)
