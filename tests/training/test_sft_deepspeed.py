"""End to end on real parts: harness runs (oracle and tiny, agentverse) → trace export → one
DeepSpeed ZeRO-3 training run of ``tiny`` on CPU (the shipped fixture plus the exported records)
→ the harness evaluates the saved checkpoints by their registered names, alone and in a sweep.

One DeepSpeed launch, shared by every assertion (module-scoped fixture): the first DeepSpeed
run on a machine JIT-compiles one op (~30 s), later ones reuse it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env, read_jsonl, run_cli

pytestmark = pytest.mark.slow


def run_module(module: str, *args: str, timeout: float, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def sft(tmp_path_factory, data_dir):
    tmp = tmp_path_factory.mktemp("sft")
    registry = tmp / "registry"
    oracle = run_cli(
        "model=oracle",
        "mas=agentverse",
        "benchmark=math500",
        "limit=3",
        "tokens=64",
        "tracking.wandb.mode=disabled",
        f"hydra.run.dir={tmp / 'oracle'}",
    )
    assert oracle.returncode == 0, oracle.stderr[-3000:]
    tiny = run_cli(
        "model=tiny",
        "mas=agentverse",
        "benchmark=math500",
        "limit=1",
        "tokens=32",
        "turns=1",
        "critic_rounds=1",
        "agents=2",
        "tracking.wandb.mode=disabled",
        f"hydra.run.dir={tmp / 'tiny'}",
    )
    assert tiny.returncode == 0, tiny.stderr[-3000:]
    exported = tmp / "oracle_m500.jsonl"
    export = run_module("training.export", str(tmp / "oracle"), "--out", str(exported), timeout=120)
    assert export.returncode == 0, export.stderr
    train_dir = tmp / "train"
    train = run_module(
        "training",
        "+experiment=sft_smoke",
        f"hydra.run.dir={train_dir}",
        f"data.extra_files=[{exported}]",
        "train.max_steps=10",
        "train.save_steps=5",
        timeout=1200,
        HARNESS_REGISTRY=str(registry),
    )
    (tmp / "train.stdout").write_text(train.stdout + "\n---\n" + train.stderr)
    assert train.returncode == 0, train.stderr[-4000:]
    return {
        "tmp": tmp,
        "registry": registry,
        "train_dir": train_dir,
        "train": train,
        "exported": exported,
        "tiny_run": tmp / "tiny",
    }


def test_export_of_the_real_oracle_run_is_m500(sft):
    records = read_jsonl(sft["exported"])
    assert len(records) == 3  # one per question, every oracle episode is correct
    for r in records:
        assert r["question"] and r["solution"]
        for field in (
            "expert_recruiter_messages",
            "problem_solver_messages",
            "critic_messages",
            "evaluator_messages",
        ):
            roles = [m["role"] for m in r[field]]
            assert roles and roles[-1] == "assistant", field


def test_export_reads_a_real_tiny_run(sft, tmp_path):
    from harness.transcript import read_episodes
    from training.export import export, used_calls

    episodes = list(read_episodes(sft["tiny_run"]))
    assert len(episodes) == 1
    _, ep = episodes[0]
    calls = used_calls(ep)
    fallbacks = {e["call"] for e in ep["events"] if e["kind"] == "fallback"}
    assert all(c["seq"] not in fallbacks and not c["error"] for c in calls)
    assert [c["seq"] for c in calls] == sorted(c["seq"] for c in calls)
    counts = export([str(sft["tiny_run"])], tmp_path / "tiny.jsonl")
    # The random model's answer is wrong: the paper's filter keeps nothing.
    assert counts["episodes"] == 1 and counts["records"] == 0 and counts["not_correct"] == 1
    counts = export(
        [str(sft["tiny_run"])], tmp_path / "all.jsonl", fmt="messages", include_wrong=True
    )
    assert counts["records"] == len(calls)


def test_loss_goes_down(sft):
    losses = [r["loss"] for r in read_jsonl(sft["train_dir"] / "metrics.jsonl") if "loss" in r]
    assert len(losses) == 10
    first, last = sum(losses[:3]) / 3, sum(losses[-3:]) / 3
    assert last < first - 0.3, losses


def test_run_summary_data_report_and_deepspeed(sft):
    summary = json.loads((sft["train_dir"] / "train_summary.json").read_text())
    assert summary["deepspeed_stage"] == 3 and summary["world_size"] == 1
    assert summary["attn_implementation"] == "sdpa"  # no flash-attn here
    data = summary["data"]
    assert data["records"] == 8 + 3 and data["groups"] == 11
    assert (
        data["kept"] == data["samples"] - data["dropped_over_cutoff"] - data["dropped_no_assistant"]
    )
    assert data["trained_tokens"] > 0
    log = (sft["train_dir"] / "train.log").read_text()
    assert "attention implementation: sdpa" in log
    assert "samples per optimizer step" in log
    assert list((sft["train_dir"] / "wandb").glob("offline-run-*/run-*.wandb"))


def test_checkpoints_json_registry_and_sweep_command(sft):
    entries = json.loads((sft["train_dir"] / "checkpoints.json").read_text())
    assert [e["step"] for e in entries] == [5, 10]
    names = [e["name"] for e in entries]
    assert len(set(names)) == 2 and all(n.startswith("sft-smoke-") for n in names)
    for e in entries:
        folder = Path(e["path"])
        assert (folder / "model.safetensors").exists() and (folder / "tokenizer.json").exists()
        entry = (sft["registry"] / "model" / f"{e['name']}.yaml").read_text()
        assert str(folder) in entry
    assert f"python -m harness -m model={','.join(names)}" in sft["train"].stdout


def test_harness_runs_a_checkpoint_by_its_registered_name(sft):
    name = json.loads((sft["train_dir"] / "checkpoints.json").read_text())[-1]["name"]
    out = sft["tmp"] / "eval_one"
    proc = run_cli(
        f"model={name}",
        "mas=single",
        "benchmark=math500",
        "limit=1",
        "tokens=16",
        "tracking.wandb.mode=disabled",
        f"hydra.run.dir={out}",
        HARNESS_REGISTRY=str(sft["registry"]),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == name and summary["n"] == 1


def test_harness_sweeps_the_checkpoints(sft):
    names = [e["name"] for e in json.loads((sft["train_dir"] / "checkpoints.json").read_text())]
    sweep = sft["tmp"] / "sweep"
    proc = run_cli(
        "-m",
        f"model={','.join(names)}",
        "mas=single",
        "benchmark=math500",
        "limit=1",
        "tokens=16",
        "tracking.wandb.mode=disabled",
        f"hydra.sweep.dir={sweep}",
        HARNESS_REGISTRY=str(sft["registry"]),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    models = sorted(json.loads(p.read_text())["model"] for p in sweep.rglob("summary.json"))
    assert models == sorted(names)


def test_an_unregistered_name_is_a_clean_error(sft):
    proc = run_cli("model=no-such-checkpoint", "limit=1", HARNESS_REGISTRY=str(sft["registry"]))
    assert proc.returncode == 1  # Hydra's rejection of an unknown model option (README)
    assert "no-such-checkpoint" in proc.stderr


def test_any_checkpoint_folder_through_model_hf(sft):
    folder = json.loads((sft["train_dir"] / "checkpoints.json").read_text())[0]["path"]
    out = sft["tmp"] / "eval_hf"
    proc = run_cli(
        "model=hf",
        f"model.path={folder}",
        "mas=single",
        "benchmark=math500",
        "limit=1",
        "tokens=16",
        "tracking.wandb.mode=disabled",
        f"hydra.run.dir={out}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "summary.json").read_text())["n"] == 1
