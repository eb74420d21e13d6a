"""Shared, expensive scoring resources of one run: the check pool, the sandbox, and the
measured reference times that set code time limits; and the typed ``scoring:`` settings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.sandbox.config import SandboxConfig
from harness.scoring.limits import CodeLimits, ReferenceTimes, reference_key
from harness.settings import from_node, to_plain

CONFIG_FILE = Path(__file__).resolve().parents[2] / "conf" / "config.yaml"


@dataclass
class ScoringSettings:
    """The ``scoring:`` block of conf/config.yaml (which holds every default)."""

    workers: int  # processes that run math-verify checks
    timeout_s: float  # CPU seconds one check may use (its own running time, not its queue wait)
    wall_factor: float  # a check blocked without computing is stopped after this x timeout_s
    start_timeout_s: float  # a new check worker's start-up (imports), counted against no check
    reference_times: str | None  # cache of reference CPU times for code limits (None: memory)
    judge: str | None  # a model config name: an LLM judge's verdict beside the symbolic score
    judge_tokens: int
    # grade every intermediate answer (proposals, revisions, round finals): harness.trajectory
    trajectory: bool

    @classmethod
    def from_any(cls, cfg: Any = None) -> ScoringSettings:
        """A ScoringSettings, or a config node / mapping (possibly partial) over the YAML."""
        if isinstance(cfg, cls):
            return cfg
        from omegaconf import OmegaConf

        node = OmegaConf.load(CONFIG_FILE).scoring
        if cfg is not None:
            given = to_plain(cfg)
            if not isinstance(given, dict):
                raise ConfigError(f"scoring config must be a mapping, got {type(cfg)!r}")
            node = OmegaConf.merge(node, OmegaConf.create(given))
        settings = from_node(cls, node, "scoring")
        if settings.workers < 1 or settings.timeout_s <= 0 or settings.wall_factor < 1:
            raise ConfigError(
                "scoring.workers must be >= 1, scoring.timeout_s > 0 and scoring.wall_factor >= 1"
            )
        return settings


class ScoringContext:
    """Shared, expensive scoring resources (process pool, sandbox), created once per run and
    closed at its end (``close()`` kills every worker, so nothing leaks into the next point of
    a sweep)."""

    def __init__(self, cfg: Any = None, sandbox_cfg: Any = None) -> None:
        self.settings = ScoringSettings.from_any(cfg)
        self.sandbox_settings = SandboxConfig.from_any(sandbox_cfg)
        self.reference_times = ReferenceTimes(self.settings.reference_times)
        self._pool = None
        self._sandbox = None
        self._measuring: dict[str, asyncio.Task] = {}

    def pool(self):
        """The check pool for CPU-bound scorers (math-verify)."""
        if self._pool is None:
            from harness.scoring.math_equiv import WARM_MODULES
            from harness.scoring.pool import CheckPool

            s = self.settings
            self._pool = CheckPool(
                s.workers, s.timeout_s, s.wall_factor, s.start_timeout_s, warm=WARM_MODULES
            )
        return self._pool

    def sandbox(self):
        if self._sandbox is None:
            from harness.sandbox import Sandbox

            self._sandbox = Sandbox(self.sandbox_settings)
        return self._sandbox

    async def code_limits(
        self,
        benchmark: str,
        problem_id: str,
        program: str,
        tests: str,
        entry_point: str | None = None,
    ) -> CodeLimits:
        """CPU and wall limits for a candidate of this problem, from its reference solution
        (``program`` + ``tests`` as graded), measured in the sandbox the first time."""
        key = reference_key(benchmark, problem_id, program, tests)
        cpu = self.reference_times.get(key)
        note = None
        if cpu is None:
            task = self._measuring.get(key)
            loop = asyncio.get_running_loop()
            if task is None or task.get_loop() is not loop:
                task = loop.create_task(self._measure(key, program, tests, entry_point))
                self._measuring[key] = task
            cpu, note = await asyncio.shield(task)
        if cpu is None:
            # The reference itself did not pass: grade with the limits it was measured under.
            cpu_limit, wall_limit = self.sandbox_settings.reference_limits()
            return CodeLimits(cpu_limit, wall_limit, None, note)
        cpu_limit, wall_limit = self.sandbox_settings.graded_limits(cpu)
        return CodeLimits(cpu_limit, wall_limit, cpu, note)

    async def _measure(
        self, key: str, program: str, tests: str, entry_point: str | None = None
    ) -> tuple[float | None, str | None]:
        cpu_limit, wall_limit = self.sandbox_settings.reference_limits()
        result = await self.sandbox().run(
            program, tests=tests, cpu_s=cpu_limit, timeout_s=wall_limit, entry_point=entry_point
        )
        if not result.passed:
            return None, f"reference solution {result.verdict}: {(result.detail or '')[:200]}"
        self.reference_times.put(key, result.cpu_s, result.wall_s)
        return result.cpu_s, None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
