"""Shared fixtures: where the real benchmark data and the model cache are, and a CLI runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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
