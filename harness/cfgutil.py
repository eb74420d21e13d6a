"""Read a key from whatever config object a caller passes (DictConfig, dict, dataclass, None)."""

from __future__ import annotations

from typing import Any


def cfg_get(cfg: Any, key: str, default: Any = None) -> Any:
    """``cfg[key]``, or ``default`` when the config or the key is missing or the value is None."""
    if cfg is None:
        return default
    try:
        value = cfg.get(key, default)
    except AttributeError:
        value = getattr(cfg, key, default)
    return default if value is None else value
