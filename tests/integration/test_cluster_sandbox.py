"""The sandbox on a compute node without unprivileged user namespaces (bubblewrap cannot start
there): a run that executes code stops at its start with one line saying why, and uses the
fallback's weaker isolation only when the user allows it (sandbox.allow_fallback=true).

The node is simulated with a `bwrap` first on PATH that fails as bubblewrap does where the
kernel refuses unprivileged user namespaces (its message, verbatim)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli

REFUSAL = (
    "bwrap: No permissions to creating new namespace, likely because the kernel does not allow "
    "non-privileged user namespaces. On e.g. debian this can be enabled with "
    "'sysctl kernel.unprivileged_userns_clone=1'."
)


@pytest.fixture
def no_userns_path(tmp_path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "bwrap"
    fake.write_text(f'#!/bin/sh\necho "{REFUSAL}" >&2\nexit 1\n')
    fake.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"


def _run(tmp_path: Path, path: str, *extra: str):
    run_dir = tmp_path / "run"
    args = ("model=oracle", "mas=single", "benchmark=humaneval", "limit=2",
            "tracking.wandb.mode=disabled", f"hydra.run.dir={run_dir}", *extra)  # fmt: skip
    return run_cli(*args, timeout=300, PATH=path), run_dir


def test_no_user_namespaces_is_one_line_at_start(tmp_path, no_userns_path):
    r, run_dir = _run(tmp_path, no_userns_path)
    assert r.returncode == 2, r.stderr[-3000:]
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in r.stderr, r.stderr
    assert "No permissions to creating new namespace" in errors[0]
    assert "sandbox.allow_fallback=true" in errors[0]
    assert not (run_dir / "results.jsonl").exists() or not (run_dir / "results.jsonl").read_text()


def test_the_fallback_runs_only_when_allowed(tmp_path, no_userns_path):
    r, run_dir = _run(tmp_path, no_userns_path, "sandbox.allow_fallback=true")
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["accuracy"] == 1.0 and summary["n"] == 2
    log = (run_dir / "harness.log").read_text()
    assert "fallback is missing protections" in log  # never silent
