"""Sandbox config, time-limit policy, verdict classification and launch command (no processes)."""

from __future__ import annotations

import dataclasses
import signal
from pathlib import Path

import pytest
import yaml

from harness.errors import ConfigError
from harness.sandbox import Sandbox, SandboxConfig, launcher
from harness.sandbox.config import sandbox_config as sandbox_config_of
from harness.sandbox.result import classify
from harness.settings import compose
from tests.settings_helper import sandbox_config

REPO = Path(__file__).resolve().parents[2]


def test_yaml_is_the_one_place_for_defaults():
    fields = {f.name for f in dataclasses.fields(SandboxConfig)}
    data = yaml.safe_load((REPO / "conf/sandbox/default.yaml").read_text())
    assert set(data) == fields
    # no field carries a default of its own in code
    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(SandboxConfig))
    assert sandbox_config_of(compose().sandbox) == sandbox_config_of(data) == sandbox_config()


def test_the_node_is_read_once_and_typed():
    from omegaconf import OmegaConf

    node = OmegaConf.create({**yaml.safe_load((REPO / "conf/sandbox/default.yaml").read_text())})
    node.workers = "3"
    cfg = sandbox_config_of(node)
    assert cfg.n_workers == 3 and cfg.timeout_s == sandbox_config().timeout_s
    assert sandbox_config_of(cfg) is cfg
    with pytest.raises(ConfigError, match="missing key sandbox.memory_mb"):
        sandbox_config_of({k: v for k, v in node.items() if k != "memory_mb"})
    # the sandbox takes the typed settings only
    with pytest.raises(TypeError, match="SandboxConfig"):
        Sandbox({"workers": 1})


@pytest.mark.parametrize(
    "bad",
    [{"mechanism": "docker"}, {"timeout_s": 0}, {"nope": 1}, {"wall_factor": 0.5},
     {"memory_mb": "lots"}],
)  # fmt: skip
def test_bad_config_is_a_one_line_config_error(bad):
    with pytest.raises(ConfigError) as err:
        sandbox_config_of({**dataclasses.asdict(sandbox_config()), **bad})
    assert "\n" not in str(err.value) and "sandbox." in str(err.value)


def test_graded_limits_follow_the_reference_cpu_time():
    cfg = sandbox_config(cpu_factor=4.0, cpu_floor_s=2.0, wall_factor=5.0, reference_cpu_s=100)
    assert cfg.graded_limits(0.01) == (2.0, 10.0)  # the floor
    assert cfg.graded_limits(5.0) == (20.0, 100.0)  # MBPP/123's reference needs ~5 s of CPU
    assert cfg.reference_limits() == (100, 500)
    assert cfg.limits(10.0, cpu_s=20.0)["cpu_s"] == 20
    assert cfg.limits(7.5)["cpu_s"] == 8  # no CPU limit given: the wall limit, rounded up


def _raw(status: int, **kw):
    base = {"stdout": "", "stderr": "", "wall_s": 0.1, "status": [{"status": status, "cpu_s": 0.2}]}
    return {**base, "reports": [], **kw}


def test_classify_verdicts():
    limits = sandbox_config().limits(2.0)
    res = classify(_raw(0), 2.0, limits)
    assert res.verdict == "passed" and res.cpu_s == 0.2
    assert classify(_raw(0, timed_out=True), 2.0, limits).verdict == "timeout"
    assert classify(_raw(signal.SIGSEGV), 2.0, limits).verdict == "crashed"
    assert classify(_raw(signal.SIGXCPU), 2.0, limits).verdict == "timeout"
    mem = _raw(1 << 8, reports=[{"exc": "MemoryError", "detail": "MemoryError"}])
    assert classify(mem, 2.0, limits).verdict == "memory"
    failed = _raw(1 << 8, reports=[{"exc": "AssertionError", "detail": "AssertionError (line 3)"}])
    res = classify(failed, 2.0, limits)
    assert (res.verdict, res.detail, res.exit_code) == ("failed", "AssertionError (line 3)", 1)
    assert classify({"reports": []}, 2.0, limits).verdict == "sandbox_error"


