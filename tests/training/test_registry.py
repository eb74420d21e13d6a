"""Registered checkpoints are harness models (the search-path plugin), and only harness ones."""

from __future__ import annotations

import json

import pytest

from harness.errors import ConfigError
from harness.settings import compose
from training.checkpoints import CheckpointRecorder, register, sweep_command
from training.settings import RegisterSpec, compose_train, train_settings


def test_a_registered_checkpoint_composes_as_a_harness_model(tmp_path, monkeypatch):
    registry = tmp_path / "registry"
    spec = RegisterSpec(enabled=True, dir=str(registry), base="tiny", benchmark="math500")
    register(spec, "run-a-step5", tmp_path / "checkpoint-5", tmp_path)
    monkeypatch.setenv("HARNESS_REGISTRY", str(registry))
    cfg = compose(["model=run-a-step5"])
    assert cfg.model.name == "run-a-step5"
    assert cfg.model.path == str((tmp_path / "checkpoint-5").resolve())
    assert cfg.model.build is None
    # Engine settings come from the base config.
    tiny = compose(["model=tiny"]).model
    assert (cfg.model.engine, cfg.model.dtype, cfg.model.max_batch) == (
        tiny.engine,
        tiny.dtype,
        tiny.max_batch,
    )
    # The training app has no model group: a registered name is no config there, only a string.
    train_cfg = compose_train(["model=run-a-step5"])
    assert train_cfg.model == "run-a-step5"
    with pytest.raises(ConfigError, match="model"):
        train_settings(train_cfg)


def test_recorder_writes_checkpoints_json_and_forgets_rotated_ones(tmp_path):
    from types import SimpleNamespace

    registry = tmp_path / "registry"
    spec = RegisterSpec(enabled=True, dir=str(registry), base="tiny", benchmark="math500")
    rec = CheckpointRecorder(tmp_path, "run-b", spec, by_epoch=False)
    args = SimpleNamespace(output_dir=str(tmp_path))
    for step in (2, 4):
        (tmp_path / f"checkpoint-{step}").mkdir()
        rec.on_save(
            args,
            SimpleNamespace(is_world_process_zero=True, global_step=step, epoch=step / 4),
            None,
        )
    entries = json.loads((tmp_path / "checkpoints.json").read_text())
    assert [(e["name"], e["step"], e["epoch"]) for e in entries] == [
        ("run-b-step2", 2, 0.5),
        ("run-b-step4", 4, 1.0),
    ]
    # save_total_limit removed checkpoint-2 before the next save: it leaves the list and registry.
    (tmp_path / "checkpoint-2").rmdir()
    (tmp_path / "checkpoint-6").mkdir()
    rec.on_save(args, SimpleNamespace(is_world_process_zero=True, global_step=6, epoch=1.5), None)
    names = [e["name"] for e in json.loads((tmp_path / "checkpoints.json").read_text())]
    assert names == ["run-b-step4", "run-b-step6"]
    assert sorted(p.stem for p in (registry / "model").glob("*.yaml")) == names
    assert (
        sweep_command(names, "aime2024")
        == "python -m harness -m model=run-b-step4,run-b-step6 benchmark=aime2024"
    )
    by_epoch = CheckpointRecorder(tmp_path, "run-c", spec, by_epoch=True)
    by_epoch.on_save(
        args, SimpleNamespace(is_world_process_zero=True, global_step=6, epoch=1.0), None
    )
    assert by_epoch.entries[0]["name"] == "run-c-epoch1"
