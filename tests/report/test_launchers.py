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
    """The SLURM path without SLURM: hydra-submitit-launcher's local executor (through the
    harness's `local` preset) submits each point as a job (a subprocess), exactly as the slurm_*
    presets do on a cluster."""
    sweep = tmp_path / "sweep"
    r = run_cli(
        "-m",
        "hydra/launcher=local",
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
    # hydra-submitit-launcher's SlurmLauncher, with the harness's checks and exit status
    assert launcher["_target_"] == "hydra_plugins.harness_launcher.cluster_launchers.SlurmLauncher"
    assert (launcher["partition"], launcher["account"]) == ("gpu", "proj42")
    assert launcher["gpus_per_node"] == gpus and launcher["timeout_min"] == timeout_min
    # srun of Slurm 22.05-23.02 does not inherit --cpus-per-task: the batch script passes it on
    assert launcher["setup"] == ["export SRUN_CPUS_PER_TASK=$SLURM_CPUS_PER_TASK"]
    # every key is one hydra-submitit-launcher's SlurmQueueConf knows
    from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf

    assert set(launcher) <= set(SlurmQueueConf.__dataclass_fields__), launcher


def _resolved_model(*args: str) -> dict:
    r = run_cli("model=m1-32b", *args, "--cfg", "job", "--resolve", "-p", "model", timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return yaml.safe_load(r.stdout)


def test_slurm_preset_ties_the_parallel_size_to_the_jobs_gpus():
    """`--cfg job --resolve`: the job's GPUs (gpus_per_node) are vLLM's tensor parallel size."""
    assert _resolved_model("hydra/launcher=slurm_h100")["tensor_parallel_size"] == 2
    four = _resolved_model("hydra/launcher=slurm_a100", "hydra.launcher.gpus_per_node=4")
    assert four["tensor_parallel_size"] == 4
    assert _resolved_model()["tensor_parallel_size"] == 1  # one process, no launcher GPUs
    mine = _resolved_model("hydra/launcher=slurm_h100", "model.tensor_parallel_size=1")
    assert mine["tensor_parallel_size"] == 1  # an explicit setting wins (and is checked below)


def _one_line_refusal(r, tmp_path) -> str:
    assert r.returncode == 2, r.stderr[-2000:]
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert not list(tmp_path.rglob("summary.json")) and not list(tmp_path.rglob(".submitit"))
    return lines[0]


def test_slurm_preset_refuses_a_parallel_size_that_idles_gpus(tmp_path):
    """Refused on the login node, before anything is submitted (no sbatch needed here)."""
    r = run_cli("-m", "hydra/launcher=slurm_h100", "model=m1-32b", "model.tensor_parallel_size=1",
                "tokens=8k,16k", f"hydra.sweep.dir={tmp_path}", timeout=120)  # fmt: skip
    line = _one_line_refusal(r, tmp_path)
    assert "each job gets 2 GPUs" in line and "model.tensor_parallel_size=2" in line


def test_joblib_preset_refuses_gpu_engines_in_several_workers(tmp_path):
    r = run_cli("-m", "hydra/launcher=parallel", "model=tiny", "model.engine=vllm",
                "tokens=16,32", f"hydra.sweep.dir={tmp_path}", timeout=120)  # fmt: skip
    line = _one_line_refusal(r, tmp_path)
    assert "each loading its own vllm engine" in line and "hydra/launcher=harness" in line


@pytest.mark.parametrize("launcher", ["local", "parallel"])
def test_a_failed_point_in_other_processes_sets_the_exit_status(tmp_path, launcher):
    """Under submitit (its local executor) and joblib the points run in other processes;
    one failing on bad input leaves exit status 2, the other point still finished."""
    sweep = tmp_path / "sweep"
    r = run_cli("-m", f"hydra/launcher={launcher}", "model=oracle", "mas=single",
                "benchmark=math500", "limit=2", "tokens=16,nope", "tracking.wandb.mode=disabled",
                f"hydra.sweep.dir={sweep}", timeout=300)  # fmt: skip
    assert r.returncode == 2, r.stderr[-3000:]
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: 1 sweep point(s) failed:") and "tokens='nope'" in last
    summaries = {p.parent.name: json.loads(p.read_text()) for p in sweep.rglob("summary.json")}
    good = next(s for name, s in summaries.items() if name.startswith("tokens16"))
    bad = next(s for name, s in summaries.items() if name.startswith("tokensnope"))
    assert good["complete"] and good["accuracy"] == 1.0 and good["n"] == 2
    assert bad["complete"] is False and "not a token count" in bad["error"]
