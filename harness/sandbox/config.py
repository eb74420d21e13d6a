"""Sandbox settings: the keys of conf/sandbox/default.yaml, with defaults for when no config is given."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.errors import ConfigError

MECHANISMS = ("auto", "bwrap", "fallback")


@dataclass
class SandboxConfig:
    mechanism: str = "auto"
    timeout_s: float = 10.0  # wall limit when the caller gives none
    time_factor: float = 4.0  # evalplus: limit = max(floor, factor x reference time)
    time_floor_s: float = 1.0
    cpu_s: float | None = None  # None: follow the wall limit of each run
    memory_mb: int = 1024  # RLIMIT_AS per process
    fsize_mb: int = 16
    nofile: int = 256
    nproc: int = 32  # processes per program (counted in the program's own user namespace)
    tmpfs_mb: int = 64  # size of the program's private /tmp (its working directory)
    output_bytes: int = 65536  # per stream
    workers: int | None = None  # None: os.cpu_count()
    uid: int = 65534  # programs run as this uid when the harness runs as root
    gid: int = 65534
    python: str | None = None  # interpreter inside the sandbox; None: sys.executable
    preimport: list[str] = field(default_factory=list)  # extra modules loaded once per worker
    hide_paths: list[str] = field(default_factory=list)  # extra paths replaced by empty dirs
    env: dict[str, str] = field(default_factory=dict)  # extra variables programs may see

    @classmethod
    def from_any(cls, cfg: Any) -> SandboxConfig:
        """Accept None, a SandboxConfig, a dict, or an omegaconf DictConfig."""
        if cfg is None:
            return cls()
        if isinstance(cfg, SandboxConfig):
            return cfg
        from omegaconf import DictConfig, OmegaConf

        if isinstance(cfg, DictConfig):  # plain containers: ListConfig values are not JSON
            cfg = OmegaConf.to_container(cfg, resolve=True)
        elif not isinstance(cfg, Mapping):
            try:
                cfg = OmegaConf.to_container(cfg, resolve=True)
            except Exception as exc:  # noqa: BLE001 - report any unusable object the same way
                raise ConfigError(f"sandbox config must be a mapping, got {type(cfg)!r}") from exc
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(cfg) - names)
        if unknown:
            raise ConfigError(f"unknown sandbox keys {unknown}; accepted: {sorted(names)}")
        values = {k: v for k, v in dict(cfg).items() if v is not None or k in ("cpu_s", "workers")}
        conf = cls(**values)
        conf.validate()
        return conf

    def validate(self) -> None:
        if self.mechanism not in MECHANISMS:
            raise ConfigError(f"sandbox.mechanism={self.mechanism!r}; accepted: {MECHANISMS}")
        for name in ("timeout_s", "time_factor", "time_floor_s", "memory_mb", "output_bytes"):
            if not getattr(self, name) or getattr(self, name) <= 0:
                raise ConfigError(f"sandbox.{name} must be > 0, got {getattr(self, name)!r}")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"sandbox.workers must be >= 1 or null, got {self.workers}")

    @property
    def n_workers(self) -> int:
        return self.workers or os.cpu_count() or 1

    def time_limit(self, reference_s: float | None) -> float:
        if reference_s is None:
            return self.timeout_s
        return max(self.time_floor_s, self.time_factor * reference_s)

    def limits(self, timeout_s: float) -> dict[str, Any]:
        """The per-program limits sent to the worker."""
        cpu = self.cpu_s if self.cpu_s else timeout_s
        return {
            "cpu_s": max(1, math.ceil(cpu)),
            "memory_mb": self.memory_mb,
            "fsize_mb": self.fsize_mb,
            "nofile": self.nofile,
            "nproc": self.nproc,
            "tmpfs_mb": self.tmpfs_mb,
            "output_bytes": self.output_bytes,
        }
