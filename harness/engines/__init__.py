"""Engines behind one async interface (see base.py). ``build_engine`` picks one by
``model.engine``: ``transformers`` and ``vllm`` (local models), ``openai`` (any
OpenAI-compatible endpoint), ``oracle`` and ``replay`` (answers from a table)."""

from __future__ import annotations

import json
import logging
from typing import Any

from harness.engines.base import Completion, Engine, Request, SamplingParams
from harness.engines.settings import ENGINES, LocalModelSettings, model_settings

__all__ = [
    "ENGINES",
    "Completion",
    "Engine",
    "Request",
    "SamplingParams",
    "build_engine",
    "close_all",
]
log = logging.getLogger(__name__)

# Local engines stay loaded for the life of the process: the points of a sweep run in it (one
# after another or at once, on one event loop) and must not reload the same weights each time.
_loaded: dict[str, Engine] = {}


def build_engine(
    model_cfg: Any, problems: list[Any], cache_path: str | None = None, pose: Any = None
) -> Engine:
    """The engine ``model.engine`` names, behind a response cache when ``cache_path`` is set.
    ``model_cfg``: the ``model`` config node or its settings dataclass."""
    settings = model_settings(model_cfg)
    if isinstance(settings, LocalModelSettings):
        engine = _loaded_engine(settings)
    else:
        engine = _build(settings, problems, pose)
    if cache_path:
        from harness.engines.cache import CachedEngine

        identity = json.dumps(settings.identity(), sort_keys=True, default=str)
        engine = CachedEngine(engine, cache_path, identity)
    return engine


def _loaded_engine(settings: LocalModelSettings) -> Engine:
    # Requests in flight is a property of the run, not of the loaded weights.
    ident = {k: v for k, v in vars(settings).items() if k != "max_concurrency"}
    key = json.dumps(ident, sort_keys=True, default=str)
    engine = _loaded.get(key)
    if engine is None:
        # One model's weights at a time: a sweep over models must not stack them in memory.
        for other_key, other in list(_loaded.items()):
            if getattr(other, "leases", 0) == 0:
                log.info("unloading %s (a sweep moved on to another model)", other.name)
                other.unload()
                del _loaded[other_key]
        engine = _loaded[key] = _build(settings, [], None)
    if engine.max_concurrency != max(1, settings.max_concurrency):
        engine.max_concurrency = max(1, settings.max_concurrency)
        engine._limiter = None  # rebuilt at that size on next use
    engine.leases += 1
    return engine


def _build(settings: Any, problems: list[Any], pose: Any = None) -> Engine:
    kind = settings.engine
    if kind == "transformers":
        from harness.engines.transformers_engine import TransformersEngine

        return TransformersEngine(settings)
    if kind == "vllm":
        from harness.engines.vllm_engine import VllmEngine

        return VllmEngine(settings)
    if kind == "openai":
        from harness.engines.openai_engine import OpenAIEngine

        return OpenAIEngine(settings)
    if kind == "oracle":
        from harness.engines.table import OracleEngine

        return OracleEngine.for_problems(problems, settings.max_concurrency, pose)
    if kind == "replay":
        from harness.engines.table import ReplayEngine

        return ReplayEngine.from_file(str(settings.path), problems, settings.max_concurrency)
    raise AssertionError(kind)  # model_settings accepts only ENGINES


def loaded_engines() -> list[Engine]:
    """Engines kept loaded across runs (tests and benchmarks count loads through these)."""
    return list(_loaded.values())


async def close_all() -> None:
    """Shut down every engine kept loaded across runs (at process exit)."""
    while _loaded:
        _, engine = _loaded.popitem()
        await engine.close()
