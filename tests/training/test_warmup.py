"""The warmup is a fraction of the run's optimizer steps, as the paper's recipe states it (5%),
in the TrainingArguments the installed transformers builds."""

from __future__ import annotations

import dataclasses

import pytest

from harness.errors import ConfigError
from training.settings import compose_train, train_settings
from training.train import run, training_arguments


def _settings(ratio: float):
    s = train_settings(compose_train(["+experiment=m1_32b", f"train.warmup_ratio={ratio}"]))
    # no DeepSpeed: the arguments alone, without a process group
    return dataclasses.replace(s, deepspeed=None)


@pytest.mark.parametrize(
    ("ratio", "total", "warmup"), [(0.05, 1000, 50), (0.05, 30, 2), (0.0, 30, 0)]
)
def test_warmup_ratio_is_a_fraction_of_the_optimizer_steps(tmp_path, ratio, total, warmup):
    args = training_arguments(_settings(ratio), tmp_path, bf16=False, report_to=[])
    assert args.get_warmup_steps(total) == warmup


@pytest.mark.parametrize("ratio", [1.0, 2.0, -0.1])
def test_a_warmup_ratio_outside_0_to_1_is_a_config_error(tmp_path, ratio):
    cfg = compose_train(["+experiment=sft_smoke", f"train.warmup_ratio={ratio}"])
    with pytest.raises(ConfigError, match="train.warmup_ratio"):
        run(cfg, tmp_path)  # before any data or model is loaded
