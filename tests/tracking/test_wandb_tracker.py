"""The W&B tracker against real offline W&B: what lands in the run folder W&B writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from harness.rows import ResultRow, Summary
from harness.tracking import Tracker, build_tracker
from harness.tracking.naming import wandb_run_id
from tests.tracking.helpers import ROWS, plain_config, write_store
from tests.tracking.wandb_records import offline_runs, run_view

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FILTER_KEYS = ("model", "mas", "benchmark", "agents", "tokens", "turns", "critic_rounds", "seed")


def _track(cfg, run_dir, summary, info=None, progress=((1, 2, 1, 300, 1.5), (2, 2, 1, 1000, 3.0))):
    tracker = build_tracker(cfg.tracking)
    tracker.start(run_dir, plain_config(cfg), {"run_id": "tiny/math500/ceo/x", **(info or {})})
    for p in progress:
        tracker.progress(*p)
    for row in ROWS:
        tracker.result(ResultRow.from_json(row))
    tracker.finish(Summary.from_json(summary))
    assert tracker.wait(120), "W&B did not finish"
    return tracker


def test_offline_run_mirrors_the_run_store(tmp_path, tracking_cfg):
    cfg = tracking_cfg("tracking.wandb.mode=offline")
    run_dir = tmp_path / "sweep" / "tiny" / "point"
    summary = write_store(run_dir)
    (tmp_path / "sweep" / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task:\n    - model=tiny\n    - tokens=16,32\n"
    )
    _track(cfg, run_dir, summary, info={"references": {"p1": "14", "p2": "7"}})

    (folder,) = offline_runs(run_dir)
    view = run_view(folder)
    assert view["id"] == wandb_run_id(run_dir)
    assert view["group"] == "model=tiny tokens=16,32"  # the sweep is the dashboard
    assert view["job_type"] == "math500"
    assert view["name"] == "tiny/math500/ceo/x"
    config = view["config"]
    assert {k: config[k] for k in FILTER_KEYS} == {
        "model": "tiny",
        "mas": "ceo",
        "benchmark": "math500",
        "agents": 3,
        "tokens": 2048,  # `2k` as a number, so W&B can sort and plot by it
        "turns": 3,
        "critic_rounds": 2,
        "seed": 0,
    }
    assert config["mas/stop_on"] == plain_config(cfg)["mas"]["stop_on"]  # the flattened rest
    assert config["git"]["commit"] == summary["git"]["commit"]
    for key in ("n", "accuracy", "stderr", "n_expected", "complete", "tokens_per_problem"):
        assert view["summary"][key] == summary[key], key
    live = [h for h in view["history"] if "live/done" in h]
    assert live and live[-1]["live/done"] == 2 and live[-1]["live/accuracy"] == 0.5
    assert {a["type"] for a in view["artifacts"]} == {"run_table", "run-store"}
    store = next(a for a in view["artifacts"] if a["type"] == "run-store")
    assert sorted(store["files"]) == sorted(
        ["config.yaml", "summary.json", "results.jsonl", "transcripts.jsonl"]
    )
    (table_file,) = folder.glob("files/media/table/problems_*.table.json")
    table = json.loads(table_file.read_text())
    assert table["columns"][:5] == ["id", "repeat", "correct", "answer", "reference"]
    by_id = {row[0]: dict(zip(table["columns"], row, strict=True)) for row in table["data"]}
    assert by_id["p1"]["reference"] == "14" and by_id["p2"]["answer"] is None
    assert by_id["p1"]["tokens"] == 1200
    assert by_id["p2"]["ceo_decisions"] == "r1 continue 2×1024 (fallback) · r2 stop"
    assert view["exit_code"] == 0


def test_incomplete_run_is_marked_failed_in_wandb(tmp_path, tracking_cfg):
    cfg = tracking_cfg("tracking.wandb.mode=offline", "tracking.wandb.artifact=none")
    summary = write_store(tmp_path / "run", complete=False, error="interrupted")
    _track(cfg, tmp_path / "run", summary)
    view = run_view(offline_runs(tmp_path / "run")[0])
    assert view["exit_code"] == 1
    assert view["summary"]["complete"] is False and view["summary"]["error"] == "interrupted"
    assert [a["type"] for a in view["artifacts"]] == ["run_table"]


def test_rerunning_a_point_writes_into_the_same_wandb_run(tmp_path, tracking_cfg):
    cfg = tracking_cfg("tracking.wandb.mode=offline", "tracking.wandb.table=false")
    summary = write_store(tmp_path / "a")
    write_store(tmp_path / "b")
    for run_dir in (tmp_path / "a", tmp_path / "a", tmp_path / "b"):
        _track(cfg, run_dir, summary, progress=())
    first, second = offline_runs(tmp_path / "a")
    ids = {run_view(first)["id"], run_view(second)["id"]}
    assert ids == {wandb_run_id(tmp_path / "a")}
    assert run_view(offline_runs(tmp_path / "b")[0])["id"] != ids.pop()


def test_points_tracked_at_once_in_one_process_stay_apart(tmp_path, tracking_cfg):
    """The harness launcher runs sweep points concurrently in one process: each point's
    figures must land in its own W&B run (no global wandb.run)."""
    trackers, summaries = [], []
    for i, tokens in enumerate(("16", "32")):
        cfg = tracking_cfg("tracking.wandb.mode=offline", f"tokens={tokens}")
        run_dir = tmp_path / f"p{i}"
        summaries.append(write_store(run_dir, accuracy=i / 4))
        tracker = build_tracker(cfg.tracking)
        tracker.start(run_dir, plain_config(cfg), {"run_id": f"point{i}"})
        trackers.append(tracker)
    for step in range(1, 4):
        for i, tracker in enumerate(trackers):
            tracker.progress(step, 3, i, 10 * step, float(step))
    for tracker, summary in zip(trackers, summaries, strict=True):
        tracker.finish(Summary.from_json(summary))
    assert all(t.wait(120) for t in trackers)
    for i, tokens in enumerate((16, 32)):
        view = run_view(offline_runs(tmp_path / f"p{i}")[0])
        assert view["name"] == f"point{i}" and view["config"]["tokens"] == tokens
        assert view["summary"]["accuracy"] == i / 4
        live = [h["live/accuracy"] for h in view["history"] if "live/done" in h]
        assert live and live[-1] == i / 3


def test_no_secret_reaches_wandb(tmp_path, tracking_cfg, monkeypatch):
    key = "sk-" + "Ab3" * 12
    hf = "hf_" + "x7Y" * 10
    wandb_like = "0f" * 20  # a W&B key's shape: 40 hex characters
    monkeypatch.setenv("OPENAI_API_KEY", key)
    monkeypatch.setenv("HF_TOKEN", hf)
    cfg = tracking_cfg(
        "tracking.wandb.mode=offline",
        f"+model.api_key={key}",
        f"+model.hf_token={hf}",
        f"+model.extra_header={wandb_like}",
        "+model.api_key_env=OPENAI_API_KEY",
    )
    run_dir = tmp_path / "run"
    summary = write_store(run_dir, error=f"openai.AuthenticationError: bad key {key}")
    (run_dir / "config.yaml").write_text(f"model:\n  api_key: {key}\n  hf_token: {hf}\n")
    _track(cfg, run_dir, summary)

    written = b"".join(p.read_bytes() for p in (run_dir / "wandb").rglob("*") if p.is_file())
    for secret in (key, hf, wandb_like):
        assert secret.encode() not in written, secret
    view = run_view(offline_runs(run_dir)[0])
    assert view["config"]["model/api_key"] == "***"
    assert view["config"]["model/api_key_env"] == "OPENAI_API_KEY"  # a name, not a key
    assert view["config"]["tokens"] == 2048  # a token count is not a token
    assert "bad key ***" in view["summary"]["error"]


def test_a_wandb_failure_is_one_warning_and_the_run_goes_on(tmp_path):
    """No network: W&B online against a closed port. Both points finish their own work, the
    first W&B failure warns once, and W&B stays off for the rest of the process."""
    script = textwrap.dedent(
        f"""
        import json, logging, sys
        from pathlib import Path
        sys.path.insert(0, {ROOT!r})
        logging.basicConfig(level=logging.WARNING)
        from harness.rows import Summary
        from harness.tracking import Tracker, build_tracker
        from tests.tracking.helpers import composed, plain_config, write_store
        cfg = composed(
            "tracking.wandb.mode=online",
            "tracking.wandb.init_timeout_s=3",
            "tracking.wandb.finish_timeout_s=30",
        )
        kinds = []
        for i in range(2):
            run_dir = Path({str(tmp_path)!r}) / f"p{{i}}"
            summary = write_store(run_dir)
            tracker = build_tracker(cfg.tracking)
            kinds.append(type(tracker).__name__)
            tracker.start(run_dir, plain_config(cfg), {{}})
            tracker.progress(1, 2, 1, 10, 1.0)
            tracker.finish(Summary.from_json(summary))  # waits for W&B up to finish_timeout_s (30 s)
            # W&B gave up at its init_timeout_s (3 s), so finish found it done; had W&B gone
            # on to its own default (90 s), finish would have stopped waiting with it still busy
            assert tracker.wait(0), "W&B still busy after finish_timeout_s"
            (run_dir / "after.txt").write_text("the run went on")
        print(json.dumps(kinds))
        """
    )
    env = dict(os.environ, WANDB_API_KEY="a" * 40, WANDB_BASE_URL="http://127.0.0.1:9")
    env.pop("WANDB_MODE", None)
    r = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout.strip().splitlines()[-1]) == ["WandbTracker", "Tracker"]
    assert r.stderr.count("W&B failed") == 1, r.stderr[-3000:]
    assert "W&B is off for the rest of this process" in r.stderr
    assert "a" * 40 not in r.stderr + r.stdout
    assert (tmp_path / "p0" / "after.txt").exists() and (tmp_path / "p1" / "after.txt").exists()


def test_disabled_mode_gives_the_no_op_tracker(tracking_cfg, monkeypatch):
    assert type(build_tracker(tracking_cfg("tracking.wandb.mode=disabled").tracking)) is Tracker
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert type(build_tracker(tracking_cfg().tracking)) is Tracker
    assert type(build_tracker(None)) is Tracker


def test_a_process_that_exits_right_after_finish_leaves_a_whole_wandb_run(tmp_path):
    """The runner does not wait for W&B: at interpreter exit the tracker's thread must finish
    the run before W&B's own exit hooks stop its service."""
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {ROOT!r})
        from harness.rows import Summary
        from harness.tracking import build_tracker
        from tests.tracking.helpers import composed, plain_config, write_store
        cfg = composed("tracking.wandb.mode=offline")
        for i in range(2):
            run_dir = Path({str(tmp_path)!r}) / f"p{{i}}"
            summary = write_store(run_dir, accuracy=0.25 * i)
            tracker = build_tracker(cfg.tracking)
            tracker.start(run_dir, plain_config(cfg), {{}})
            tracker.finish(Summary.from_json(summary))
        """
    )
    r = subprocess.run(
        [sys.executable, "-c", script],
        env=dict(os.environ, WANDB_MODE="offline"),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert "W&B failed" not in r.stderr, r.stderr[-3000:]
    for i in range(2):
        view = run_view(offline_runs(tmp_path / f"p{i}")[0])
        assert view["summary"]["accuracy"] == 0.25 * i
        assert view["exit_code"] == 0
        assert any(a["type"] == "run-store" for a in view["artifacts"])
