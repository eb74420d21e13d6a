"""What the local engines share (prompting.py), the model settings, and build_engine's reuse of
loaded models across the runs of a process."""

from __future__ import annotations

import asyncio

import pytest

from harness.engines import build_engine, close_all, loaded_engines
from harness.engines.base import Request, RequestRejected
from harness.engines.model_builds import resolve_model_path
from harness.engines.prompting import (
    choose_dtype,
    clamp_max_tokens,
    cpu_has_bf16,
    prompt_ids,
    render_prompt,
)
from harness.engines.settings import model_settings
from harness.errors import ConfigError
from harness.settings import compose, to_plain


@pytest.fixture(scope="module")
def bos_tokenizer():
    """The tiny tokenizer made Llama-like: its template writes BOS, and plain encoding adds
    one too (the case that doubles BOS when a string prompt is tokenized again)."""
    from tokenizers.processors import TemplateProcessing
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(resolve_model_path(compose(["model=tiny"]).model))
    tok.bos_token = "<|endoftext|>"
    bos = tok.bos_token_id
    tok._tokenizer.post_processor = TemplateProcessing(
        single="<|endoftext|> $A", special_tokens=[("<|endoftext|>", bos)]
    )
    tok.chat_template = "{{ bos_token }}" + tok.chat_template
    return tok


def test_prompt_ids_carry_exactly_one_bos(bos_tokenizer):
    tok = bos_tokenizer
    r = Request([{"role": "user", "content": "What is 2+2?"}])
    naive = tok(render_prompt(tok, r)).input_ids  # what a string prompt would get
    assert naive.count(tok.bos_token_id) == 2  # the bug this guards against is real
    ids = prompt_ids(tok, r)
    assert ids.count(tok.bos_token_id) == 1 and ids[0] == tok.bos_token_id


def test_prefix_follows_the_generation_prompt_verbatim(bos_tokenizer):
    tok = bos_tokenizer
    r = Request([{"role": "user", "content": "q"}], prefix="<think>\nfirst thoughts</think>\n")
    text = render_prompt(tok, r)
    assert text.endswith("<|im_start|>assistant\n<think>\nfirst thoughts</think>\n")
    assert tok.decode(prompt_ids(tok, r)).endswith("first thoughts</think>\n")


def test_clamp():
    assert clamp_max_tokens(100, 50, None) == (100, None)
    assert clamp_max_tokens(100, 50, 200) == (100, None)
    assert clamp_max_tokens(100, 150, 200) == (50, {"asked": 100, "sent": 50})
    with pytest.raises(RequestRejected) as info:
        clamp_max_tokens(100, 200, 200)
    assert info.value.finish_reason == "length"


def test_cpu_bf16_flag_and_dtype_choice(tmp_path):
    with_bf16 = tmp_path / "a"
    with_bf16.write_text("processor : 0\nflags : fpu avx2 avx512f avx512_bf16 amx_tile\n")
    without = tmp_path / "b"
    without.write_text("processor : 0\nflags : fpu avx2 avx512f\n")
    assert cpu_has_bf16(with_bf16) and not cpu_has_bf16(without)
    # on this machine's CPU
    expected = "bfloat16" if cpu_has_bf16() else "float32"
    assert choose_dtype("bfloat16", True, "m") == expected
    assert choose_dtype("auto", True, "m") == ("auto" if cpu_has_bf16() else "float32")
    assert choose_dtype("bfloat16", False, "m") == "bfloat16"  # a GPU keeps what was asked
    assert choose_dtype("float32", True, "m") == "float32"


def test_every_model_config_builds_its_settings():
    from harness.settings import CONF_DIR

    names = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
    assert {"deepseek-reasoner", "deepseek-chat", "o3-mini", "gpt-4o", "openai", "hf"} <= set(names)
    for name in names:
        over = ["model.path=/x"] if name in ("hf", "replay") else []
        s = model_settings(compose([f"model={name}", *over]).model)
        assert s.name == name
    for name in ("m1-32b", "qwen2.5-32b-instruct", "s1.1-32b"):
        assert compose([f"model={name}"]).model.engine == "vllm"


def test_settings_errors_are_one_line():
    cfg = to_plain(compose(["model=tiny"]).model)
    with pytest.raises(ConfigError, match="unknown model.engine 'vlm'"):
        model_settings({**cfg, "engine": "vlm"})
    with pytest.raises(ConfigError, match="needs an API model config"):
        model_settings({**cfg, "engine": "openai"})
    api = to_plain(compose(["model=openai"]).model)
    with pytest.raises(ConfigError, match="model.prefix_mode='beta'"):
        model_settings({**api, "prefix_mode": "beta"})
    with pytest.raises(ConfigError, match="model.sampling_params='top_k'"):
        model_settings({**api, "sampling_params": ["top_k"]})


def test_loaded_models_are_reused_across_runs_and_swapped_when_idle():
    async def go():
        a = build_engine(compose(["model=tiny", "model.max_concurrency=4"]).model, [])
        b = build_engine(compose(["model=tiny", "model.max_concurrency=8"]).model, [])
        assert a is b and a.leases == 2 and a.max_concurrency == 8
        await a.release()
        await b.release()
        assert a.leases == 0 and loaded_engines() == [a]
        # another model: the idle one is unloaded first, so weights never stack up
        c = build_engine(compose(["model=tiny", "model.max_model_len=128"]).model, [])
        assert c is not a and loaded_engines() == [c]
        # a model still in use by a run stays loaded beside the next
        d = build_engine(compose(["model=tiny", "model.max_model_len=256"]).model, [])
        assert loaded_engines() == [c, d]
        await close_all()
        assert loaded_engines() == []

    asyncio.run(go())
