"""The ``scoring:`` block of the composed config, typed: read once where RunSettings is built;
the scoring layer (ScoringContext, the judge) gets this object, never the raw config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError
from harness.settings import from_node


@dataclass
class ScoringSettings:
    """The ``scoring:`` block of conf/config.yaml (which holds every default)."""

    workers: int  # processes that run math-verify checks
    timeout_s: float  # CPU seconds one check may use (its own running time, not its queue wait)
    wall_factor: float  # a check blocked without computing is stopped after this x timeout_s
    start_timeout_s: float  # a new check worker's start-up (imports), counted against no check
    reference_times: str | None  # cache of reference CPU times for code limits (None: memory)
    judge: str | None  # a model config name: an LLM judge's verdict beside the symbolic score
    judge_tokens: int
    # grade every intermediate answer (proposals, revisions, round finals): harness.trajectory
    trajectory: bool

    def __post_init__(self) -> None:
        # here, so settings changed with dataclasses.replace are checked too
        if self.workers < 1 or self.timeout_s <= 0 or self.wall_factor < 1:
            raise ConfigError(
                "scoring.workers must be >= 1, scoring.timeout_s > 0 and scoring.wall_factor >= 1"
            )


def scoring_settings(node: Any) -> ScoringSettings:
    """The composed ``scoring:`` node as ScoringSettings (a ConfigError naming a bad key)."""
    return from_node(ScoringSettings, node, "scoring")
