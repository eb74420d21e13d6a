"""The openai engine against a real HTTP server on 127.0.0.1 (tests/engines/fake_openai_server):
retries and their budget, Retry-After, fatal 4xx, context-length errors, per-model parameter
quirks from config, prefixes, thinking apart, token and cost accounting."""

from __future__ import annotations

import asyncio
import json

import pytest

from harness.engines.base import (
    EngineDead,
    EngineUnavailable,
    FatalEngineError,
    Request,
    RequestRejected,
    SamplingParams,
)
from harness.engines.openai_engine import OpenAIEngine, retry_after
from harness.errors import ConfigError
from harness.settings import compose
from tests.engines.fake_openai_server import (
    CACHED_TOKENS,
    COMPLETION_TOKENS,
    REASONING_TOKENS,
    THOUGHT,
    FakeOpenAI,
    Script,
)

FAST_RETRY = [
    "model.retry.backoff_base_s=0.01",
    "model.retry.backoff_max_s=0.05",
    # no request times out on a busy machine; a test of the timeout sets its own (below)
    "model.timeout_s=60",
]


def engine(url: str, model: str = "openai", *over: str) -> OpenAIEngine:
    cfg = compose([f"model={model}", f"model.base_url={url}", *FAST_RETRY, *over])
    return OpenAIEngine(cfg.model)


def req(i: int = 0, max_tokens: int = 64, **kw) -> Request:
    params = SamplingParams(max_tokens=max_tokens, temperature=0.7, top_p=0.9, seed=1000 + i)
    return Request([{"role": "user", "content": f"question {i}"}], params, **kw)


def run(coro):
    return asyncio.run(coro)


async def _one(e: OpenAIEngine, r: Request):
    try:
        return await e.generate(r)
    finally:
        await e.close()


@pytest.mark.parametrize("fault", ["http500", "rate_limited", "slow", "dropped"])
def test_transient_failures_are_retried_and_counted(fault):
    # slow: the server holds the answer until the client's timeout gives up on it
    timeout = ["model.timeout_s=5"] if fault == "slow" else []
    with FakeOpenAI(Script(faults=(fault,), retry_after_s=0.2, slow_s=300)) as srv:
        out = run(_one(engine(srv.url, "openai", *timeout), req()))
    assert out.retries == 1 == srv.expected_retries()
    assert out.completion_tokens == COMPLETION_TOKENS and out.finish_reason == "stop"


def test_retry_after_is_honoured():
    with FakeOpenAI(Script(faults=("rate_limited",), retry_after_s=1.0)) as srv:
        run(_one(engine(srv.url), req()))
    (times,) = srv.log.attempts.values()
    assert len(times) == 2
    assert times[1] - times[0] >= 0.95  # the backoff alone would wait at most 0.05 s


def test_retry_after_forms():
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert 0 <= retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) <= 0.0
    assert retry_after({}) is None and retry_after({"retry-after": "soon"}) is None


def test_budget_exhausted_is_engine_unavailable():
    with FakeOpenAI(Script(status=503)) as srv:
        e = engine(
            srv.url,
            "openai",
            "model.model_id=m",
            "model.context_length=100",
            "model.retry.max_retries=3",
        )
        with pytest.raises(EngineUnavailable, match="gave up after 3 retries"):
            run(_one(e, req()))
    assert srv.total_attempts() == 4


def test_time_budget_stops_retrying_before_the_count():
    with FakeOpenAI(Script(status=429, retry_after_s=5)) as srv:
        e = engine(
            srv.url,
            "openai",
            "model.model_id=m",
            "model.context_length=99",
            "model.retry.budget_s=1",
        )
        with pytest.raises(EngineUnavailable, match="gave up after 0 retries"):
            run(_one(e, req()))
    assert srv.total_attempts() == 1  # waiting 5 s would break the 1 s budget


@pytest.mark.parametrize(
    ("status", "words"), [(401, "check the key in $TEST_KEY"), (404, "check model.base_url")]
)
def test_unfixable_4xx_is_fatal_at_once(monkeypatch, status, words):
    monkeypatch.setenv("TEST_KEY", "sk-wrong")
    with FakeOpenAI(Script(status=status)) as srv:
        e = engine(
            srv.url,
            "openai",
            "model.model_id=m",
            "model.context_length=100",
            "model.api_key_env=TEST_KEY",
        )
        with pytest.raises(FatalEngineError) as info:
            run(_one(e, req()))
    msg = str(info.value)
    assert f"HTTP {status}" in msg and words in msg and "\n" not in msg
    assert "sk-wrong" not in msg
    assert srv.total_attempts() == 1  # no retries


