"""The paper's sampling (temperature 0.7, top_p 0.95) on the transformers engine, through the CLI
with the tiny model: a multi-agent run records every problem, every call at that sampling, and
summary.json says whether per-call seeds held (HF generate draws a batch from one generator, so
not when requests are batched). vLLM's side: tests/engines/test_vllm_sampling.py."""

from __future__ import annotations

import json

from tests.conftest import read_jsonl, run_cli


def test_paper_sampling_on_transformers_records_every_problem(data_dir, tmp_path):
    run_dir = tmp_path / "run"
    proc = run_cli(
        "model=tiny",
        "mas=ceo",
        "agents=2",
        "turns=1",
        "critic_rounds=1",
        "benchmark=math500",
        "limit=2",
        "tokens=24",
        "temperature=0.7",
        "top_p=0.95",
        "run.progress=false",
        "tracking.wandb.mode=disabled",
        f"hydra.run.dir={run_dir}",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["n"] == 2 and summary["complete"], summary
    assert summary["per_call_seeds"] is False  # batched: one generator per batch
    assert json.loads((run_dir / "identity.json").read_text())["per_call_seeds"] is False
    calls = [c for t in read_jsonl(run_dir / "transcripts.jsonl") for c in t["calls"]]
    assert len(calls) == summary["calls"] > 2
    assert all(c["temperature"] == 0.7 and c["top_p"] == 0.95 for c in calls)
