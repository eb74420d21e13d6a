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

from omegaconf import DictConfig, OmegaConf

from harness.engines.settings import model_settings
from harness.errors import ConfigError
from harness.knobs import Knobs, RunOptions
from harness.mas.original_prompts import resolve_prompt_set
from harness.mas.settings import ReasoningSettings, mas_settings
from harness.sandbox.config import SandboxConfig, sandbox_config
from harness.scoring.settings import ScoringSettings, scoring_settings
from harness.settings import CONF_DIR, compose, from_node, to_plain
from harness.tracking.settings import TrackingSettings, tracking_settings
from tasks import LM_EVAL_PREFIX, get_task
from tasks.base import BenchmarkSettings, Task
from tasks.settings import benchmark_settings


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
    judge_model: Any  # the model settings scoring.judge names, or None (no judge)

    @classmethod
    def from_cfg(cls, cfg: DictConfig) -> RunSettings:
        tracking = cfg.get("tracking")
        scoring = scoring_settings(cfg.scoring)
        return cls(
            knobs=Knobs.from_cfg(cfg),
            run=from_node(RunOptions, cfg.run, "run"),
            model=model_settings(cfg.model),
            mas=mas_settings(cfg.mas),
            reasoning=from_node(ReasoningSettings, cfg.reasoning, "reasoning"),
            scoring=scoring,
            sandbox=sandbox_config(cfg.sandbox),
            tracking=None if tracking is None else tracking_settings(tracking),
            prompts=resolve_prompt_set(to_plain(cfg.prompts), str(cfg.benchmark.name)),
            task=get_task(benchmark_settings(cfg.benchmark)),
            judge_model=judge_model_settings(scoring.judge) if scoring.judge else None,
        )


def judge_model_settings(name: str) -> Any:
    """The settings of the model config ``scoring.judge`` names (conf/model/NAME.yaml)."""
    path = CONF_DIR / "model" / f"{name}.yaml"
    if not path.exists():
        names = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
        raise ConfigError(
            f"scoring.judge={name!r} is not a model config (accepted: {', '.join(names)})"
        )
    return model_settings(OmegaConf.load(path))


def saved_run_settings(saved: Any) -> tuple[BenchmarkSettings, ScoringSettings, SandboxConfig]:
    """The benchmark, scoring and sandbox settings of a finished run, from the resolved config
    it saved (``config.yaml``). A run made by an older harness may lack keys added since: each
    block is laid over today's composed defaults for the same benchmark, which fill them."""
    task = str(saved.benchmark.get("task") or saved.benchmark.get("name") or "")
    group = "lm_eval" if task.startswith(LM_EVAL_PREFIX) else task
    defaults = compose(
        [f"benchmark={group}"] if (CONF_DIR / "benchmark" / f"{group}.yaml").exists() else []
    )
    blocks = []
    for key in ("benchmark", "scoring", "sandbox"):
        node = OmegaConf.create(to_plain(defaults[key]))
        blocks.append(OmegaConf.merge(node, OmegaConf.create(to_plain(saved.get(key) or {}))))
    benchmark, scoring, sandbox = blocks
    return benchmark_settings(benchmark), scoring_settings(scoring), sandbox_config(sandbox)
