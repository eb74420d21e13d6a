"""The ``benchmark:`` block of the composed config, typed: read once where RunSettings is built
(each task names its dataclass in ``settings_cls``); tasks get this object, never the raw
config."""

from __future__ import annotations

from typing import Any

from harness.errors import ConfigError
from harness.settings import from_node, to_plain
from tasks import task_class
from tasks.base import BenchmarkSettings


def benchmark_settings(node: Any) -> BenchmarkSettings:
    """The composed ``benchmark:`` node as the settings dataclass of the task it names (a
    ConfigError naming an unknown task or a bad key)."""
    data = to_plain(node)
    if not isinstance(data, dict):
        raise ConfigError(f"benchmark must be a mapping, got {data!r}")
    common = from_node(BenchmarkSettings, data, "benchmark", extra="ignore")
    return from_node(task_class(common.task).settings_cls, data, "benchmark")
