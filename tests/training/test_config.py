"""The training config tree: the paper's recipe as a preset, the smoke preset, launcher args."""

from __future__ import annotations

import sys

import pytest

from harness.errors import ConfigError
from training.settings import compose_train, train_settings


def test_paper_recipe_preset():
    s = train_settings(compose_train(["+experiment=m1_32b"]))
    assert s.model.path == "Qwen/Qwen2.5-32B-Instruct" and s.model.gradient_checkpointing
    assert s.data.source == "Can111/m500" and s.data.cutoff_len == 32768
    t = s.train
    assert (t.learning_rate, t.epochs, t.lr_scheduler, t.warmup_ratio, t.weight_decay) == (
        1e-5,
        5,
        "cosine",
        0.05,
        1e-4,
    )
    assert (t.per_device_batch, t.grad_accum, t.bf16) == (1, 2, "auto")
    zero = s.deepspeed["zero_optimization"]
    assert zero["stage"] == 3
    assert zero["offload_optimizer"]["device"] == "cpu" and zero["offload_param"]["device"] == "cpu"
    assert zero["stage3_gather_16bit_weights_on_model_save"]  # checkpoints are plain HF folders
    assert s.model.attn_implementation == "auto"  # flash_attention_2 where flash-attn is


def test_cutoff_default_is_the_papers_not_a_library_default():
    assert train_settings(compose_train()).data.cutoff_len == 32768


@pytest.mark.parametrize("stage,group", [(2, "zero2"), (3, "zero3"), (3, "zero3_offload")])
def test_deepspeed_configs_selectable(stage, group):
    s = train_settings(compose_train([f"deepspeed={group}"]))
    assert s.deepspeed["zero_optimization"]["stage"] == stage
    assert s.deepspeed["train_micro_batch_size_per_gpu"] == "auto"


def test_smoke_preset_is_tiny_zero3_on_the_shipped_fixture():
    s = train_settings(compose_train(["+experiment=sft_smoke"]))
    assert s.model.build == "tiny" and s.deepspeed["zero_optimization"]["stage"] == 3
    assert "offload_param" not in s.deepspeed["zero_optimization"]
    assert s.data.source == "training/fixtures/m500_fixture.jsonl"


def test_unknown_key_is_a_config_error():
    cfg = compose_train(["+train.learning_rat=1"])
    with pytest.raises(ConfigError, match="train.learning_rat"):
        train_settings(cfg)


def test_attention_and_bf16_choices_on_cpu():
    from training.train import choose_attention, choose_bf16

    assert choose_attention("auto") == "sdpa"  # no flash-attn, no GPU here
    assert choose_attention("eager") == "eager"
    with pytest.raises(ConfigError):
        choose_attention("flash")
    assert choose_bf16("auto") is False and choose_bf16("true") is True


def test_deepspeed_launcher_local_rank_is_taken_off_argv(monkeypatch):
    from training.__main__ import _take_launcher_args

    # set then delete: monkeypatch then removes what the function sets when the test ends
    monkeypatch.setenv("LOCAL_RANK", "x")
    monkeypatch.delenv("LOCAL_RANK")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setattr(sys, "argv", ["training", "--local_rank=3", "+experiment=sft_smoke"])
    _take_launcher_args()
    assert sys.argv == ["training", "+experiment=sft_smoke"]
    import os

    assert os.environ["LOCAL_RANK"] == "3"


def test_several_processes_need_one_output_dir(monkeypatch, capsys):
    from training.__main__ import _take_launcher_args

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(sys, "argv", ["training", "+experiment=sft_smoke"])
    with pytest.raises(SystemExit) as exc:
        _take_launcher_args()
    assert exc.value.code == 2 and "hydra.run.dir" in capsys.readouterr().err
