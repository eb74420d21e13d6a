"""Mode choice, secret masking and naming: the tracker's decisions without W&B."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.tracking.episode_table import ceo_decisions_text
from harness.tracking.mode import has_credentials, resolve_mode
from harness.tracking.naming import sweep_group, wandb_run_id
from harness.tracking.scrub import MASK, argv_has_secret, scrub, scrub_text
from harness.tracking.settings import tracking_settings
from tests.tracking.helpers import composed


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for var in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    return tmp_path / "netrc"


def test_auto_goes_online_only_with_credentials(no_credentials, monkeypatch):
    assert not has_credentials() and resolve_mode("auto") == "offline"
    no_credentials.write_text("machine api.wandb.ai\n  login user\n  password " + "f" * 40 + "\n")
    assert has_credentials() and resolve_mode("auto") == "online"
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.org")
    assert resolve_mode("auto") == "offline"  # the key is for another host
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert resolve_mode("auto") == "online"


def test_wandb_mode_env_and_explicit_modes_win(no_credentials, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    assert resolve_mode("auto") == "offline"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_mode("auto") == "disabled"
    assert resolve_mode("online") == "online" and resolve_mode("offline") == "offline"


def test_bad_tracking_settings_are_one_line_errors():
    with pytest.raises(ConfigError, match="tracking.wandb.mode='sometimes'"):
        tracking_settings(composed("tracking.wandb.mode=sometimes").tracking)
    with pytest.raises(ConfigError, match="tracking.wandb.artifact"):
        tracking_settings(composed("tracking.wandb.artifact=everything").tracking)
    with pytest.raises(ConfigError, match="unknown key tracking.wandb.projekt"):
        tracking_settings(composed("+tracking.wandb.projekt=x").tracking)


@pytest.mark.parametrize(
    "key, value, masked",
    [
        ("api_key", "anything", True),
        ("hf_token", "abc", True),
        ("model/password", "hunter2", True),
        ("secret", "s", True),
        ("tokens", 2048, False),  # the token budget knob
        ("max_tokens", "16k", False),
        ("prompt_tokens", 123, False),
        ("api_key_env", "OPENAI_API_KEY", False),  # names a variable
        ("commit", "0123456789abcdef0123456789abcdef01234567", False),
        ("header", "0123456789abcdef0123456789abcdef01234567", True),  # a W&B key's shape
        ("path", "/home/user/.cache/harness/models/tiny_abcdefghijklmnop1234", False),
        ("run_id", "tiny/math500/ceo/agents3-tokens2k-seed0-1a2b3c4d", False),
        ("note", "sk-proj-abcdefghijklmnop1234", True),
    ],
)
def test_scrub_masks_secrets_by_key_or_shape(key, value, masked):
    assert (scrub({key: value})[key] == MASK) is masked


def test_scrub_text_masks_only_the_credential():
    text = "401: invalid key sk-abcdefghijklmnopqrstuvwx for https://user:pw@host/x (Bearer abcdefghijklmnopqrstu)"
    out = scrub_text(text)
    assert out == "401: invalid key *** for https://***@host/x (Bearer ***)"


def test_a_command_line_with_a_secret_is_detected():
    assert argv_has_secret(["model=tiny", "+model.api_key=abc"])
    assert argv_has_secret(["model.base_url=https://user:pw@host/v1"])  # a password in a URL
    assert argv_has_secret(["+model.headers.x=sk-abcdefghijklmnopqrstuvwx"])
    assert not argv_has_secret(["-m", "tokens=16,32", "hydra.sweep.dir=/tmp/x", "seed=0,1"])


def test_run_id_is_stable_per_directory(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert wandb_run_id(a) == wandb_run_id(tmp_path / "x" / ".." / "a")
    assert wandb_run_id(a) != wandb_run_id(b)
    assert len(wandb_run_id(a)) <= 64 and wandb_run_id(a).isalnum()


def test_group_is_the_sweep_read_from_multirun_yaml(tmp_path):
    point = tmp_path / "tiny" / "math500" / "single" / "tokens16-seed0-abcd"
    point.mkdir(parents=True)
    assert sweep_group(point, {}) is None  # a single run
    (tmp_path / "multirun.yaml").write_text(
        "hydra:\n  overrides:\n    task:\n    - model=tiny\n    - tokens=16,32\n    - seed=0,1\n"
    )
    assert sweep_group(point, {}) == "model=tiny tokens=16,32 seed=0,1"
    assert sweep_group(point, {"sweep_overrides": ["mas=ceo"]}) == "mas=ceo"
    long = sweep_group(point, {"sweep_overrides": [f"k{i}=" + "v" * 20 for i in range(10)]})
    assert len(long) <= 128


def test_ceo_decisions_read_as_one_line():
    assert ceo_decisions_text(None) is None
    text = ceo_decisions_text(
        [
            {"round": 1, "stop": False, "agents": 3, "budget": 4096, "parsed": True},
            {"round": 2, "stop": True, "agents": 3, "budget": 4096, "parsed": True},
        ]
    )
    assert text == "r1 continue 3×4096 · r2 stop"
