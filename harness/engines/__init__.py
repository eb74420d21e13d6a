"""Engines behind one async interface (see base.py). ``build_engine`` picks one by
``model.engine``; vLLM and OpenAI-compatible servers plug in here."""

from __future__ import annotations

import json
from typing import Any

from omegaconf import OmegaConf

from harness.engines.base import Completion, Engine, Request, SamplingParams
from harness.errors import ConfigError

ENGINES = ("transformers", "oracle", "replay")
MODEL_ENGINES = ("transformers",)  # engines that load weights (kept loaded across sweep points)

__all__ = ["Completion", "Engine", "Request", "SamplingParams", "build_engine"]


_loaded: dict[str, Engine] = {}


def build_engine(
    model_cfg: Any, problems: list[Any], cache_path: str | None = None, pose: Any = None
) -> Engine:
    """The engine ``model.engine`` names, behind a response cache when ``cache_path`` is set.

    Model-backed engines stay loaded for the life of the process: the points of a Hydra sweep
    run one after another in it, and should not reload the same weights each time."""
    if model_cfg.get("engine") in MODEL_ENGINES:
        key = json.dumps(OmegaConf.to_container(model_cfg, resolve=True), sort_keys=True)
        if key not in _loaded:
            _loaded[key] = _build(model_cfg, problems, pose)
        engine = _loaded[key]
    else:
        engine = _build(model_cfg, problems, pose)
    if cache_path:
        from harness.engines.cache import CachedEngine

        identity = json.dumps(
            {k: model_cfg.get(k) for k in ("name", "engine", "path", "build", "dtype")},
            sort_keys=True,
            default=str,
        )
        engine = CachedEngine(engine, cache_path, identity)
    return engine


def _build(model_cfg: Any, problems: list[Any], pose: Any = None) -> Engine:
    kind = model_cfg.get("engine")
    conc = int(model_cfg.get("max_concurrency") or 1)
    if kind == "transformers":
        from harness.engines.transformers_engine import TransformersEngine

        return TransformersEngine(model_cfg)
    if kind == "oracle":
        from harness.engines.table import OracleEngine

        return OracleEngine.for_problems(problems, conc, pose)
    if kind == "replay":
        from harness.engines.table import ReplayEngine

        return ReplayEngine.from_file(str(model_cfg.path), problems, conc)
    raise ConfigError(f"unknown model.engine '{kind}' (accepted: {', '.join(ENGINES)})")
