"""The ``tracking`` settings (defaults: ``conf/tracking/default.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError
from harness.settings import from_node

MODES = ("auto", "online", "offline", "disabled")
ARTIFACTS = ("all", "results", "none")


@dataclass(frozen=True)
class WandbSettings:
    mode: str
    project: str
    entity: str | None
    group: str | None
    name: str | None
    tags: list[str]
    notes: str | None
    table: bool
    artifact: str
    system_metrics: bool
    init_timeout_s: float
    finish_timeout_s: float
    #: at the end of a sweep, build the W&B comparison view of its runs (harness.report)
    workspace: bool = False

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(
                f"tracking.wandb.mode={self.mode!r} is not a mode (accepted: {', '.join(MODES)})"
            )
        if self.artifact not in ARTIFACTS:
            raise ConfigError(
                f"tracking.wandb.artifact={self.artifact!r} is not accepted "
                f"(accepted: {', '.join(ARTIFACTS)})"
            )


@dataclass(frozen=True)
class TrackingSettings:
    wandb: WandbSettings


def tracking_settings(node: Any) -> TrackingSettings:
    return from_node(TrackingSettings, node, "tracking")