def test_missing_key_is_a_config_error(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    e = engine("http://127.0.0.1:9/v1", "openai", "model.api_key_env=NO_SUCH_KEY_VAR")
    with pytest.raises(ConfigError, match=r"\$NO_SUCH_KEY_VAR, which is not set"):
        run(e.start())


def test_unreachable_server_is_one_config_error():
    e = engine("http://127.0.0.1:9/v1", "openai", "model.retry.max_retries=1")
    with pytest.raises(ConfigError, match="could not list the models of http://127.0.0.1:9/v1"):
        run(e.start())


def test_context_error_clamps_max_tokens_once_and_records_it():
    with FakeOpenAI(Script(faults=("context_clamp", "ok"))) as srv:
        out = run(_one(engine(srv.url), req(max_tokens=90)))
    assert out.clamp == {"asked": 90, "sent": 40}
    sent = [b.get("max_tokens") for b in srv.log.bodies.values()]
    assert sent == [90, 40]
    assert out.retries == 0 and out.finish_reason == "stop"


def test_prompt_over_the_context_is_rejected_with_length():
    with (
        FakeOpenAI(Script(faults=("context_full",))) as srv,
        pytest.raises(RequestRejected) as info,
    ):
        run(_one(engine(srv.url), req()))
    assert info.value.finish_reason == "length"
    assert "150 input tokens" in str(info.value)
    assert srv.total_attempts() == 1


def test_server_side_clamp_is_recorded_from_the_listed_context_length():
    # vLLM cuts max_tokens to the context left without an error: the engine notices it from
    # the prompt size it reports and the context length the server lists.
    with FakeOpenAI(Script(context_length=20)) as srv:
        out = run(_one(engine(srv.url), req(max_tokens=64)))
    assert out.prompt_tokens == 10
    assert out.clamp == {"asked": 64, "sent": 10}


def test_reasoning_kept_apart_tokens_and_cost():
    price = "model.price={input: 2.0, cached_input: 0.5, output: 8.0}"
    with FakeOpenAI(Script()) as srv:
        out = run(_one(engine(srv.url, "openai", price), req()))
    assert out.reasoning.startswith(THOUGHT) and THOUGHT not in out.text
    assert out.reasoning_tokens == REASONING_TOKENS
    p, c = out.prompt_tokens, out.completion_tokens
    expected = ((p - CACHED_TOKENS) * 2.0 + CACHED_TOKENS * 0.5 + c * 8.0) / 1e6
    assert out.cost_usd == pytest.approx(expected)
    assert engine(srv.url).cost(None) is None  # unpriced


def test_messages_are_sent_as_role_and_content_only():
    r = req()
    r.messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "reasoning_content": THOUGHT},
        {"role": "user", "content": "again"},
    ]
    with FakeOpenAI(Script()) as srv:
        run(_one(engine(srv.url), r))
    (raw,) = srv.log.raw
    assert THOUGHT.encode() not in raw


def test_model_id_and_context_from_the_server_listing():
    with FakeOpenAI(Script(context_length=777)) as srv:
        e = engine(srv.url)
        run(_one(e, req()))
    assert e.model_id == "fake-model" and e.context_length == 777
    (body,) = srv.log.bodies.values()
    assert body["model"] == "fake-model"


