"""Every setting of one run, read from the composed config once, at the edge (the runner), and
validated before any data or model is loaded: a typo or a bad value anywhere fails in one line.

Each layer owns the dataclass of its own block (``model`` → harness.engines.settings, ``mas``
and ``reasoning`` → harness.mas.settings, ``scoring`` → harness.scoring.context, ``sandbox``
→ harness.sandbox.config, ``tracking`` → harness.tracking.settings, ``benchmark`` → the task);
the layers get these objects, never the raw config. Defaults live only in conf/.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig

from harness.engines.settings import model_settings
from harness.knobs import Knobs, RunOptions
from harness.mas.original_prompts import resolve_prompt_set
from harness.mas.settings import ReasoningSettings, mas_settings
from harness.sandbox.config import SandboxConfig
from harness.scoring.context import ScoringSettings
from harness.settings import from_node, to_plain
from harness.tracking.settings import TrackingSettings, tracking_settings
from tasks import get_task
from tasks.base import Task


@dataclass(frozen=True)
class RunSettings:
    knobs: Knobs
    run: RunOptions
    model: Any  # LocalModelSettings | ApiModelSettings | TableModelSettings
    mas: Any  # SingleSettings | AgentVerseSettings | CEOSystemSettings
    reasoning: ReasoningSettings
    scoring: ScoringSettings
    sandbox: SandboxConfig
    tracking: TrackingSettings | None
    prompts: dict[str, Any]
    task: Task  # the benchmark, built from its typed settings

    @classmethod
    def from_cfg(cls, cfg: DictConfig) -> RunSettings:
        tracking = cfg.get("tracking")
        return cls(
            knobs=Knobs.from_cfg(cfg),
            run=from_node(RunOptions, cfg.run, "run"),
            model=model_settings(cfg.model),
            mas=mas_settings(cfg.mas),
            reasoning=from_node(ReasoningSettings, cfg.reasoning, "reasoning"),
            scoring=ScoringSettings.from_any(cfg.scoring),
            sandbox=SandboxConfig.from_any(cfg.get("sandbox")),
            tracking=None if tracking is None else tracking_settings(tracking),
            prompts=resolve_prompt_set(to_plain(cfg.prompts), str(cfg.benchmark.name)),
            task=get_task(cfg.benchmark),
        )
