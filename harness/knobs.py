"""Validate the top-level knobs once, so a typo fails in one line before any work starts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError
from harness.settings import convert
from harness.text import read_token_count


def parse_tokens(value: Any, what: str = "tokens") -> int:
    """``8k`` → 8192 (k = 1024, the paper's 2k…32k budget menu), ``256`` → 256."""
    if isinstance(value, bool):
        raise ConfigError(
            f"{what}={value!r} is not a token count (accepted: 8k, 16k, 32k or an integer)"
        )
    n = value if isinstance(value, int) else read_token_count(str(value))
    if n is None:
        raise ConfigError(
            f"{what}={value!r} is not a token count (accepted: 8k, 16k, 32k or an integer)"
        )
    if n < 1:
        raise ConfigError(f"{what}={value!r} must be at least 1")
    return n


@dataclass(frozen=True)
class Knobs:
    agents: int
    tokens: int
    turns: int
    critic_rounds: int
    limit: int | None
    repeats: int
    seed: int
    temperature: float
    top_p: float

    @classmethod
    def from_cfg(cls, cfg: Any) -> Knobs:
        return cls(
            agents=_int_at_least(cfg, "agents", 1),
            tokens=parse_tokens(cfg.get("tokens")),
            turns=_int_at_least(cfg, "turns", 1),
            critic_rounds=_int_at_least(cfg, "critic_rounds", 0),
            limit=None if cfg.get("limit") is None else _int_at_least(cfg, "limit", 1),
            repeats=_int_at_least(cfg, "repeats", 1),
            seed=_int_at_least(cfg, "seed", None),
            temperature=_float_in(cfg, "temperature", 0.0),
            top_p=_float_in(cfg, "top_p", 0.0, inclusive=False, upper=1.0),
        )


@dataclass(frozen=True)
class RunOptions:
    """The ``run:`` block: how a run executes, never what it computes."""

    episode_concurrency: int | None  # episodes in flight; None: 2 × model.max_concurrency
    progress: Any  # auto | true | false
    overwrite: bool
    response_cache: bool
    response_cache_path: str
    max_failed_problems: int | None  # engine-down problems in a row before the run stops


def _int_at_least(cfg: Any, key: str, minimum: int | None) -> int:
    """``cfg[key]`` as an integer (the settings' one conversion), at least ``minimum``."""
    value = cfg.get(key)
    n = convert(value, int, key)
    if minimum is not None and n < minimum:
        raise ConfigError(f"{key}={value!r} must be at least {minimum}")
    return n


def _float_in(
    cfg: Any, key: str, low: float, *, inclusive: bool = True, upper: float | None = None
) -> float:
    """``cfg[key]`` as a number (the settings' one conversion) within ``low`` … ``upper``."""
    value = cfg.get(key)
    x = convert(value, float, key)
    if x < low or (not inclusive and x == low) or (upper is not None and x > upper):
        bounds = f"{'(' if not inclusive else '['}{low:g}, {upper if upper is not None else '∞'}]"
        raise ConfigError(f"{key}={value!r} must be in {bounds}")
    return x
