"""Sandbox settings: the keys of conf/sandbox/default.yaml, typed. The YAML holds every default;
:func:`sandbox_config` reads the composed ``sandbox:`` node once, where RunSettings is built, and
the sandbox gets this object, never the raw config."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError
from harness.settings import from_node

MECHANISMS = ("auto", "bwrap", "fallback")


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

    def __post_init__(self) -> None:
        # here, so settings changed with dataclasses.replace are checked too
        self.validate()

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


def sandbox_config(node: Any) -> SandboxConfig:
    """The composed ``sandbox:`` node as a SandboxConfig (a ConfigError naming a bad key)."""
    return from_node(SandboxConfig, node, "sandbox")
