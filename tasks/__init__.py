"""Benchmark registry: ``get_task(benchmark_cfg)`` turns the ``benchmark`` config node into a
:class:`~tasks.base.Task`. Modules are imported on demand, so optional extras (evalplus,
lm-eval) are only needed by the benchmarks that use them."""

from __future__ import annotations

import importlib
from typing import Any

from harness.errors import ConfigError
from harness.problem import Problem, Score
from harness.scoring.context import ScoringContext
from harness.settings import to_plain
from tasks.base import Task

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

__all__ = ["REGISTRY", "Problem", "Score", "ScoringContext", "Task", "get_task", "task_names"]


def task_names() -> list[str]:
    return [*REGISTRY, f"{LM_EVAL_PREFIX}<task>"]


def get_task(benchmark_cfg: Any) -> Task:
    """The task named by ``benchmark.task`` (else ``benchmark.name``)."""
    node = to_plain(benchmark_cfg)
    if not isinstance(node, dict):
        raise ConfigError(f"benchmark config must be a mapping, got {type(benchmark_cfg)!r}")
    name = str(node.get("task") or node.get("name") or "").strip()
    if name.startswith(LM_EVAL_PREFIX) and len(name) > len(LM_EVAL_PREFIX):
        from tasks.lm_eval_task import LmEvalTask

        return LmEvalTask(benchmark_cfg, name[len(LM_EVAL_PREFIX) :])
    target = REGISTRY.get(name)
    if target is None:
        raise ConfigError(f"unknown benchmark task {name!r}; accepted: {', '.join(task_names())}")
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(benchmark_cfg)
