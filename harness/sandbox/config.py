"""Sandbox settings: the keys of conf/sandbox/default.yaml, typed. The YAML holds every default;
a partial mapping (a test's ``{"workers": 1}``) is laid over it."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.settings import from_node, to_plain

MECHANISMS = ("auto", "bwrap", "fallback")
DEFAULTS_FILE = Path(__file__).resolve().parents[2] / "conf" / "sandbox" / "default.yaml"


@dataclass
class SandboxConfig:
    mechanism: str
    allow_fallback: bool  # auto: may use the fallback when bubblewrap cannot run (else refuse)
    timeout_s: float  # wall limit of a run without a measured reference (executor agent tests)
    cpu_s: float | None  # its CPU limit; None: the wall limit
    cpu_factor: float  # graded code: CPU limit = max(cpu_floor_s, cpu_factor x reference CPU)
    cpu_floor_s: float
    wall_factor: float  # graded code: wall limit = wall_factor x CPU limit
    reference_cpu_s: float  # CPU limit when measuring a reference solution itself
    memory_mb: int
    fsize_mb: int
    nofile: int
    nproc: int
    tmpfs_mb: int
    output_bytes: int
    workers: int | None
    uid: int
    gid: int
    python: str | None
    preimport: list[str]
    hide_paths: list[str]
    env: dict[str, str]

    @classmethod
    def from_any(cls, cfg: Any = None) -> SandboxConfig:
        """A SandboxConfig, or a config node / mapping (possibly partial) over the YAML defaults."""
        if isinstance(cfg, cls):
            return cfg
        from omegaconf import OmegaConf

        node = OmegaConf.load(DEFAULTS_FILE)
        if cfg is not None:
            given = to_plain(cfg)
            if not isinstance(given, dict):
                raise ConfigError(f"sandbox config must be a mapping, got {type(cfg)!r}")
            node = OmegaConf.merge(node, OmegaConf.create(given))
        conf = from_node(cls, node, "sandbox")
        conf.validate()
        return conf

    def validate(self) -> None:
        if self.mechanism not in MECHANISMS:
            raise ConfigError(f"sandbox.mechanism={self.mechanism!r}; accepted: {MECHANISMS}")
        for name in ("timeout_s", "cpu_factor", "cpu_floor_s", "wall_factor", "reference_cpu_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"sandbox.{name} must be > 0, got {getattr(self, name)!r}")
        if self.wall_factor < 1:
            raise ConfigError(f"sandbox.wall_factor must be >= 1, got {self.wall_factor}")
        for name in ("memory_mb", "output_bytes"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"sandbox.{name} must be > 0, got {getattr(self, name)!r}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"sandbox.workers must be >= 1 or null, got {self.workers}")

    @property
    def n_workers(self) -> int:
        return self.workers or os.cpu_count() or 1

    def graded_limits(self, reference_cpu_s: float) -> tuple[float, float]:
        """(CPU limit, wall limit) for a program whose reference solution used
        ``reference_cpu_s`` of CPU (evalplus's policy, in CPU time so load cannot flip it; the
        wall limit is a generous multiple, for programs that sleep or block)."""
        cpu = max(self.cpu_floor_s, self.cpu_factor * reference_cpu_s)
        return cpu, self.wall_factor * cpu

    def reference_limits(self) -> tuple[float, float]:
        """(CPU limit, wall limit) for measuring a reference solution."""
        return self.reference_cpu_s, self.wall_factor * self.reference_cpu_s

    def limits(self, timeout_s: float, cpu_s: float | None = None) -> dict[str, Any]:
        """The per-program limits sent to the worker."""
        cpu = cpu_s or self.cpu_s or timeout_s
        return {
            "cpu_s": max(1, math.ceil(cpu)),
            "memory_mb": self.memory_mb,
            "fsize_mb": self.fsize_mb,
            "nofile": self.nofile,
            "nproc": self.nproc,
            "tmpfs_mb": self.tmpfs_mb,
            "output_bytes": self.output_bytes,
        }
