"""Puts the model registry on the harness's config search path.

``python -m training`` writes one model config per saved checkpoint into
``$HARNESS_CACHE/registry/model/<name>.yaml`` (``training.checkpoints``); with this folder on
the search path, ``python -m harness model=<name>`` (and ``-m model=<a>,<b>``) finds them like
any config of ``conf/model/``. ``HARNESS_REGISTRY`` names another registry folder.
Hydra discovers this plugin by scanning the ``hydra_plugins`` namespace package.
"""

from __future__ import annotations

import os
from pathlib import Path

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


def registry_dir() -> Path:
    if os.environ.get("HARNESS_REGISTRY"):
        return Path(os.environ["HARNESS_REGISTRY"]).expanduser()
    cache = os.environ.get("HARNESS_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "harness"
    )
    return Path(cache) / "registry"


def _has_model_group(search_path: ConfigSearchPath) -> bool:
    for element in search_path.get_path():
        path = element.path or ""
        if path.startswith("file://"):
            path = path[len("file://") :]
        elif "://" in path:  # pkg://, structured://
            continue
        if path and (Path(path) / "model").is_dir():
            return True
    return False


class HarnessModelsSearchPathPlugin(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        # Only apps with a `model` config group of their own (the harness): `python -m training`
        # configures its model otherwise and must not be offered registered ones.
        if not _has_model_group(search_path):
            return
        # Appended, so a project config of the same name always wins over a registered one.
        search_path.append(provider="harness-models", path=f"file://{registry_dir()}")
