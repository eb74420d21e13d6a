"""Typed settings, read once from the composed Hydra config at the edge and passed inward.

Every default lives in one place: the YAML files of ``conf/``. The dataclasses of each layer
(``ModelSettings``, ``MasSettings``, ``SandboxConfig``, …) name and type the keys but hold no
defaults of their own; :func:`from_node` builds one from a config node, converting types and
failing with one line that names the key (``ConfigError``) on a missing, unknown or mistyped
key. Code inside the layers reads attributes, never ``cfg.get(key, default)``.

Tests and scripts get fully defaulted settings the same way the CLI does, by composing the
config: :func:`compose`.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from harness.errors import ConfigError

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
T = TypeVar("T")


def to_plain(node: Any) -> Any:
    """A DictConfig/ListConfig (resolved) or anything else as plain Python containers."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(node, DictConfig | ListConfig):
            return OmegaConf.to_container(node, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf ships with hydra
        pass
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return dataclasses.asdict(node)
    return node


def from_node(cls: type[T], node: Any, path: str = "", *, extra: str = "error") -> T:
    """Build the dataclass ``cls`` from a config node (DictConfig, dict or an instance).

    ``extra``: what to do with keys the dataclass does not name: ``error`` (a typo must not
    be silently ignored) or ``ignore``. Fields with a dataclass default may be left out.
    """
    if isinstance(node, cls):
        return node
    data = to_plain(node)
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or cls.__name__} must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown and extra == "error":
        raise ConfigError(
            f"unknown key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(_join(path, k) for k in unknown)} (accepted: {', '.join(sorted(fields))})"
        )
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"missing key {_join(path, name)}")
            continue
        values[name] = convert(data[name], hints[name], _join(path, name))
    return cls(**values)


def convert(value: Any, tp: Any, path: str) -> Any:
    """``value`` as type ``tp`` (int, float, bool, str, Optional, list, dict, dataclass, Any)."""
    if tp is Any:
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return convert(value, arg, path)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{path}={value!r} has the wrong type")
    if value is None:
        raise ConfigError(f"{path} may not be null")
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{path}={value!r} must be a list")
        item = args[0] if args else Any
        out = [convert(v, item, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if (origin or tp) is tuple else out
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{path}={value!r} must be a mapping")
        vt = args[1] if len(args) == 2 else Any
        return {str(k): convert(v, vt, f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return from_node(tp, value, path)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(f"{path}={value!r} must be true or false")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ConfigError(f"{path}={value!r} must be an integer")
        try:
            number = float(value)
        except ValueError:
            raise ConfigError(f"{path}={value!r} must be an integer") from None
        if number != int(number):
            raise ConfigError(f"{path}={value!r} must be an integer")
        return int(number)
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{path}={value!r} must be a number")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{path}={value!r} must be a number") from None
    if tp is str:
        if isinstance(value, Mapping | list | tuple):
            raise ConfigError(f"{path}={value!r} must be a string")
        return str(value)
    return value


def compose(overrides: list[str] | tuple[str, ...] = (), config_name: str = "config") -> Any:
    """The composed config, exactly as ``python -m harness OVERRIDES`` would see it."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    import harness.identity  # noqa: F401  (registers the run-id resolver)

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name, overrides=list(overrides))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