def test_parameter_quirks_come_from_config(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test")
    with FakeOpenAI(Script(api_key="sk-test")) as srv:
        r = req(max_tokens=33)
        r.params = SamplingParams(max_tokens=33, temperature=0.7, top_p=0.9, seed=5, stop=("X",))
        run(_one(engine(srv.url, "o3-mini"), r))
        run(_one(engine(srv.url, "gpt-4o"), r))
        run(_one(engine(srv.url, "deepseek-reasoner"), r))
    o3, gpt4o, r1 = srv.log.bodies.values()
    assert o3["max_completion_tokens"] == 33 and "max_tokens" not in o3
    assert not {"temperature", "top_p", "seed"} & set(o3)
    assert o3["reasoning_effort"] == "medium" and o3["model"] == "o3-mini-2025-01-31"
    assert gpt4o["temperature"] == 0.7 and gpt4o["seed"] == 5 and gpt4o["stop"] == ["X"]
    assert r1["max_tokens"] == 33 and "temperature" not in r1 and r1["stop"] == ["X"]


def test_prefix_is_continued_as_the_final_assistant_message():
    with FakeOpenAI(Script()) as srv:
        run(_one(engine(srv.url), req(prefix="<think>\n")))
    (body,) = srv.log.bodies.values()
    assert body["messages"][-1] == {"role": "assistant", "content": "<think>\n"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False


def test_prefix_on_an_api_that_cannot_continue_is_fatal(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAI(Script(api_key="sk-test")) as srv:
        with pytest.raises(FatalEngineError, match="cannot continue a prefix"):
            run(_one(engine(srv.url, "gpt-4o"), req(prefix="<think>\n")))
        assert srv.total_attempts() == 0


def test_concurrency_is_bounded():
    with FakeOpenAI(Script(faults=("slow",), every=1, slow_s=0.3)) as srv:
        e = engine(srv.url, "openai", "model.max_concurrency=3", "model.timeout_s=10")

        async def go():
            try:
                return await asyncio.gather(*(e.generate(req(i)) for i in range(9)))
            finally:
                await e.close()

        outs = run(go())
    assert len(outs) == 9
    starts = sorted(t for ts in srv.log.attempts.values() for t in ts)
    # never more than 3 requests in flight: the 4th starts only after the first answer (0.3 s)
    assert starts[3] - starts[0] >= 0.25


def test_api_key_is_not_in_the_settings_or_their_dump(monkeypatch):
    monkeypatch.setenv("TEST_KEY", "sk-very-secret")
    with FakeOpenAI(Script(api_key="sk-very-secret")) as srv:
        e = engine(srv.url, "openai", "model.api_key_env=TEST_KEY")
        run(_one(e, req()))
    assert "sk-very-secret" not in json.dumps(vars(e.settings), default=str)


# Context-length errors as providers word them, gathered from other projects' tests and docs
# (OpenHands' context-window detection tests, crewAI's list of context-limit phrases, litellm's
# exception mapping) and from vLLM 0.32's own messages; with the max_tokens that would fit
# when the message says (None: the prompt alone does not fit, or it does not say).
PUBLISHED = [
    (
        "This model's maximum context length is 8192 tokens. However, you requested 8200 "
        "tokens (200 in the messages, 8000 in the completion). Please reduce the length of "
        "the messages or completion.",
        7992,
    ),
    (
        "This model's maximum context length is 1047576 tokens. However, your messages "
        "resulted in 1129124 tokens.",
        -81548,
    ),
    (
        "max_tokens is too large: 20000. This model supports at most 16384 completion "
        "tokens, whereas you provided 20000.",
        16384,
    ),
    (
        "input length and `max_tokens` exceed context limit: 142123 + 64000 > 200000, "
        "decrease input length or `max_tokens` and try again",
        57877,
    ),
    ("Error: prompt is too long: 150000 tokens exceeds maximum of 128000", -22000),
    ("Please reduce the length of the messages or completion", None),
    ("The request exceeds the available context size", None),
    ("Error: context length exceeded", None),
    ("ERROR: CONTEXT LENGTH EXCEEDED", None),
    ("SambaNovaException: maximum context length is 8192 tokens", None),
    (
        "This model's maximum context length is 512 tokens. However, your prompt contains "
        "600 input tokens, which exceeds this limit even without any output tokens.",
        -88,
    ),
    ("Input length (600) exceeds model's maximum context length (512).", -88),
]
NOT_CONTEXT = [
    "Invalid parameter: temperature must be between 0 and 2",
    "API key is invalid",
    "Unsupported parameter: 'temperature' is not supported with this model.",
    "The model `gpt-5-turbo` does not exist or you do not have access to it.",
]


@pytest.mark.parametrize(("message", "fits"), PUBLISHED)
def test_published_context_errors_are_recognised(message, fits):
    from harness.engines.openai_engine import ContextError, is_context_error

    assert is_context_error(message)
    expected = None if fits is None else min(fits, 99_999)
    assert ContextError(message).fits(100_000) == expected


@pytest.mark.parametrize("message", NOT_CONTEXT)
def test_other_bad_requests_are_not_context_errors(message):
    from harness.engines.openai_engine import is_context_error

    assert not is_context_error(message)


# -- a dead engine is seen at once; a 5xx while the server is healthy is still waited out --------


async def _many(e: OpenAIEngine, n: int):
    try:
        return await asyncio.gather(*(e.generate(req(i)) for i in range(n)), return_exceptions=True)
    finally:
        await e.close()


def test_dead_engine_behind_5xx_stops_with_the_health_answer():
    # vLLM after its engine core died: 500 for every request, /health 503
    with FakeOpenAI(Script(dead_after=2)) as srv:
        e = engine(srv.url, "openai", "model.retry.backoff_base_s=0.2")
        outs = run(_many(e, 6))
    dead = [o for o in outs if isinstance(o, EngineDead)]
    assert dead, outs
    assert "/health answers HTTP 503" in str(dead[0]) and "HTTP 500" in str(dead[0])
    assert srv.log.health_probes >= 1
    # not a budget of retries per call: a few attempts after the death, then stop
    assert srv.log.after_death <= 2 * 6


def test_engine_dead_error_in_the_body_is_dead_without_asking():
    msg = "EngineCore encountered an issue. See stack trace (above) for the root cause."
    with FakeOpenAI(Script(dead_after=1, dead_message=msg)) as srv:
        outs = run(_many(engine(srv.url), 3))
    dead = [o for o in outs if isinstance(o, EngineDead)]
    assert dead and msg in str(dead[0]), outs
    assert srv.log.health_probes == 0


@pytest.mark.parametrize("health", [200, None])
def test_5xx_while_healthy_or_without_health_endpoint_is_retried(health):
    with FakeOpenAI(Script(faults=("http500",), every=1, health=health)) as srv:
        e = engine(srv.url)
        outs = run(_many(e, 4))
    assert all(not isinstance(o, Exception) for o in outs), outs
    assert sum(o.retries for o in outs) == srv.expected_retries() == 4


def test_retries_are_reported_while_they_happen(caplog):
    with FakeOpenAI(Script(status=500)) as srv:  # /health answers 200: a transient 5xx
        e = engine(srv.url, "openai", "model.model_id=m", "model.context_length=99")
        told: list[tuple[int, str]] = []
        e.on_wait = lambda n, last: told.append((n, last))  # the runner's: tracker.waiting
        with caplog.at_level("WARNING", logger="harness.engines.openai_engine"):
            (out,) = run(_many(e, 1))
    assert isinstance(out, EngineUnavailable) and not isinstance(out, EngineDead), out
    lines = [r.getMessage() for r in caplog.records if "waiting on the server" in r.getMessage()]
    assert lines and "3 retries, last error HTTP 500: scripted HTTP 500" in lines[0], lines
    assert told[0] == (3, "HTTP 500: scripted HTTP 500"), told


# -- per-call seeds, decided per server --------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "mode", "sent"),
    [
        (None, "auto", True),  # OpenAI, DeepSeek, ...: seeds accepted
        ("0.32.0", "auto", False),  # a vLLM server: its CPU build dies on them
        ("0.32.0", "true", True),  # a GPU vLLM server, said so
        (None, "false", False),
    ],
)
def test_seeds_are_sent_as_the_server_allows(version, mode, sent):
    with FakeOpenAI(Script(vllm_version=version)) as srv:
        e = engine(srv.url, "openai", f"model.seeds={mode}")
        run(_one(e, req(3)))
    (body,) = srv.log.bodies.values()
    assert ("seed" in body) is sent and e.per_call_seeds is sent
    assert body["temperature"] == 0.7


def test_seeds_setting_is_checked():
    with pytest.raises(ConfigError, match="model.seeds"):
        engine("http://127.0.0.1:9/v1", "openai", "model.seeds=sometimes")


def test_a_server_gone_for_good_is_dead_after_a_few_refusals():
    with FakeOpenAI(Script()) as srv:
        url = srv.url
    e = engine(url, "openai", "model.model_id=m", "model.context_length=99")
    (out,) = run(_many(e, 1))  # nothing listens on the port any more
    assert isinstance(out, EngineDead) and "connections refused" in str(out), out
