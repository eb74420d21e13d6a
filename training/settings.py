"""Typed settings of ``python -m training``; every default lives in ``conf/train/``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.settings import from_node
from harness.tracking.settings import TrackingSettings


@dataclass
class ModelSpec:
    name: str
    path: str | None
    build: str | None
    cache_dir: str
    dtype: str  # auto | bfloat16 | float16 | float32
    attn_implementation: str  # auto | flash_attention_2 | sdpa | eager
    gradient_checkpointing: bool


@dataclass
class DataSpec:
    source: str
    extra_files: list[str]
    format: str  # auto | m500 | messages
    split: str
    group_key: str | None
    cutoff_len: int
    overflow: str  # truncate | drop
    limit: int | None
    pad_token: str | None


@dataclass
class TrainSpec:
    epochs: float
    max_steps: int
    learning_rate: float
    lr_scheduler: str
    warmup_ratio: float
    weight_decay: float
    per_device_batch: int
    grad_accum: int
    max_grad_norm: float
    bf16: str  # auto | true | false
    seed: int
    logging_steps: int
    save_strategy: str  # epoch | steps
    save_steps: int
    save_total_limit: int | None
    save_only_model: bool
    grouped: bool


@dataclass
class RegisterSpec:
    enabled: bool
    dir: str
    base: str
    benchmark: str


@dataclass
class TrainSettings:
    name: str
    run_name: str
    model: ModelSpec
    data: DataSpec
    train: TrainSpec
    tracking: TrackingSettings
    register: RegisterSpec
    deepspeed: dict[str, Any] | None


def train_settings(cfg: Any) -> TrainSettings:
    """The settings from a composed ``conf/train`` config (or the dataclass itself)."""
    if isinstance(cfg, TrainSettings):
        return cfg
    from harness.settings import to_plain

    data = dict(to_plain(cfg))
    data.pop("hydra", None)
    return from_node(TrainSettings, data, "")


def compose_train(overrides: list[str] | tuple[str, ...] = ()) -> Any:
    """The composed config, exactly as ``python -m training OVERRIDES`` would see it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from harness.settings import CONF_DIR

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR / "train"), version_base="1.3"):
        return compose("config", overrides=list(overrides))
