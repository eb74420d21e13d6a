"""API models against a scripted server (tests/engines/fake_openai_server): a provider's cap on
max_tokens clamps the request and is recorded, DeepSeek's 400 for it is an output-length limit
(not a fatal error), the id the server reports lands in summary.json, and the leaderboard names
the row by it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from harness.engines.base import Request, SamplingParams
from harness.engines.openai_engine import OpenAIEngine
from harness.settings import compose
from tests.conftest import ROOT, cli_env, run_cli
from tests.engines.fake_openai_server import FakeOpenAI, Script


def engine(url: str, model: str, *over: str) -> OpenAIEngine:
    cfg = compose([f"model={model}", f"model.base_url={url}", "model.retry.backoff_base_s=0.01",
                   "model.retry.backoff_max_s=0.05", *over])  # fmt: skip
    return OpenAIEngine(cfg.model)


def req(i: int, max_tokens: int) -> Request:
    params = SamplingParams(max_tokens=max_tokens, temperature=0.7, top_p=0.9, seed=i)
    return Request([{"role": "user", "content": f"question {i}"}], params)


def generate(e: OpenAIEngine, *requests: Request):
    async def go():
        try:
            return [await e.generate(r) for r in requests]
        finally:
            await e.close()

    return asyncio.run(go())


def test_deepseek_chat_asks_for_its_cap_and_records_the_clamp(monkeypatch):
    """The paper's 16,384-32,000 tokens against deepseek-chat's 8,192: sent as 8,192, no 400."""
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test")
    with FakeOpenAI(Script(api_key="sk-test", output_cap=8192)) as srv:
        (c,) = generate(engine(srv.url, "deepseek-chat"), req(1, 32000))
    (body,) = srv.log.bodies.values()
    assert body["max_tokens"] == 8192 and body["model"] == "deepseek-chat"
    assert srv.total_attempts() == 1  # nothing refused
    assert c.clamp == {"asked": 32000, "sent": 8192, "cap": 8192}
    assert c.text.startswith("The answer is")


def test_deepseeks_range_error_is_an_output_limit_learned_once():
    """A server whose cap the config does not know: its 400 ("valid range of max_tokens is
    [1, 8192]") is retried at the cap, recorded, and later calls are clamped up front."""
    with FakeOpenAI(Script(output_cap=8192)) as srv:
        e = engine(srv.url, "openai", "model.model_id=m", "model.context_length=200000")
        first, second = generate(e, req(1, 16384), req(2, 20000))
    assert first.clamp == {"asked": 16384, "sent": 8192, "cap": 8192}
    assert second.clamp == {"asked": 20000, "sent": 8192, "cap": 8192}
    sent = [json.loads(raw)["max_tokens"] for raw in srv.log.raw]
    assert sent == [16384, 8192, 8192]  # one refusal, then never again
    assert e.output_cap == 8192


def test_served_model_in_summary_and_leaderboard(tmp_path):
    """`model=openai` against a server answering as m1-32b: summary.json records the served id,
    and the leaderboard's row is m1-32b (not `openai`); the same configuration run twice is one
    row with both runs pooled, in the accuracy and the token tables alike."""
    with FakeOpenAI(Script(served_model="m1-32b")) as srv:
        runs = []
        for k in (1, 2):
            run_dir = tmp_path / f"sweep{k}" / "point"
            r = run_cli("model=openai", f"model.base_url={srv.url}", "model.model_id=m1-32b",
                        "model.context_length=4096", "mas=single", "benchmark=aime2024",
                        "limit=2", "tokens=64", "tracking.wandb.mode=disabled",
                        f"hydra.run.dir={run_dir}", timeout=300)  # fmt: skip
            assert r.returncode == 0, r.stderr[-3000:]
            runs.append(json.loads((run_dir / "summary.json").read_text()))
    assert [s["served_model"] for s in runs] == ["m1-32b", "m1-32b"]
    assert runs[0]["model"] == "openai" and runs[0]["config_hash"] == runs[1]["config_hash"]
    out = tmp_path / "report"
    rep = subprocess.run(
        [sys.executable, "-m", "harness.report", str(tmp_path / "sweep1"),
         str(tmp_path / "sweep2"), "--out", str(out)],
        cwd=ROOT, env=cli_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert rep.returncode == 0, rep.stderr[-3000:]
    board = (out / "leaderboard.md").read_text()
    rows = [line for line in board.splitlines() if line.startswith("| m1-32b")]
    assert rows and not any(line.startswith("| openai") for line in board.splitlines()), board
    accuracy_rows = [line for line in rows if "runs pooled" in line]
    assert accuracy_rows, board
    csv = (out / "leaderboard.csv").read_text().splitlines()
    data = [line for line in csv[1:] if line.strip()]
    assert len(data) == 1 and "m1-32b" in data[0], csv
