"""Shared fixtures: where the real benchmark data and the model cache are, and a CLI runner.

Under CI (``CI=true``) nothing may skip: a part a selected test needs (the benchmark data, vLLM,
Chromium) that is missing stops the run before any test with one line naming it, and any other
skip is reported as a failure, so a broken install cannot turn into a green run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("HARNESS_DATA_DIR") or ROOT.parent / "shared" / "benchmarks")
CACHE = Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "harness")
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_data() -> str | None:
    if (DATA_DIR / "math500.jsonl").exists():
        return None
    return f"benchmark data not found in {DATA_DIR} (HARNESS_DATA_DIR, or ../shared/benchmarks)"


def missing_vllm() -> str | None:
    try:
        import vllm  # noqa: F401
    except Exception as e:  # an ImportError, or a broken build failing as it loads
        return (
            f"vLLM is not importable by {sys.executable} ({type(e).__name__}: {e}); "
            "build .venv-vllm with scripts/setup_vllm.sh"
        )
    return None


def missing_browser() -> str | None:
    from harness.view import browser

    return browser.missing()


def missing_part(why: str) -> None:
    """A part this test needs is not installed: a skip on a developer's machine, a failure under
    CI."""
    if CI:
        pytest.fail(f"CI=true and {why}", pytrace=False)
    pytest.skip(why)


# What a selected test needs, by the fixture or marker that says so.
NEEDS = {"data_dir": missing_data, "vllm": missing_vllm, "browser": missing_browser}


def pytest_collection_finish(session: pytest.Session) -> None:
    """Under CI, a missing part that a selected test needs ends the run here, in one line."""
    if not CI:
        return
    wanted = set()
    for item in session.items:
        wanted |= {name for name in NEEDS if name in item.fixturenames}
        wanted |= {m.name for m in item.iter_markers() if m.name in NEEDS}
    for name in sorted(wanted):
        why = NEEDS[name]()
        if why:
            pytest.exit(f"CI=true and {why}", returncode=pytest.ExitCode.TESTS_FAILED)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under CI a skip is a failure: whatever a test skips on is a part CI must have."""
    outcome = yield
    report = outcome.get_result()
    if CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"CI=true: the test skipped ({reason}); CI must have every part"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """The same for a whole module skipped while it is collected (``importorskip``)."""
    outcome = yield
    report = outcome.get_result()
    if CI and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"CI=true: {collector.nodeid} skipped ({reason}); CI must have every part"


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


def run_cli(
    *args: str, timeout: float = 300, python: str | Path | None = None, **env: str
) -> subprocess.CompletedProcess:
    """``python -m harness ARGS`` (this interpreter unless ``python`` names another venv's)."""
    return subprocess.run(
        [str(python or sys.executable), "-m", "harness", *args],
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


class Reaped:
    """``python -m harness ARGS`` run below tests/reaper.py, which sees every process the run
    leaves behind (none missed, however short-lived its parent). Output discarded and its own
    process group unless ``popen`` says otherwise."""

    def __init__(self, *args: str, grace: float = 60, **popen: object) -> None:
        self.report = Path(tempfile.mkdtemp(prefix="harness-reaper-")) / "report.json"
        kw: dict = dict(
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        kw.update(popen)
        cmd = [sys.executable, str(ROOT / "tests" / "reaper.py"), str(self.report), str(grace)]
        cmd += [sys.executable, "-m", "harness", *args]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=cli_env(), **kw)

    def harness_pid(self, timeout: float = 60) -> int:
        """The harness's own pid (the reaper's first child), for signals meant for it."""
        import psutil

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            kids = psutil.Process(self.proc.pid).children()
            if kids:
                return kids[0].pid
            time.sleep(0.01)
        raise TimeoutError("the reaper started no harness")

    def finish(self, timeout: float) -> tuple[int, list, str]:
        """Wait for the harness and its leftovers: its exit status, the processes that outlived
        it (``[pid, cmdline]``; killed by now) and its stderr when piped."""
        _, stderr = self.proc.communicate(timeout=timeout)
        report = json.loads(self.report.read_text())
        return report["code"], report["left"], stderr or ""


def wait_for_results(run_dir: Path, lines: int, proc: subprocess.Popen, timeout: float) -> bool:
    """Until RUN_DIR/results.jsonl holds ``lines`` lines (True), or the process ends or
    ``timeout`` s pass without them (False)."""
    results = run_dir / "results.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if results.exists() and results.read_text().count("\n") >= lines:
            return True
        time.sleep(0.05)
    return False


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def data_dir() -> Path:
    why = missing_data()
    if why:
        missing_part(why)
    return DATA_DIR


def _check_parts(node: pytest.Item | pytest.Collector) -> None:
    for name in ("vllm", "browser"):
        if node.get_closest_marker(name):
            why = NEEDS[name]()
            if why:
                missing_part(why)


@pytest.fixture(autouse=True, scope="module")
def _module_parts(request: pytest.FixtureRequest) -> None:
    """A module marked ``vllm`` or ``browser`` skips (fails under CI) where that part is
    missing, before its module-scoped fixtures try to use it."""
    _check_parts(request.node)


@pytest.fixture(autouse=True)
def _parts(request: pytest.FixtureRequest) -> None:
    """The same for a single test so marked."""
    _check_parts(request.node)


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(DATA_DIR))
    monkeypatch.setenv("HARNESS_CACHE", str(CACHE))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
