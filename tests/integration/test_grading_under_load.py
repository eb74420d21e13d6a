"""model=oracle scores 100% on MBPP-S (all 427) and HumanEval (164) through the real CLI while
another process keeps a core busy: code time limits come from each reference solution's CPU
time, measured here under that same load (a fresh reference-times cache), and the wall limits
are generous multiples of them, so the load cannot flip a verdict."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import read_jsonl, run_cli


@pytest.fixture
def busy_core():
    """A process that spins on one core for the whole test."""
    proc = subprocess.Popen([sys.executable, "-c", "while True:\n    pass\n"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("benchmark", "n"),
    [("mbpp_sanitized benchmark.split=all", 427), ("humaneval", 164)],
    ids=["mbpp_sanitized-all", "humaneval"],
)
def test_oracle_scores_100_percent_while_the_machine_is_busy(
    tmp_path, benchmark, n, data_dir, busy_core
):
    out = tmp_path / "run"
    times = tmp_path / "reference_times.json"
    r = run_cli(
        "model=oracle",
        "mas=single",
        *f"benchmark={benchmark}".split(),
        f"hydra.run.dir={out}",
        f"scoring.reference_times={times}",
        timeout=1800,
    )
    assert busy_core.poll() is None, "the busy process ended early"
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    rows = read_jsonl(out / "results.jsonl")
    failed = [(row["id"], row["reason"]) for row in rows if not row["correct"]]
    assert (summary["n"], summary["accuracy"]) == (n, 1.0), failed[:5]
    assert summary["sandbox_errors"] == 0
    # every problem's limits came from its measured reference, and were recorded
    measured = json.loads(times.read_text())["entries"]
    assert len(measured) == n
    details = [row["score_details"] for row in rows]
    # both are recorded rounded to 1 ms, so 5 x the rounded CPU limit may exceed the wall's
    assert all(d["cpu_limit_s"] >= 2.0 and d["wall_limit_s"] >= 5 * d["cpu_limit_s"] - 0.005
               for d in details)  # fmt: skip
    slowest = max(details, key=lambda d: d["reference_cpu_s"])
    print(f"\n{benchmark}: slowest reference {slowest['reference_cpu_s']:.2f}s CPU, "
          f"limits {slowest['cpu_limit_s']:.1f}s CPU / {slowest['wall_limit_s']:.0f}s wall")  # fmt: skip
