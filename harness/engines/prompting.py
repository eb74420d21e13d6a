"""What the local engines (transformers, vLLM) share: the prompt as token ids, the clamp of
``max_tokens`` to the context left, and the dtype to run in.

The chat template is applied once, as text, and the text tokenized without special tokens: a
template that emits BOS (Llama, SmolLM) then gets exactly one, where a string prompt handed to
an engine that tokenizes it again would get two. A ``Request.prefix`` (a forced ``<think>``,
budget forcing) is appended verbatim after the generation prompt, so the model continues the
assistant message exactly; rendering it as a final assistant message instead would let
templates that strip thinking from past assistant turns delete it.
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Any

from harness.engines.base import Request, RequestRejected

log = logging.getLogger(__name__)


def render_prompt(tokenizer: Any, request: Request) -> str:
    text = tokenizer.apply_chat_template(
        request.messages, tokenize=False, add_generation_prompt=True
    )
    return text + request.prefix


def prompt_ids(tokenizer: Any, request: Request) -> list[int]:
    return list(tokenizer(render_prompt(tokenizer, request), add_special_tokens=False).input_ids)


def clamp_max_tokens(
    asked: int, prompt_tokens: int, context: int | None
) -> tuple[int, dict[str, int] | None]:
    """``max_tokens`` cut to what the context still holds, and the clamp to record (None when
    nothing was cut). A prompt that leaves no room is rejected as a ``length`` finish."""
    asked = max(1, int(asked))
    if context is None:
        return asked, None
    room = context - prompt_tokens
    if room < 1:
        raise RequestRejected(
            f"the prompt has {prompt_tokens} tokens and the context holds {context}",
            finish_reason="length",
        )
    if asked <= room:
        return asked, None
    return room, {"asked": asked, "sent": room}


def cpu_has_bf16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX)."""
    return _cpu_flags(str(cpuinfo)) & {"avx512_bf16", "amx_bf16"} != set()


@cache
def _cpu_flags(path: str) -> frozenset[str]:
    try:
        text = Path(path).read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def choose_dtype(dtype: str, on_cpu: bool, name: str) -> str:
    """The dtype to load in. On a CPU without native bfloat16, bf16 (asked for, or the ``auto``
    choice of most checkpoints) ran SmolLM2 3× slower than float32 under vLLM here; float16 has
    no fast CPU kernels either. Elsewhere the configured dtype stands."""
    if on_cpu and dtype in ("auto", "bfloat16", "float16") and not cpu_has_bf16():
        log.info("%s: this CPU lacks AVX512-BF16, running in float32 instead of %s", name, dtype)
        return "float32"
    return dtype
