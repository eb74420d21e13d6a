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

from harness.engines.base import Completion, Engine, Request
from harness.engines.model_builds import resolve_model_path
from harness.errors import ConfigError

log = logging.getLogger(__name__)


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(self, model_cfg: Any) -> None:
        super().__init__(model_cfg.get("max_concurrency", 1))
        self.cfg = model_cfg
        self.max_batch = int(model_cfg.get("max_batch") or self.max_concurrency)
        self.model = None
        self.tokenizer = None
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
        path = resolve_model_path(self.cfg)
        device = str(self.cfg.get("device") or "cpu")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = getattr(torch, str(self.cfg.get("dtype") or "float32"))
        if device == "cpu" and dtype == torch.float16:
            dtype = torch.float32
        try:
            tok = AutoTokenizer.from_pretrained(path)
        except (OSError, ValueError) as exc:  # not found, offline, gated, malformed
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"could not load model '{self.cfg.name}' from {path} ({first}); "
                f"set model.path=DIR to a local checkpoint"
            ) from exc
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        attn = self.cfg.get("attn_implementation") or None
        kwargs = {"dtype": dtype}
        if attn:
            kwargs["attn_implementation"] = attn
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs).to(device)
        model.eval()
        self.tokenizer, self.model, self.device = tok, model, device
        log.info("loaded %s on %s (%s)", path, device, dtype)

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
                    if not fut.done():
                        fut.set_result(out)

    def _take_batch(self) -> list[tuple[Request, asyncio.Future]]:
        head = self._queue[0][0].params
        key = (head.temperature, head.top_p)
        batch, rest = [], []
        for item in self._queue:
            p = item[0].params
            if len(batch) < self.max_batch and (p.temperature, p.top_p) == key:
                batch.append(item)
            else:
                rest.append(item)
        self._queue = rest
        return batch

    def _render(self, request: Request) -> str:
        text = self.tokenizer.apply_chat_template(
            request.messages, tokenize=False, add_generation_prompt=True
        )
        return text + request.prefix

    def _run_batch(self, requests: list[Request]) -> list[Completion]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        tok = self.tokenizer
        texts = [self._render(r) for r in requests]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(
            self.device
        )
        prompt_len = enc["input_ids"].shape[1]
        limits = torch.tensor([max(1, r.params.max_tokens) for r in requests], device=self.device)

        class PerRowLimit(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                return (input_ids.shape[1] - prompt_len) >= limits

        p = requests[0].params
        sample = p.temperature > 0
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": int(limits.max()),
            "do_sample": sample,
            "pad_token_id": tok.pad_token_id,
            "stopping_criteria": StoppingCriteriaList([PerRowLimit()]),
        }
        if sample:
            gen_kwargs.update(temperature=p.temperature, top_p=p.top_p)
            # HF generate takes one generator for the batch: a row's sample depends on the
            # batch it ran in. Exactly reproducible sampling needs the vLLM engine.
            if p.seed is not None:
                torch.manual_seed(p.seed)
        with torch.inference_mode():
            out = self.model.generate(**enc, **gen_kwargs)
        self.batches.append(len(requests))
        eos_ids = _eos_ids(self.model, tok)
        results = []
        for i, r in enumerate(requests):
            new = out[i, prompt_len:].tolist()[: r.params.max_tokens]
            finish = "length"
            for j, t in enumerate(new):
                if t in eos_ids:
                    new, finish = new[: j + 1], "stop"
                    break
            n_prompt = int(enc["attention_mask"][i].sum())
            text = tok.decode(new, skip_special_tokens=True)
            results.append(Completion(text, n_prompt, len(new), finish))
        return results

    async def release(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None

    async def close(self) -> None:
        await self.release()
        self.model = None


def _eos_ids(model: Any, tok: Any) -> set[int]:
    ids = model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tok.eos_token_id is not None:
        ids.add(tok.eos_token_id)
    return ids
