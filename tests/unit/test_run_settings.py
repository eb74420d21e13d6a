"""Settings are read from the config once, where RunSettings is built; the layers below take
the dataclasses only."""

from __future__ import annotations

import dataclasses

import pytest
from omegaconf import OmegaConf

from harness.errors import ConfigError
from harness.run_settings import saved_run_settings
from harness.scoring.context import ScoringContext
from harness.settings import compose, to_plain
from tests.settings_helper import sandbox_config, scoring_settings, settings_for


def test_the_layers_take_dataclasses_only():
    with pytest.raises(TypeError, match="ScoringSettings and SandboxConfig"):
        ScoringContext({"workers": 1}, sandbox_config())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="ScoringSettings and SandboxConfig"):
        ScoringContext(scoring_settings(), {"workers": 1})  # type: ignore[arg-type]


def test_a_changed_setting_is_checked_like_a_configured_one():
    with pytest.raises(ConfigError, match="scoring.workers"):
        scoring_settings(workers=0)
    with pytest.raises(ConfigError, match="sandbox.memory_mb"):
        sandbox_config(memory_mb=0)
    assert dataclasses.replace(scoring_settings(), workers=3).workers == 3


def test_an_old_runs_config_gets_todays_defaults_for_keys_added_since():
    saved = OmegaConf.create(to_plain(compose(["benchmark=mbpp_sanitized"])))
    for block, key in (("scoring", "trajectory"), ("sandbox", "nproc"), ("benchmark", "split")):
        del saved[block][key]  # written by a harness that did not have these keys yet
    saved.scoring.workers = 1
    benchmark, scoring, sandbox = saved_run_settings(saved)
    now = settings_for("benchmark=mbpp_sanitized")
    assert benchmark == now.task.settings and benchmark.split == "test"
    assert scoring == dataclasses.replace(now.scoring, workers=1)
    assert sandbox == now.sandbox
    saved.scoring.bogus = 1  # a key the harness does not know is still an error
    with pytest.raises(ConfigError, match="unknown key scoring.bogus"):
        saved_run_settings(saved)
