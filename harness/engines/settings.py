"""Typed model settings, one dataclass per kind of engine. Defaults live in ``conf/model/*.yaml``
only; these classes name and type the keys (``harness.settings.from_node`` builds them and
fails with one line on a missing, unknown or mistyped key).

Local models (``transformers``, ``vllm``) share one set of keys, so ``model.engine=vllm`` works
on any local model config, and each engine reads the keys it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError
from harness.settings import from_node, to_plain

LOCAL_ENGINES = ("transformers", "vllm")
API_ENGINES = ("openai",)
TABLE_ENGINES = ("oracle", "replay")
ENGINES = (*LOCAL_ENGINES, *API_ENGINES, *TABLE_ENGINES)


@dataclass
class LocalModelSettings:
    name: str
    engine: str
    path: str | None  # a local folder or hub id; null: ``build`` it into ``cache_dir``
    build: str | None
    cache_dir: str
    reasoning_model: bool
    max_concurrency: int  # requests in flight
    dtype: str  # auto | float32 | bfloat16 | float16
    # transformers
    device: str  # cpu | cuda | auto
    max_batch: int
    attn_implementation: str | None
    # vLLM (AsyncEngineArgs)
    tensor_parallel_size: int
    data_parallel_size: int
    gpu_memory_utilization: float
    max_model_len: int | None  # null: the model's own
    enforce_eager: bool
    max_num_seqs: int
    enable_prefix_caching: bool
    cpu_kv_cache_gb: float  # KV cache size when vLLM runs on a CPU (see vllm_engine.py)

    def identity(self) -> dict[str, Any]:
        """What decides the text a request gets (the response cache's key)."""
        return {k: getattr(self, k) for k in ("name", "engine", "path", "build", "dtype")}


@dataclass
class RetrySettings:
    max_retries: int  # transient failures retried per call (429, 5xx, timeouts, dropped)
    budget_s: float  # total time one call may spend waiting between its retries
    backoff_base_s: float  # first backoff; doubles per retry, with jitter
    backoff_max_s: float


@dataclass
class Price:
    """US dollars per million tokens."""

    input: float
    cached_input: float
    output: float  # reasoning tokens are billed as output


@dataclass
class ApiModelSettings:
    name: str
    engine: str
    reasoning_model: bool
    max_concurrency: int
    base_url: str
    model_id: str | None  # null: the first model the server lists (``vllm serve`` has one)
    api_key_env: str | None  # the NAME of the variable holding the key; null: no key
    timeout_s: float  # one HTTP request
    retry: RetrySettings
    max_tokens_param: str  # max_tokens | max_completion_tokens (o-series)
    sampling_params: list[str]  # which of temperature, top_p, seed, stop the API accepts
    prefix_mode: str  # continue_final_message (vLLM) | none (prefix requests are refused)
    context_length: int | None  # null: ask the server (vLLM lists max_model_len), else unknown
    # The most tokens one answer may ask for (the provider's cap on max_tokens, e.g. 8192 for
    # deepseek-chat); a larger request is sent with this many and the clamp recorded. null: none
    max_output_tokens: int | None
    extra_body: dict[str, Any]  # sent as is (e.g. reasoning_effort)
    price: Price | None
    # Send the per-call seed? auto: yes, except to a vLLM server (its CPU build kills its engine
    # on a seeded request whose prefill is chunked, and a CPU server cannot be told from a GPU
    # one); true: always (a GPU vLLM server); false: never.
    seeds: str = "auto"

    def identity(self) -> dict[str, Any]:
        keys = ("name", "engine", "base_url", "model_id", "max_tokens_param", "sampling_params")
        return {**{k: getattr(self, k) for k in keys}, "extra_body": self.extra_body}


@dataclass
class TableModelSettings:
    name: str
    engine: str
    path: str | None  # replay: the JSONL of responses
    max_concurrency: int

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "engine": self.engine, "path": self.path}


SAMPLING_PARAMS = ("temperature", "top_p", "seed", "stop")
SEEDS = ("auto", "true", "false")
PREFIX_MODES = ("continue_final_message", "none")
MAX_TOKENS_PARAMS = ("max_tokens", "max_completion_tokens")


def model_settings(node: Any) -> LocalModelSettings | ApiModelSettings | TableModelSettings:
    """The settings of the engine ``model.engine`` names (a dataclass passes through)."""
    if isinstance(node, LocalModelSettings | ApiModelSettings | TableModelSettings):
        return node
    data = to_plain(node) or {}
    kind = data.get("engine")
    if kind in LOCAL_ENGINES:
        return from_node(LocalModelSettings, data, "model")
    if kind in API_ENGINES:
        if "base_url" not in data:
            raise ConfigError(
                f"model.engine={kind} needs an API model config: model={kind} "
                f"model.base_url=URL (or model=gpt-4o, o3-mini, deepseek-reasoner, deepseek-chat)"
            )
        s = from_node(ApiModelSettings, data, "model")
        _check_choice("model.max_tokens_param", s.max_tokens_param, MAX_TOKENS_PARAMS)
        _check_choice("model.prefix_mode", s.prefix_mode, PREFIX_MODES)
        for p in s.sampling_params:
            _check_choice("model.sampling_params", p, SAMPLING_PARAMS)
        _check_choice("model.seeds", str(s.seeds).lower(), SEEDS)
        return s
    if kind in TABLE_ENGINES:
        return from_node(TableModelSettings, data, "model")
    raise ConfigError(f"unknown model.engine '{kind}' (accepted: {', '.join(ENGINES)})")


def _check_choice(key: str, value: str, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise ConfigError(f"{key}={value!r} is not accepted (accepted: {', '.join(accepted)})")
