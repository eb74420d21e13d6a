"""Run identity: which configuration produced a run's results, as a name and a hash.

A run directory is ``<model>/<benchmark>/<mas>/<knobs>-<hash>``: a readable prefix plus a
short hash of every key that can change a result, so sweeping *any* key gives separate runs
and two configurations that can give different results never share a directory. Keys that do
not change results (concurrency, progress, caches, tracking, `limit` — raising it extends a
run) are left out, and so are the knobs a system does not use (``agents`` under
``mas=single``), so they neither split nor block runs.

The hash is computed from the composed config by the ``harness.run_id`` resolver, so Hydra's
``hydra.run.dir`` and ``hydra.sweep.subdir`` can use it directly.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from omegaconf import DictConfig, OmegaConf

#: keys (or key prefixes) that never change what a result means
VOLATILE = (
    "hydra",
    "run_id",
    "limit",
    "run",
    "tracking",
    "launcher",
    "scoring.workers",
    "scoring.reference_times",  # a cache path (HARNESS_CACHE): differs between machines
    "scoring.start_timeout_s",
    "scoring.trajectory",  # grades intermediate answers beside the final score, never changes it
    "sandbox.workers",
    "model.max_concurrency",
    "model.max_batch",
    "model.cache_dir",
    "model.gpu_memory_utilization",
    "model.max_num_seqs",
    "model.retry",
    "model.timeout_s",
    "model.api_key_env",
    "model.enforce_eager",
    "model.enable_prefix_caching",
    "model.cpu_kv_cache_gb",
    "model.price",  # what a call costs, not what it answers
)

#: knobs a system does not read: they must not split (or block the resume of) its runs
UNUSED_BY_MAS = {
    "single": ("agents", "turns", "critic_rounds"),
}
#: knobs shown in the run directory's name, per system
NAMED_KNOBS = {
    "single": ("tokens", "repeats", "seed"),
    "default": ("agents", "tokens", "turns", "critic_rounds", "repeats", "seed"),
}
_SHORT = {"critic_rounds": "cr", "repeats": "rep"}
HASH_LEN = 8


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _volatile(key: str, extra: tuple[str, ...] = ()) -> bool:
    return any(key == p or key.startswith(p + ".") for p in (*VOLATILE, *extra))


def identity(cfg: dict[str, Any]) -> dict[str, Any]:
    """The flattened keys of a resolved config that can change a result."""
    mas = str((cfg.get("mas") or {}).get("name", ""))
    unused = UNUSED_BY_MAS.get(mas, ())
    out = {k: v for k, v in sorted(flatten(cfg).items()) if not _volatile(k, unused)}
    if "tokens" in out:
        out["tokens"] = _tokens(out["tokens"])  # 2k and 2048 are one configuration
    return out


def _tokens(value: Any) -> Any:
    from harness.knobs import parse_tokens

    try:
        return parse_tokens(value)
    except Exception:  # noqa: BLE001 - a bad value is reported by the knobs check, not here
        return value


def config_hash(cfg: dict[str, Any]) -> str:
    blob = json.dumps(identity(cfg), sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:HASH_LEN]


def run_id(cfg: dict[str, Any]) -> str:
    """``model/benchmark/mas/<named knobs>-<hash>`` for a resolved config (plain dict)."""
    mas = str(cfg["mas"]["name"])
    knobs = NAMED_KNOBS.get(mas, NAMED_KNOBS["default"])
    name = "-".join(f"{_SHORT.get(k, k)}{_knob(k, cfg.get(k))}" for k in knobs)
    model = str(cfg["model"]["name"])
    return f"{model}/{cfg['benchmark']['name']}/{mas}/{name}-{config_hash(cfg)}"


def _knob(key: str, value: Any) -> str:
    if key == "tokens":
        n = _tokens(value)
        if isinstance(n, int):
            return f"{n // 1024}k" if n % 1024 == 0 else str(n)
    if isinstance(value, str):
        return value.replace("/", "_").replace(" ", "")
    return str(value)


def resolved_without_identity(root: DictConfig) -> dict[str, Any]:
    """The config as plain data, minus ``hydra`` and ``run_id`` (which depend on the result)."""
    raw = OmegaConf.to_container(root, resolve=False)
    assert isinstance(raw, dict)
    raw.pop("hydra", None)
    raw.pop("run_id", None)
    return OmegaConf.to_container(OmegaConf.create(raw), resolve=True)  # type: ignore[return-value]


def _resolve_run_id(*, _root_: DictConfig) -> str:
    return run_id(resolved_without_identity(_root_))


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("harness.run_id"):
        OmegaConf.register_new_resolver("harness.run_id", _resolve_run_id)


register_resolvers()


def digest(items: Any) -> str:
    """A short digest of JSON-able data (the problems actually loaded, a prompt set)."""
    blob = json.dumps(items, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
