"""Sandbox config, time-limit policy, verdict classification and launch command (no processes)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml

from harness.errors import ConfigError
from harness.sandbox import SandboxConfig, launcher
from harness.sandbox.result import classify

REPO = Path(__file__).resolve().parents[2]


def test_yaml_keys_are_the_config_fields():
    data = yaml.safe_load((REPO / "conf/sandbox/default.yaml").read_text())
    cfg = SandboxConfig.from_any(data)
    assert cfg == SandboxConfig()


def test_from_any_accepts_none_dict_and_omegaconf():
    from omegaconf import OmegaConf

    assert SandboxConfig.from_any(None) == SandboxConfig()
    assert SandboxConfig.from_any({"workers": 3}).n_workers == 3
    assert SandboxConfig.from_any(OmegaConf.create({"memory_mb": 512})).memory_mb == 512


@pytest.mark.parametrize("bad", [{"mechanism": "docker"}, {"timeout_s": 0}, {"nope": 1}])
def test_bad_config_is_a_config_error(bad):
    with pytest.raises(ConfigError):
        SandboxConfig.from_any(bad)


def test_evalplus_time_limit():
    cfg = SandboxConfig(time_factor=4.0, time_floor_s=1.0, timeout_s=7.0)
    assert cfg.time_limit(0.1) == 1.0
    assert cfg.time_limit(2.0) == 8.0
    assert cfg.time_limit(None) == 7.0


def _raw(status: int, **kw):
    return {"stdout": "", "stderr": "", "wall_s": 0.1, "reports": [{"status": status}], **kw}


def test_classify_verdicts():
    limits = SandboxConfig().limits(2.0)
    assert classify(_raw(0), 2.0, limits).verdict == "passed"
    assert classify(_raw(0, timed_out=True), 2.0, limits).verdict == "timeout"
    assert classify(_raw(signal.SIGSEGV), 2.0, limits).verdict == "crashed"
    assert classify(_raw(signal.SIGXCPU), 2.0, limits).verdict == "timeout"
    mem = _raw(1 << 8)
    mem["reports"].append({"exc": "MemoryError", "detail": "MemoryError"})
    assert classify(mem, 2.0, limits).verdict == "memory"
    failed = _raw(1 << 8)
    failed["reports"].append({"exc": "AssertionError", "detail": "AssertionError (line 3: x)"})
    res = classify(failed, 2.0, limits)
    assert (res.verdict, res.detail, res.exit_code) == ("failed", "AssertionError (line 3: x)", 1)
    assert classify({"reports": []}, 2.0, limits).verdict == "sandbox_error"


def test_bwrap_command_isolates(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-unit-secret")
    spec = launcher.bwrap_spec(SandboxConfig())
    argv = " ".join(spec.argv)
    for flag in ("--unshare-net", "--unshare-pid", "--clearenv", "--ro-bind / /", "--new-session"):
        assert flag in argv
    assert "sk-unit-secret" not in argv and "OPENAI_API_KEY" not in spec.env
