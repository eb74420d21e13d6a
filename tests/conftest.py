"""Shared fixtures: where the real benchmark data and the model cache are, and a CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("HARNESS_DATA_DIR") or ROOT.parent / "shared" / "benchmarks")
CACHE = Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "harness")


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HARNESS_DATA_DIR=str(DATA_DIR),
        HARNESS_CACHE=str(CACHE),
        WANDB_MODE="offline",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    env.update(extra)
    return env


def run_cli(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        cwd=ROOT,
        env=cli_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_cli(*args: str, **popen: object) -> subprocess.Popen:
    """``python -m harness ARGS`` started in the background (for tests that stop it part-way);
    output discarded and its own process group unless ``popen`` says otherwise."""
    kw: dict = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    kw.update(popen)
    return subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=ROOT, env=cli_env(), **kw)


def wait_for_results(run_dir: Path, lines: int, proc: subprocess.Popen, timeout: float) -> None:
    """Until RUN_DIR/results.jsonl holds ``lines`` lines, the process ends, or ``timeout`` s."""
    results = run_dir / "results.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and results.read_text().count("\n") >= lines:
            return
        time.sleep(0.05)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA_DIR / "math500.jsonl").exists():
        pytest.skip(f"benchmark data not found in {DATA_DIR}")
    return DATA_DIR


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("HARNESS_CACHE", str(CACHE))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
