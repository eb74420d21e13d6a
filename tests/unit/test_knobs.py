import pytest

from harness.errors import ConfigError
from harness.knobs import Knobs, parse_tokens


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("8k", 8192),
        ("16k", 16384),
        ("32K", 32768),
        (256, 256),
        ("256", 256),
        ("8192 tokens", 8192),
        ("1.5k", 1536),
    ],
)
def test_tokens_accepts_k_suffix_and_integers(value, expected):
    assert parse_tokens(value) == expected


@pytest.mark.parametrize("value", ["banana", "", "-5", "0", True, "8m", None])
def test_tokens_rejects_garbage_with_accepted_forms(value):
    with pytest.raises(ConfigError, match="8k, 16k, 32k or an integer|at least 1"):
        parse_tokens(value)


def test_knobs_validate_each_field():
    base = dict(
        agents=3,
        tokens="8k",
        turns=2,
        critic_rounds=0,
        limit=None,
        repeats=1,
        seed=0,
        temperature=0.7,
        top_p=0.95,
    )
    k = Knobs.from_cfg(base)
    assert (k.agents, k.tokens, k.limit, k.temperature) == (3, 8192, None, 0.7)
    bad_values = [
        ("agents", 0),
        ("turns", "x"),
        ("repeats", 0),
        ("limit", 0),
        ("agents", 2.5),
        ("temperature", -1),
        ("temperature", "hot"),
        ("top_p", 0),
        ("top_p", 1.5),
    ]
    for key, bad in bad_values:
        with pytest.raises(ConfigError, match=key):
            Knobs.from_cfg({**base, key: bad})
