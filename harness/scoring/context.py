"""Shared, expensive scoring resources of one run: the math-verify process pool and the sandbox."""

from __future__ import annotations

import os
from typing import Any

from harness.cfgutil import cfg_get


class ScoringContext:
    """Shared, expensive scoring resources (process pool, sandbox), created once per run."""

    def __init__(self, cfg: Any = None, sandbox_cfg: Any = None) -> None:
        self.cfg = cfg or {}
        self.sandbox_cfg = sandbox_cfg
        self._pool = None
        self._sandbox = None

    def pool(self):
        """A process pool for CPU-bound or signal-using scorers (math-verify)."""
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            workers = int(cfg_get(self.cfg, "workers") or min(2, os.cpu_count() or 1))
            # forkserver: the harness process may hold threads (torch, asyncio executors).
            self._pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("forkserver"))
        return self._pool

    def reset_pool(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def sandbox(self):
        if self._sandbox is None:
            from harness.sandbox import Sandbox

            self._sandbox = Sandbox.from_config(self.sandbox_cfg)
        return self._sandbox

    def close(self) -> None:
        self.reset_pool()
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
