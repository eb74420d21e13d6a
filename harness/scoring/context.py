"""Shared, expensive scoring resources of one run: the check pool, the sandbox, and the
measured reference times that set code time limits."""

from __future__ import annotations

import asyncio

from harness.sandbox.config import SandboxConfig
from harness.scoring.limits import CodeLimits, ReferenceTimes, reference_key
from harness.scoring.settings import ScoringSettings

__all__ = ["ScoringContext", "ScoringSettings"]


class ScoringContext:
    """Shared, expensive scoring resources (process pool, sandbox), created once per run and
    closed at its end (``close()`` kills every worker, so nothing leaks into the next point of
    a sweep). Takes the run's typed settings (RunSettings.scoring and .sandbox)."""

    def __init__(self, settings: ScoringSettings, sandbox_cfg: SandboxConfig) -> None:
        if not isinstance(settings, ScoringSettings) or not isinstance(sandbox_cfg, SandboxConfig):
            raise TypeError(
                "ScoringContext takes ScoringSettings and SandboxConfig (RunSettings.scoring, "
                f".sandbox), got {type(settings).__name__} and {type(sandbox_cfg).__name__}"
            )
        self.settings = settings
        self.sandbox_settings = sandbox_cfg
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
