"""Run identity through the real CLI: every result-affecting key its own run, resume across
sweeps, provenance in summary.json, and sweep points run at once on one event loop."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.engines.model_builds import resolve_model_path
from harness.settings import compose
from tests.conftest import read_jsonl, run_cli


def _summaries(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(root.rglob("summary.json"))]


def test_sweeping_keys_outside_the_run_name_gives_separate_complete_runs(tmp_path, data_dir):
    """`-m temperature=0,0.7` used to fail on its second point; two checkpoints swept by
    `model.path` used to share one run."""
    # a second "checkpoint": a copy of the tiny model's folder (built here on first use)
    built = Path(resolve_model_path(compose(["model=tiny"]).model))
    ckpt_a, ckpt_b = tmp_path / "ckpt-a", tmp_path / "ckpt-b"
    shutil.copytree(built, ckpt_a)
    shutil.copytree(built, ckpt_b)
    sweep = tmp_path / "sweep"
    args = (
        "-m",
        "model=tiny",
        "mas=single",
        f"model.path={ckpt_a},{ckpt_b}",
        "temperature=0,0.7",
        "limit=2",
        "tokens=8",
        f"hydra.sweep.dir={sweep}",
    )
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "sweep plan: 4 points" in r.stdout
    summaries = _summaries(sweep)
    assert len(summaries) == 4
    assert len({s["run_id"] for s in summaries}) == 4
    assert all(s["complete"] and s["n"] == s["n_expected"] == 2 for s in summaries)
    assert {(s["temperature"]) for s in summaries} == {0.0, 0.7}
    # each run's config names its own checkpoint
    paths = {
        json.loads((Path(s_dir).parent / "identity.json").read_text())["config_hash"]
        for s_dir in map(str, sweep.rglob("summary.json"))
    }
    assert len(paths) == 4

    # the same sweep again: nothing to compute, so no model is even loaded
    r = run_cli(*args, HARNESS_CACHE=str(tmp_path / "no-models-here"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 done, 0 to run" in r.stdout
    assert all(s["computed_this_session"] == 0 for s in _summaries(sweep))
    assert not (tmp_path / "no-models-here").exists()


def test_knobs_a_system_does_not_use_neither_split_nor_block(tmp_path, data_dir):
    sweep = tmp_path / "sweep"
    r = run_cli(
        "-m",
        "model=oracle",
        "mas=single",
        "agents=2,3",
        "limit=2",
        f"hydra.sweep.dir={sweep}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    summaries = _summaries(sweep)
    assert len(summaries) == 1 and summaries[0]["n"] == 2
    assert summaries[0]["computed_this_session"] == 0  # the second point found it done


def test_summary_records_provenance_and_sessions(tmp_path, data_dir):
    out = tmp_path / "run"
    args = ("model=oracle", "mas=single", "limit=3", f"hydra.run.dir={out}")
    assert run_cli(*args).returncode == 0
    s = json.loads((out / "summary.json").read_text())
    for key in (
        "run_id",
        "config_hash",
        "data_digest",
        "started_at",
        "ended_at",
        "git",
        "versions",
    ):
        assert s[key], key
    assert s["run_id"].endswith(s["config_hash"])
    assert s["versions"]["mas-harness"] and s["versions"]["python"]
    assert "commit" in s["git"] and "dirty" in s["git"]
    assert (s["n_expected"], s["complete"], len(s["sessions"])) == (3, True, 1)
    assert s["engine_start_s"] is not None and s["generation_s"] is not None
    # extending the run is a second session; its wall time adds up
    assert run_cli(*args[:-2], "limit=5", f"hydra.run.dir={out}").returncode == 0
    s2 = json.loads((out / "summary.json").read_text())
    assert (s2["n"], s2["computed_this_session"], len(s2["sessions"])) == (5, 2, 2)
    assert s2["wall_s_total"] == round(sum(x["wall_s"] for x in s2["sessions"]), 3)
    assert s2["started_at"] == s["started_at"]


def test_resume_refuses_other_data_behind_the_same_name(tmp_path, data_dir):
    data = tmp_path / "math.jsonl"
    lines = (data_dir / "math500.jsonl").read_text().splitlines()
    data.write_text("\n".join(lines[:5]) + "\n")
    out = tmp_path / "run"
    args = ("model=oracle", "mas=single", f"benchmark.data_files={data}", f"hydra.run.dir={out}")
    assert run_cli(*args).returncode == 0
    data.write_text("\n".join(lines[1:6]) + "\n")  # same path, other problems
    r = run_cli(*args)
    assert r.returncode == 2
    assert "different benchmark data" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_points_run_at_once_on_one_loop_match_points_run_in_turn(tmp_path, data_dir):
    args = ("-m", "model=tiny", "mas=single", "tokens=8,16", "limit=3")
    seq, conc = tmp_path / "seq", tmp_path / "conc"
    r = run_cli(*args, f"hydra.sweep.dir={seq}")
    assert r.returncode == 0, r.stderr[-3000:]
    r = run_cli(*args, f"hydra.sweep.dir={conc}", "hydra.launcher.concurrency=2")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 at once" in r.stdout
    assert (r.stdout + r.stderr).count("loaded ") == 1  # one model for both points

    def answers(root: Path) -> dict:
        out = {}
        for results in root.rglob("results.jsonl"):
            tokens = json.loads((results.parent / "summary.json").read_text())["tokens"]
            out[tokens] = sorted(
                (row["id"], row["completion_tokens"]) for row in read_jsonl(results)
            )
        return out

    assert answers(seq).keys() == answers(conc).keys() == {8, 16}
    # each point's log holds only its own lines
    for log in conc.rglob("harness.log"):
        tokens = json.loads((log.parent / "summary.json").read_text())["tokens"]
        other = 16 if tokens == 8 else 8
        text = log.read_text()
        assert str(log.parent) in text and f"tokens{other}-" not in text
