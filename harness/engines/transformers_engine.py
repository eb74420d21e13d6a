"""Local Hugging Face model on CPU or GPU, with concurrent requests batched together.

Requests that arrive while the model is busy wait in a queue; each time the model is free, all
queued requests with the same sampling settings (up to ``max_batch``) run as one left-padded
``generate``. Rows stop at their own ``max_tokens`` through a per-row stopping criterion, so
roles with different limits share a batch without paying for the longest.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from harness.engines.base import Completion, Engine, Request, RequestRejected
from harness.engines.model_builds import resolve_model_path
from harness.engines.prompting import choose_dtype, clamp_max_tokens, prompt_ids
from harness.engines.settings import LocalModelSettings, model_settings
from harness.errors import ConfigError

log = logging.getLogger(__name__)


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(self, settings: LocalModelSettings | Any) -> None:
        self.settings = s = model_settings(settings)
        super().__init__(s.max_concurrency)
        self.max_batch = s.max_batch
        # HF generate draws a batch's samples from one generator: a row's sample depends on the
        # batch it ran in, so per-call seeds hold only one request at a time.
        self.per_call_seeds = self.max_batch <= 1
        self.model = None
        self.tokenizer = None
        self.context_len: int | None = None
        self.leases = 0  # runs using this engine now (build_engine counts them)
        self.loads = 0
        self._queue: list[tuple[Request, asyncio.Future]] = []
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        self.batches: list[int] = []  # batch sizes, for benchmarks and tests

    async def start(self) -> None:
        if self.model is None:
            self._load()  # same thread as generate: see _work

    def _load(self) -> None:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer

        transformers.logging.disable_progress_bar()
        transformers.logging.set_verbosity_error()
        s = self.settings
        path = resolve_model_path(s)
        device = s.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = choose_dtype(s.dtype, device == "cpu", s.name)
        try:
            tok = AutoTokenizer.from_pretrained(path)
        except (OSError, ValueError) as exc:  # not found, offline, gated, malformed
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"could not load model '{s.name}' from {path} ({first}); "
                f"set model.path=DIR to a local checkpoint"
            ) from exc
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        kwargs: dict[str, Any] = {"dtype": dtype if dtype == "auto" else getattr(torch, dtype)}
        if s.attn_implementation:
            kwargs["attn_implementation"] = s.attn_implementation
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs).to(device)
        model.eval()
        self.tokenizer, self.model, self.device = tok, model, device
        self.context_len = s.max_model_len or getattr(model.config, "max_position_embeddings", None)
        self.loads += 1
        log.info("loaded %s on %s (%s)", path, device, model.dtype)

    async def _generate(self, request: Request) -> Completion:
        if self.model is None:
            await self.start()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        self._queue.append((request, fut))
        # A new event loop (e.g. a second asyncio.run) needs its own worker task.
        if self._worker is None or self._worker.done() or self._worker.get_loop() is not loop:
            self._wake = asyncio.Event()
            self._worker = loop.create_task(self._work())
        self._wake.set()
        return await fut

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                # Let callers scheduled in this tick (and episodes whose previous call just
                # returned) enqueue before we cut a batch.
                await asyncio.sleep(0.002)
                batch = self._take_batch()
                try:
                    # On the event-loop thread on purpose: measured here, torch on CPU ran 2-5x
                    # slower from a worker thread (its OpenMP pool is per calling thread). The
                    # loop is blocked only while the model computes; sandbox and scoring work
                    # runs in other processes meanwhile.
                    outs = self._run_batch([r for r, _ in batch])
                except Exception as exc:  # a failed batch fails its requests, not the engine
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for (_, fut), out in zip(batch, outs, strict=True):
                    if fut.done():
                        continue
                    if isinstance(out, Exception):
                        fut.set_exception(out)
                    else:
                        fut.set_result(out)

    def _take_batch(self) -> list[tuple[Request, asyncio.Future]]:
        head = self._queue[0][0].params
        key = (head.temperature, head.top_p, head.stop)
        batch, rest = [], []
        for item in self._queue:
            p = item[0].params
            if len(batch) < self.max_batch and (p.temperature, p.top_p, p.stop) == key:
                batch.append(item)
            else:
                rest.append(item)
        self._queue = rest
        return batch

    def _run_batch(self, requests: list[Request]) -> list[Completion | Exception]:
        """One left-padded ``generate`` for the batch; a request the context cannot hold
        fails alone (``RequestRejected``) instead of failing the batch."""
        import torch

        tok = self.tokenizer
        results, rows = self._admit(requests)
        if not rows:
            return results
        enc = tok.pad({"input_ids": [ids for _, ids, _, _ in rows]}, return_tensors="pt").to(
            self.device
        )
        prompt_len = enc["input_ids"].shape[1]
        limits = torch.tensor([sent for _, _, sent, _ in rows], device=self.device)
        p = requests[0].params
        gen_kwargs = _generate_kwargs(tok, p, prompt_len, limits)
        if p.temperature > 0 and p.seed is not None:
            # HF generate takes one generator for the batch: a row's sample depends on the
            # batch it ran in. Exactly reproducible sampling needs the vLLM engine.
            torch.manual_seed(p.seed)
        with torch.inference_mode():
            out = self.model.generate(**enc, **gen_kwargs)
        self.batches.append(len(rows))
        eos_ids = _eos_ids(self.model, tok)
        for row, (i, ids, sent, clamp) in enumerate(rows):
            new, finish = _until_eos(out[row, prompt_len:].tolist()[:sent], eos_ids)
            text, stopped = _cut_at_stop(tok.decode(new, skip_special_tokens=True), p.stop)
            if stopped:
                finish = "stop"
            results[i] = Completion(text, len(ids), len(new), finish, clamp=clamp)
        return results

    def _admit(
        self, requests: list[Request]
    ) -> tuple[list[Any], list[tuple[int, list[int], int, dict[str, int] | None]]]:
        """(results, rows): the rejection of each request the context cannot hold, in its
        place in ``results``, and (index, prompt ids, max tokens, clamp) of the others."""
        results: list[Any] = [None] * len(requests)
        rows: list[tuple[int, list[int], int, dict[str, int] | None]] = []
        for i, r in enumerate(requests):
            ids = prompt_ids(self.tokenizer, r)
            try:
                sent, clamp = clamp_max_tokens(r.params.max_tokens, len(ids), self.context_len)
            except RequestRejected as exc:
                results[i] = exc
                continue
            rows.append((i, ids, sent, clamp))
        return results, rows

    async def release(self) -> None:
        # The model stays loaded for the next run of this process (the next sweep point).
        self.leases = max(0, self.leases - 1)

    async def close(self) -> None:
        self.unload()

    def unload(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        self.model = None


def _generate_kwargs(tok: Any, p: Any, prompt_len: int, limits: Any) -> dict[str, Any]:
    """``generate``'s settings for a batch that shares its sampling settings (_take_batch);
    each row stops at its own token limit (``limits``)."""
    from transformers import StoppingCriteria, StoppingCriteriaList

    class PerRowLimit(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return (input_ids.shape[1] - prompt_len) >= limits

    sample = p.temperature > 0
    gen_kwargs: dict[str, Any] = {
        "max_new_tokens": int(limits.max()),
        "do_sample": sample,
        "pad_token_id": tok.pad_token_id,
        "stopping_criteria": StoppingCriteriaList([PerRowLimit()]),
    }
    if p.stop:
        gen_kwargs.update(stop_strings=list(p.stop), tokenizer=tok)
    if sample:
        gen_kwargs.update(temperature=p.temperature, top_p=p.top_p)
    return gen_kwargs


def _until_eos(new: list[int], eos_ids: set[int]) -> tuple[list[int], str]:
    """A row's new tokens up to and including its first end-of-sequence token, and why it
    ended (``stop`` at one, ``length`` without)."""
    for j, t in enumerate(new):
        if t in eos_ids:
            return new[: j + 1], "stop"
    return new, "length"


def _cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """The text before the first stop string (vLLM leaves it out too)."""
    cuts = [text.find(s) for s in stop if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


def _eos_ids(model: Any, tok: Any) -> set[int]:
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tok.eos_token_id is not None:
        ids.add(tok.eos_token_id)
    return ids
