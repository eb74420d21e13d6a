"""Stopping a run through the real CLI: Ctrl-C or a scheduler's SIGTERM leaves a resumable run,
says so in one line, and leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import psutil
import pytest

from tests.conftest import Reaped, read_jsonl, run_cli, wait_for_results

LIMIT = 16


def _stopped(p: psutil.Process) -> bool:
    """Once SIGSTOP has taken hold: True; False if the process had already ended."""
    while True:
        status = p.status()
        if status in (psutil.STATUS_STOPPED, psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return status == psutil.STATUS_STOPPED
        time.sleep(0.01)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    "sig", [pytest.param(signal.SIGINT, marks=pytest.mark.slow), signal.SIGTERM]
)
def test_a_stopped_run_is_resumable_and_leaves_no_process(tmp_path, sig, data_dir):
    out = tmp_path / "run"
    # a code benchmark, so sandbox workers are running when the signal arrives
    args = [
        "model=tiny",
        "mas=single",
        "benchmark=mbpp_sanitized",
        f"limit={LIMIT}",
        "tokens=256",
        "model.max_concurrency=2",
        f"hydra.run.dir={out}",
    ]
    # Under tests/reaper.py, which sees every process the run leaves, however short-lived its
    # parent. Its own session off: the signal goes to the harness alone, as a scheduler's
    # would; SIGINT ignored from the start, as in a batch script's background job (`cmd &`).
    run = Reaped(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                 start_new_session=False, preexec_fn=_ignore_sigint)  # fmt: skip
    harness = run.harness_pid()
    assert wait_for_results(out, 3, run.proc, timeout=900), "no 3 results while it ran"
    # Stopped, the run cannot reach its end before the signal lands: no race with a fast run.
    os.kill(harness, signal.SIGSTOP)
    try:
        assert _stopped(psutil.Process(harness)), "the run ended before it could be interrupted"
        assert psutil.Process(harness).children(), "expected sandbox workers under the harness"
        os.kill(harness, sig)
    finally:
        os.kill(harness, signal.SIGCONT)
    code, left, stderr = run.finish(timeout=600)
    assert code == 130, stderr[-2000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: interrupted") and "resume" in last
    assert "Traceback" not in stderr
    assert not left, f"processes outlived the harness: {left}"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and summary["sessions"][-1]["outcome"] == "interrupted"
    saved = summary["n"]
    assert 3 <= saved < LIMIT
    if sig == signal.SIGINT:
        return  # the resume of an interrupted run is the same for both signals: once is enough

    r = run_cli(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    keys = [(row["id"], row["repeat"]) for row in read_jsonl(out / "results.jsonl")]
    assert len(keys) == len(set(keys)) == LIMIT
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True and summary["computed_this_session"] == LIMIT - saved
