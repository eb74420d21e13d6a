"""vLLM in-process: its async engine (``AsyncLLM``) with every request of every episode in flight
at once, so continuous batching keeps the device full.

- The prompt goes in as token ids (``TokensPrompt``, see prompting.py), the answer comes back
  once, finished (``RequestOutputKind.FINAL_ONLY``), with the per-call ``seed`` the episode chose.
- ``AsyncLLM`` binds to the event loop it was created on and cannot move: the engine starts once
  per process, on the process's one loop; ``release()`` at the end of a run (a sweep point)
  keeps it loaded for the next; ``close()`` at process exit shuts it down and ends its child
  processes (processes.py).
- On a CPU, vLLM's default ``gpu_memory_utilization`` would reserve that share of all RAM for
  itself; ``cpu_kv_cache_gb`` sizes its KV cache instead.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
import uuid
from typing import Any

from harness.engines import processes
from harness.engines.base import (
    Completion,
    Engine,
    EngineDead,
    EngineUnavailable,
    FatalEngineError,
    Request,
    RequestRejected,
)
from harness.engines.model_builds import resolve_model_path
from harness.engines.prompting import choose_dtype, clamp_max_tokens, prompt_ids
from harness.engines.settings import LocalModelSettings, model_settings
from harness.errors import ConfigError

log = logging.getLogger(__name__)
GiB = 1 << 30

INSTALL_HINT = (
    "model.engine=vllm needs vLLM: on a CPU machine run scripts/setup_vllm.sh and use "
    ".venv-vllm/bin/python -m harness ...; on a GPU node pip install -e '.[vllm]'"
)


class VllmEngine(Engine):
    name = "vllm"

    def __init__(self, settings: LocalModelSettings | Any) -> None:
        self.settings = s = model_settings(settings)
        super().__init__(s.max_concurrency)
        self.llm: Any = None
        self.tokenizer: Any = None
        self.context_len: int | None = None
        self.dtype: str | None = None
        self.leases = 0  # runs using this engine now (build_engine counts them)
        self.loads = 0  # times the model was loaded (a sweep should load once)
        self.load_s: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._children: set[int] = set()
        self._watchdog: processes.Watchdog | None = None
        self._ids = itertools.count()
        self._prefix = uuid.uuid4().hex[:8]
        self._start_lock: asyncio.Lock | None = None

    async def start(self) -> None:
        if self.llm is not None:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:  # concurrent runs on one loop start it once
            if self.llm is None:
                self._load()

    def _load(self) -> None:
        os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
        try:  # all of vLLM's entry points checked here, before any work (used in _start_engine)
            from transformers import AutoTokenizer  # noqa: F401
            from vllm.engine.arg_utils import AsyncEngineArgs  # noqa: F401
            from vllm.platforms import current_platform
            from vllm.v1.engine.async_llm import AsyncLLM  # noqa: F401
        except ImportError as exc:
            raise ConfigError(f"{INSTALL_HINT} ({exc})") from exc
        s = self.settings
        path = resolve_model_path(s)
        on_cpu = current_platform.is_cpu()
        self.dtype = choose_dtype(s.dtype, on_cpu, s.name)
        t0 = time.perf_counter()
        self._start_engine(path, engine_args(s, path, self.dtype, on_cpu))
        processes.register(self, self._shutdown)
        self._watchdog = processes.Watchdog(self._children)
        self._loop = asyncio.get_running_loop()
        self.context_len = int(self.llm.model_config.max_model_len)
        # Seeds are honoured per call: natively on a GPU, on a CPU with chunked prefill off
        # (engine_args); checked, since the scheduler setting keeps the CPU worker alive.
        chunked = bool(getattr(self.llm.vllm_config.scheduler_config, "enable_chunked_prefill", 0))
        self.per_call_seeds = not (on_cpu and chunked)
        self.loads += 1
        self.load_s = time.perf_counter() - t0
        log.info(
            "vLLM loaded %s in %.1fs (%s, context %d, max_num_seqs %d)",
            path,
            self.load_s,
            self.dtype,
            self.context_len,
            s.max_num_seqs,
        )

    def _start_engine(self, path: str, kwargs: dict[str, Any]) -> None:
        """The tokenizer and the async engine. Every process vLLM started is recorded, so a
        failed start ends them before it becomes a one-line ConfigError."""
        from transformers import AutoTokenizer  # all checked importable by _load
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        before = processes.descendants()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path)
            self.llm = AsyncLLM.from_engine_args(AsyncEngineArgs(**kwargs))
        except (OSError, ValueError, RuntimeError) as exc:
            self._children = processes.descendants() - before
            self._shutdown()
            raise ConfigError(
                f"vLLM could not load model '{self.settings.name}' from {path} "
                f"({_first_line(exc)}); set model.path=DIR to a local checkpoint"
            ) from exc
        finally:
            self._children |= processes.descendants() - before

    def sampling_params(self, request: Request, max_tokens: int) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        p = request.params
        return SamplingParams(
            max_tokens=max_tokens,
            temperature=p.temperature,
            top_p=p.top_p,
            # never a seed that would take a CPU worker down (see _load)
            seed=p.seed if self.per_call_seeds is not False else None,
            stop=list(p.stop) or None,
            output_kind=RequestOutputKind.FINAL_ONLY,
        )

    async def _generate(self, request: Request) -> Completion:
        if self.llm is None:
            await self.start()
        if asyncio.get_running_loop() is not self._loop:
            raise FatalEngineError(
                "the vLLM engine was started on another event loop; a process must run all "
                "its runs on one loop (the CLI does; scripts: one asyncio.run for everything)"
            )
        from vllm.exceptions import VLLMValidationError
        from vllm.inputs import TokensPrompt
        from vllm.v1.engine.exceptions import EngineDeadError

        ids = prompt_ids(self.tokenizer, request)
        max_tokens, clamp = clamp_max_tokens(request.params.max_tokens, len(ids), self.context_len)
        params = self.sampling_params(request, max_tokens)
        final = None
        try:
            async for out in self.llm.generate(
                TokensPrompt(prompt_token_ids=ids),
                params,
                request_id=f"{self._prefix}-{next(self._ids)}",
            ):
                final = out
        except VLLMValidationError as exc:
            text = str(exc)
            reason = "length" if "length" in text or "context" in text else "error"
            raise RequestRejected(text.splitlines()[0], finish_reason=reason) from exc
        except EngineDeadError as exc:
            # No retry brings it back: stop the run now (exit 3) with vLLM's reason.
            raise EngineDead(f"the vLLM engine died: {_first_line(exc)}") from exc
        if final is None or not final.outputs:
            raise EngineUnavailable("vLLM returned no output")
        o = final.outputs[0]
        return Completion(
            text=o.text,
            prompt_tokens=len(ids),
            completion_tokens=len(o.token_ids),
            finish_reason="length" if o.finish_reason == "length" else "stop",
            clamp=clamp,
        )

    async def release(self) -> None:
        # Keep the model for the next run of this process (the next point of a sweep).
        self.leases = max(0, self.leases - 1)

    async def close(self) -> None:
        self._shutdown()

    def unload(self) -> None:
        self._shutdown()

    def _shutdown(self) -> None:
        processes.unregister(self)
        llm, self.llm = self.llm, None
        if llm is not None:
            try:
                llm.shutdown()
            except Exception as exc:  # still reap its processes below
                log.warning("vLLM shutdown failed: %s", exc)
        if self._children:
            killed = processes.reap(self._children)
            if killed:
                log.warning("vLLM processes %s ignored SIGTERM and were killed", killed)
            self._children = set()
        if self._watchdog is not None:
            self._watchdog.release()
            self._watchdog = None
        if llm is not None:
            log.info("vLLM shut down (%s)", self.settings.name)
        self._loop = None


def engine_args(s: LocalModelSettings, path: str, dtype: str, on_cpu: bool) -> dict[str, Any]:
    """``AsyncEngineArgs`` of the model settings (also what tests/benchmarks/bench_vllm.py gives
    vLLM's own ``LLM``, so both sides of that comparison run the same engine)."""
    kwargs: dict[str, Any] = {
        "model": path,
        "dtype": dtype,
        "tensor_parallel_size": s.tensor_parallel_size,
        "data_parallel_size": s.data_parallel_size,
        "gpu_memory_utilization": s.gpu_memory_utilization,
        "max_model_len": s.max_model_len,
        "enforce_eager": s.enforce_eager,
        "max_num_seqs": s.max_num_seqs,
        "enable_prefix_caching": s.enable_prefix_caching,
        "disable_log_stats": True,
    }
    if on_cpu:
        kwargs["kv_cache_memory_bytes"] = int(s.cpu_kv_cache_gb * GiB)
        # Per-call seeds on a CPU: vLLM's CPU generators have no offset, and its worker
        # calls set_offset() to rewind the generator of a request whose sampled token it
        # discards, which happens exactly when a prefill is split across steps (chunked
        # prefill): the engine core dies ("CPU Generator does not use offset"). Without
        # chunked prefill a prompt is always prefilled whole, the rewind never runs, and
        # the CPU sampler honours each request's seed (its per-request generators). vLLM
        # then raises max_num_batched_tokens to the context, so any prompt fits one step
        # (and warns that the model does not "officially" support it: these decoders do).
        kwargs["enable_chunked_prefill"] = False
    return kwargs


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
