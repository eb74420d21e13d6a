"""Settings for tests, composed by Hydra exactly as ``python -m harness OVERRIDES`` composes
them, and changed with ``dataclasses.replace``: the one way tests get settings, so every
default comes from conf/ and a changed value is checked like any other (a ConfigError naming
the key). A composition is cached per overrides; every helper hands out fresh copies.

    scoring_context(workers=1, timeout_s=5)         # ScoringContext over composed defaults
    sandbox_config(workers=2, memory_mb=256)        # a SandboxConfig
    task_for("gpqa_diamond", data_files=str(path))  # a task with its typed benchmark settings
    settings_for("mas=ceo", "agents=2")             # every setting of a run (read-only)
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
from typing import Any

from harness.run_settings import RunSettings
from harness.sandbox.config import SandboxConfig
from harness.scoring.context import ScoringContext
from harness.scoring.settings import ScoringSettings
from harness.settings import compose, to_plain
from tasks import get_task
from tasks.base import BenchmarkSettings, Task


def _node(*overrides: str) -> Any:
    # the composition resolves ${oc.env:HARNESS_CACHE} (scoring.reference_times, the model
    # cache): a test that points HARNESS_CACHE elsewhere gets a composition of its own
    return _composed_node(overrides, os.environ.get("HARNESS_CACHE"), os.environ.get("HOME"))


@functools.cache
def _composed_node(overrides: tuple[str, ...], *env: str | None) -> Any:
    return compose(list(overrides))


@functools.cache
def _run_settings(overrides: tuple[str, ...], *env: str | None) -> RunSettings:
    return RunSettings.from_cfg(_composed_node(overrides, *env))


def settings_for(*overrides: str) -> RunSettings:
    """Every setting of a run as the CLI composes it with ``overrides`` (cached: do not change
    it; use the helpers below for settings of your own)."""
    return _run_settings(overrides, os.environ.get("HARNESS_CACHE"), os.environ.get("HOME"))


def _changed(settings: Any, changes: dict[str, Any]) -> Any:
    # a deep copy: a list or dict field of a cached default must not be shared
    return dataclasses.replace(copy.deepcopy(settings), **changes)


def scoring_settings(*overrides: str, **changes: Any) -> ScoringSettings:
    return _changed(settings_for(*overrides).scoring, changes)


def sandbox_config(*overrides: str, **changes: Any) -> SandboxConfig:
    return _changed(settings_for(*overrides).sandbox, changes)


def scoring_context(sandbox: dict[str, Any] | None = None, **changes: Any) -> ScoringContext:
    """A ScoringContext with the scoring settings ``changes`` and the sandbox ones ``sandbox``."""
    return ScoringContext(scoring_settings(**changes), sandbox_config(**(sandbox or {})))


def benchmark_settings(name: str, /, **changes: Any) -> BenchmarkSettings:
    """conf/benchmark/NAME.yaml's settings (``benchmark=NAME``) with ``changes``."""
    return _changed(settings_for(f"benchmark={name}").task.settings, changes)


def benchmark_node(name: str, /, **changes: Any) -> dict[str, Any]:
    """The composed ``benchmark:`` block of ``benchmark=NAME`` as a plain mapping, with raw
    ``changes`` (for tests of how tasks.settings.benchmark_settings reads a node)."""
    return {**to_plain(_node(f"benchmark={name}").benchmark), **changes}


def task_for(name: str, /, **changes: Any) -> Task:
    """A fresh task of benchmark ``name`` (``benchmark=NAME``), its settings with ``changes``."""
    return get_task(benchmark_settings(name, **changes))
