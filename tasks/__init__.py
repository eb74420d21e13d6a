"""Benchmark registry: ``get_task(settings)`` turns a benchmark's typed settings (read from the
``benchmark`` config node by :func:`tasks.settings.benchmark_settings`) into a
:class:`~tasks.base.Task`. Modules are imported on demand, so optional extras (evalplus,
lm-eval) are only needed by the benchmarks that use them."""

from __future__ import annotations

import importlib

from harness.errors import ConfigError
from harness.problem import Problem, Score
from harness.scoring.context import ScoringContext
from tasks.base import BenchmarkSettings, Task

REGISTRY: dict[str, str] = {
    "math500": "tasks.math500:Math500",
    "aime2024": "tasks.aime:Aime2024",
    "aime2025": "tasks.aime:Aime2025",
    "gpqa_diamond": "tasks.gpqa:GpqaDiamond",
    "mbpp_sanitized": "tasks.mbpp:MbppSanitized",
    "humaneval": "tasks.humaneval:HumanEval",
    "scibench": "tasks.scibench:SciBench",
    "commongen_hard": "tasks.commongen:CommonGenHard",
    "humaneval_plus": "tasks.evalplus_tasks:HumanEvalPlus",
    "mbpp_plus": "tasks.evalplus_tasks:MbppPlus",
}
LM_EVAL_PREFIX = "lm_eval:"

__all__ = [
    "REGISTRY",
    "Problem",
    "Score",
    "ScoringContext",
    "Task",
    "get_task",
    "task_class",
    "task_names",
]


def task_names() -> list[str]:
    return [*REGISTRY, f"{LM_EVAL_PREFIX}<task>"]


def task_class(name: str) -> type[Task]:
    """The Task subclass of a ``benchmark.task`` name (a ConfigError naming the accepted ones)."""
    name = name.strip()
    if name.startswith(LM_EVAL_PREFIX) and len(name) > len(LM_EVAL_PREFIX):
        from tasks.lm_eval_task import LmEvalTask

        return LmEvalTask
    target = REGISTRY.get(name)
    if target is None:
        raise ConfigError(f"unknown benchmark task {name!r}; accepted: {', '.join(task_names())}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def get_task(settings: BenchmarkSettings) -> Task:
    """The task ``settings.task`` names, holding its typed settings (from
    :func:`tasks.settings.benchmark_settings`)."""
    return task_class(settings.task)(settings)
