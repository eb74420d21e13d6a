"""The launcher presets: points in loky workers (joblib) and in submitit jobs, each with its own
W&B offline run, and the SLURM presets as Hydra composes them."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.conftest import run_cli
from tests.tracking.wandb_records import offline_runs, run_view

POINTS = ("model=tiny", "mas=single", "tokens=16,32", "limit=1")


def _check_points(sweep):
    summaries = {
        p.parent: json.loads(p.read_text())
        for p in sweep.rglob("summary.json")
        if "wandb" not in p.parts and ".submitit" not in p.parts
    }
    assert sorted(s["tokens"] for s in summaries.values()) == [16, 32]
    for run_dir, s in summaries.items():
        assert s["complete"], s
        (folder,) = offline_runs(run_dir)
        view = run_view(folder)
        assert view["summary"]["accuracy"] == s["accuracy"] and view["exit_code"] == 0


@pytest.mark.slow
def test_parallel_preset_runs_points_in_joblib_workers_with_wandb(tmp_path, data_dir):
    """W&B in loky workers (the known joblib × W&B conflict): every point ends with a whole
    offline run, and the workers finish."""
    sweep = tmp_path / "sweep"
    r = run_cli("-m", "hydra/launcher=parallel", *POINTS, f"hydra.sweep.dir={sweep}", timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2,backend=loky" in r.stdout + r.stderr
    _check_points(sweep)


@pytest.mark.slow
def test_submitit_local_runs_the_sweep_as_jobs(tmp_path, data_dir):
    """The SLURM path without SLURM: hydra-submitit-launcher's local executor submits each point
    as a job (a subprocess), exactly as the slurm_* presets do on a cluster."""
    sweep = tmp_path / "sweep"
    r = run_cli(
        "-m",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=20",
        *POINTS,
        f"hydra.sweep.dir={sweep}",
        timeout=1200,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert any((sweep / ".submitit").iterdir())
    _check_points(sweep)


@pytest.mark.parametrize(
    "preset, gpus, timeout_min",
    [("slurm_a100", 2, 720), ("slurm_h100", 2, 480), ("slurm_cpu", None, 240)],
)
def test_slurm_presets_compose_with_the_cluster_settings(preset, gpus, timeout_min):
    r = run_cli(
        f"hydra/launcher={preset}",
        "hydra.launcher.partition=gpu",
        "hydra.launcher.account=proj42",
        "--cfg",
        "hydra",
        "-p",
        "hydra.launcher",
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    launcher = yaml.safe_load(r.stdout)
    launcher = launcher.get("hydra", {}).get("launcher", launcher)
    assert launcher["_target_"].endswith("submitit_launcher.SlurmLauncher")
    assert (launcher["partition"], launcher["account"]) == ("gpu", "proj42")
    assert launcher["gpus_per_node"] == gpus and launcher["timeout_min"] == timeout_min
    assert launcher["submitit_folder"].endswith(".submitit/%j")