def test_exit_status_comes_only_from_inits_channel():
    limits = sandbox_config().limits(2.0)
    # A program that writes a status of its own on its report channel is not believed.
    forged = {"stdout": "", "stderr": "", "status": [], "reports": [{"status": 0}]}
    assert classify(forged, 2.0, limits).verdict == "sandbox_error"
    setup = {**_raw(0), "status": [{"setup_error": "mount failed"}]}
    assert classify(setup, 2.0, limits).verdict == "sandbox_error"


def _graded(status: int, tests_status: int, **kw):
    raw = _raw(status, grading=True, **kw)
    raw["status"][0].update(tests_status=tests_status, program_cpu_s=0.2, tests_cpu_s=0.1)
    return raw


def test_grading_mode_needs_the_tests_processs_completion_report():
    limits = sandbox_config().limits(2.0)
    assert classify(_graded(0, 0, completed=True, checks=3), 2.0, limits).passed
    res = classify(_graded(0, 0, completed=False), 2.0, limits)
    assert res.verdict == "failed" and "before every hidden test ran" in res.detail
    # completion reported but the tests process failed after it: not a pass
    assert not classify(_graded(0, 1 << 8, completed=True), 2.0, limits).passed
    # the solution process's own crash explains the failure, unless the tests had ended
    crashed = _graded(signal.SIGSEGV, 1 << 8, completed=False)
    assert classify(crashed, 2.0, limits).verdict == "crashed"
    crashed["status"][0]["killed_after_tests"] = True
    assert classify(crashed, 2.0, limits).verdict == "failed"
    mem = _graded(0, 1 << 8, reports=[{"exc": "MemoryError", "detail": "MemoryError"}])
    assert classify(mem, 2.0, limits).verdict == "memory"


def test_a_memory_hog_tree_and_surrogates_are_classified():
    limits = sandbox_config(memory_mb=256).limits(2.0)
    res = classify(_raw(-9, memory_exceeded_kb=600 * 1024), 2.0, limits)
    assert res.verdict == "memory" and "256 MB" in res.detail and "600 MB" in res.detail
    lone = "\ud800"
    raw = _raw(1 << 8, stdout=lone, reports=[{"exc": "ValueError", "detail": lone}])
    res = classify(raw, 2.0, limits)
    assert res.stdout == "\\ud800" and res.detail == "\\ud800"


def test_bwrap_shows_only_the_interpreter_and_the_system(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unit-secret")
    data = tmp_path / "benchmarks"
    data.mkdir()
    monkeypatch.setenv("HARNESS_DATA_DIR", str(data))
    spec = launcher.bwrap_spec(sandbox_config())
    argv = " ".join(spec.argv)
    for flag in ("--unshare-net", "--unshare-pid", "--clearenv", "--new-session"):
        assert flag in argv
    assert "--ro-bind / /" not in argv  # an allowlist, not the host's root
    binds = [spec.argv[i + 1] for i, a in enumerate(spec.argv) if a == "--ro-bind"]
    assert "/usr" in binds
    assert str(REPO) not in binds and str(data) not in binds
    assert not any(b.startswith(str(tmp_path)) for b in binds)
    # of the checkout, only the sandbox's own code (and a venv inside it) is bound
    inside = [b for b in binds if b.startswith(str(REPO) + "/")]
    assert all(b.startswith(str(REPO / ".venv")) or b == str(REPO / "harness/sandbox")
               for b in inside), inside  # fmt: skip
    assert "sk-unit-secret" not in argv and "OPENAI_API_KEY" not in spec.env


def test_fallback_hides_data_caches_and_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    (tmp_path / "data").mkdir()
    (tmp_path / "cache").mkdir()
    import json

    opts = json.loads(launcher.fallback_spec(sandbox_config()).argv[-1])
    for path in (tmp_path / "data", tmp_path / "cache", REPO):
        assert str(path.resolve()) in opts["tmpfs"]
