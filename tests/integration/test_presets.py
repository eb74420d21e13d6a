"""The paper presets (``+experiment=table1|scaling_*``) through the real CLI on the tiny model,
shrunk with ordinary overrides; each is one command that runs every point of its sweep with the
paper's per-benchmark settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from harness.settings import compose
from tests.conftest import ROOT, read_jsonl, run_cli

SHRINK = ["model=tiny", "limit=1", "tokens=24"]
STUDIES = {
    "scaling_turns": ("turns", [1, 2, 3, 4]),
    "scaling_critic_rounds": ("critic_rounds", [1, 2, 3, 4, 5]),
    "scaling_agents": ("agents", [2, 3, 4, 5]),
    "scaling_tokens": ("tokens", [4096, 8192, 16384, 32000]),
}


def runs(sweep_dir: Path) -> list[tuple[dict, dict]]:
    """(config.yaml, summary.json) of every run under a sweep dir."""
    out = []
    for summary in sorted(sweep_dir.rglob("summary.json")):
        cfg = OmegaConf.to_container(OmegaConf.load(summary.parent / "config.yaml"))
        out.append((cfg, json.loads(summary.read_text())))
    return out


def test_table1_runs_both_systems_with_the_papers_settings(tmp_path, data_dir):
    # the tiny model never writes a code block: without these every solver call is asked 20
    # times (the preset's retries are checked in test_presets_compose_for_every_benchmark)
    no_retries = ["mas.parse_retries=0", "mas.role_parse_retries.solver=0"]
    r = run_cli(
        "+experiment=table1",
        "benchmark=mbpp_sanitized",
        *SHRINK,
        *no_retries,
        f"hydra.sweep.dir={tmp_path}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    points = runs(tmp_path)
    assert sorted(cfg["mas"]["name"] for cfg, _ in points) == ["agentverse", "ceo"]
    for cfg, summary in points:
        assert summary["n"] == 1
        # MBPP-S: the paper's 1 turn and 1 critic iteration, 2 agents, sampling 0.7 / 0.95
        assert (cfg["agents"], cfg["turns"], cfg["critic_rounds"]) == (2, 1, 1)
        assert (cfg["temperature"], cfg["top_p"]) == (0.7, 0.95)
        assert cfg["tokens"] == 24 and cfg["mas"]["memory"] == "chat_history"
        assert cfg["mas"]["role_tokens"]["critic"] == 8192  # code tasks; capped at tokens
    ceo = next(cfg for cfg, _ in points if cfg["mas"]["name"] == "ceo")
    assert ceo["mas"]["ceo"]["max_agents"] == 3
    assert ceo["mas"]["ceo"]["budget_menu"] == [4096, 8192, 16384, 32000]
    for transcripts in tmp_path.rglob("transcripts.jsonl"):
        for t in read_jsonl(transcripts):
            assert all(c["max_tokens"] <= 24 for c in t["calls"])  # `tokens` shrinks every role
            assert all(c["temperature"] >= 0.7 and c["top_p"] == 0.95 for c in t["calls"])
            assert {c["round"] for c in t["calls"]} == {1}


@pytest.mark.parametrize(
    "study",
    [
        s if s == "scaling_tokens" else pytest.param(s, marks=pytest.mark.slow)
        for s in sorted(STUDIES)
    ],
)
def test_each_scaling_study_is_one_command(study, tmp_path, data_dir):
    knob, points = STUDIES[study]
    # the study's own points, as shipped
    shipped = OmegaConf.load(ROOT / "conf" / "experiment" / f"{study}.yaml")
    assert [int(v) for v in str(shipped.hydra.sweeper.params[knob]).split(",")] == points
    # shrunk: the first two points (scaling_tokens: two small budgets, since `tokens` is its knob)
    small = "16,24" if knob == "tokens" else ",".join(map(str, points[:2]))
    shrink = [s for s in SHRINK if not (knob == "tokens" and s.startswith("tokens="))]
    # the roles off the axis keep their own limits (shrunk here to 32, above both points)
    others = [f"mas.role_tokens.{role}=32" for role in ("recruiter", "evaluator", "ceo")]
    r = run_cli(
        f"+experiment={study}",
        "benchmark=math500",
        *shrink,
        *(others if knob == "tokens" else []),
        "mas.parse_retries=0",
        f"{knob}={small}",  # the command line's points replace the preset's
        f"hydra.sweep.dir={tmp_path}",
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    got = runs(tmp_path)
    assert sorted(cfg[knob] for cfg, _ in got) == sorted(int(v) for v in small.split(","))
    for cfg, summary in got:
        assert cfg["mas"]["name"] == "agentverse" and summary["n"] == 1
        assert (cfg["temperature"], cfg["top_p"]) == (0.7, 0.95)
        for k, v in {"agents": 2, "turns": 2, "critic_rounds": 3}.items():
            if k != knob:
                assert cfg[k] == v  # MATH-500's paper settings hold for the other knobs
    if knob == "tokens":
        # the original's max-tokens axis moves the solver's and critics' limits only
        for transcripts in tmp_path.rglob("transcripts.jsonl"):
            tokens = OmegaConf.load(transcripts.parent / "config.yaml").tokens
            for t in read_jsonl(transcripts):
                for c in t["calls"]:
                    if c["role"] in ("solver", "critic"):
                        assert c["max_tokens"] <= tokens
                    else:
                        assert c["max_tokens"] == 32


def test_presets_compose_for_every_benchmark():
    for bench in ("math500", "aime2024", "gpqa_diamond", "commongen_hard", "humaneval"):
        cfg = compose(["+experiment=table1", f"benchmark={bench}", "mas=ceo"])
        assert (cfg.agents, cfg.tokens, cfg.mas.role_tokens.ceo) == (2, 32000, 32000)
        code = bench == "humaneval"
        assert cfg.mas.role_tokens.critic == (8192 if code else 16384)
        assert cfg.mas.role_tokens.recruiter == (4096 if bench == "commongen_hard" else 8192)
        assert cfg.mas.stop_on == "evaluator"  # the original ignored the CEO's Stop
        # the original's max_retry counted every attempt: 3 (code and CommonGen 10, code solver 20)
        retries = 9 if code or bench == "commongen_hard" else 2
        assert (cfg.mas.parse_retries, cfg.mas.retry_halving) == (retries, True)
        assert cfg.mas.role_parse_retries.solver == (19 if code else None)
        assert (cfg.mas.final_answer, cfg.mas.code_messages) == ("last_message", "code_block")
        assert cfg.reasoning.cut_thinking == "raw" and cfg.mas.ceo.fallback == "original"
    plain = compose(["mas=ceo"])  # without a preset the CEO's bounds follow the knobs
    assert plain.mas.ceo.max_agents == plain.agents and plain.mas.ceo.budget_menu is None
    assert plain.mas.stop_on == "either"
