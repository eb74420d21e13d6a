"""Stopping a run through the real CLI: Ctrl-C or a scheduler's SIGTERM leaves a resumable run,
says so in one line, and leaves no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import read_jsonl, run_cli, start_cli, wait_for_results


def _descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (sandbox workers start their own sessions, so a process
    group would miss them)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


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
        "limit=40",
        # long enough (about 20 s on 2 cores) that the signal lands mid-run, not after the end
        "tokens=256",
        "model.max_concurrency=2",
        f"hydra.run.dir={out}",
    ]
    # its own session off: the signal goes to the harness alone, as a scheduler's would
    # SIGINT ignored from the start, as in a batch script's background job (`cmd &`)
    proc = start_cli(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                     start_new_session=False, preexec_fn=_ignore_sigint)  # fmt: skip
    results = out / "results.jsonl"
    wait_for_results(out, 3, proc, timeout=180)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    below = _descendants(proc.pid)
    assert below, "expected sandbox workers under the harness"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("error: interrupted") and "resume" in last
    assert "Traceback" not in stderr
    time.sleep(0.5)
    assert not [p for p in below if _alive(p)], "processes outlived the harness"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and summary["sessions"][-1]["outcome"] == "interrupted"
    saved = summary["n"]
    assert 3 <= saved < 40

    r = run_cli(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    keys = [(row["id"], row["repeat"]) for row in read_jsonl(results)]
    assert len(keys) == len(set(keys)) == 40
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True and summary["computed_this_session"] == 40 - saved
