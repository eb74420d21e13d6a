"""vLLM throughput: the harness driving ``model.engine=vllm`` (``mas=single``, N problems,
through the real runner) against vLLM's own offline ``LLM.generate`` on the same prompt token
ids and the same completion lengths (EOS ignored, fixed ``max_tokens``), in one run.

    .venv-vllm/bin/python tests/benchmarks/bench_vllm.py [--model tiny] [--problems 64]
        [--tokens 128] [--sweep]

Target: harness >= 0.9x offline on the tiny model here. Each side runs ``--repeats`` times and
the best run counts: on a shared machine a single short run mostly measures the neighbours. On a GPU node, run it with the model
you will evaluate (``--model m1-32b``) to check the node. ``--sweep`` also times a 4-point
``mas=ceo`` sweep with its points run one after another and concurrently (the harness
launcher's ``hydra.launcher.concurrency``). Prints figures; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HARNESS_DATA_DIR", str(ROOT.parent / "shared" / "benchmarks"))
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from harness.engines import build_engine, close_all  # noqa: E402
from harness.engines.vllm_engine import VllmEngine  # noqa: E402
from harness.runner import run_async  # noqa: E402
from harness.settings import compose  # noqa: E402


class Recorder:
    """Wraps the engine's AsyncLLM.generate: the prompts and lengths sent, and the window from
    the first request to the last answer."""

    def __init__(self, engine: VllmEngine) -> None:
        self.engine = engine
        self.prompts: list[list[int]] = []
        self.max_tokens: list[int] = []
        self.tokens = 0
        self.first: float | None = None
        self.arrived = 0.0  # when the last request reached vLLM
        self.last = 0.0
        self.real = real = engine.llm.generate

        async def generate(prompt, params, **kw):
            self.first = self.first or time.perf_counter()
            self.arrived = time.perf_counter()
            self.prompts.append(list(prompt["prompt_token_ids"]))
            self.max_tokens.append(params.max_tokens)
            async for out in real(prompt, params, **kw):
                yield out
            self.tokens += len(out.outputs[0].token_ids)
            self.last = time.perf_counter()

        engine.llm.generate = generate

    def window(self) -> float:
        return self.last - (self.first or self.last)


def ignore_eos(engine: VllmEngine) -> None:
    """Every request generates exactly its max_tokens, so both sides make the same tokens."""
    original = engine.sampling_params

    def patched(request, max_tokens):
        params = original(request, max_tokens)
        params.ignore_eos = True
        return params

    engine.sampling_params = patched


async def harness_side(args, model_over: list[str], run_dir: str) -> tuple[list[Recorder], list]:
    """``args.repeats`` runs of the same configuration (fresh run dirs, so nothing resumes)."""
    overrides = [
        *model_over,
        "mas=single",
        "benchmark=math500",
        f"limit={args.problems}",
        f"tokens={args.tokens}",
        f"model.max_concurrency={args.concurrency}",
        "run.progress=false",
        "tracking.wandb.mode=disabled",
    ]
    engine = build_engine(compose(overrides).model, [])
    t = time.perf_counter()
    await engine.start()
    print(f"[harness] engine loaded in {time.perf_counter() - t:.1f}s ({engine.dtype})")
    ignore_eos(engine)
    warm = compose([*model_over, "mas=single", "limit=4", "tokens=8", "run.progress=false"])
    await run_async(warm, run_dir + "-warmup")
    recs, results = [], []
    for k in range(args.repeats):
        await engine.llm.reset_prefix_cache()  # every run prefills, as the offline side does
        rec = Recorder(engine)
        t = time.perf_counter()
        summary = await run_async(compose(overrides), f"{run_dir}-{k}")
        results.append((summary, time.perf_counter() - t))
        recs.append(rec)
        engine.llm.generate = rec.real
    await engine.release()
    return recs, results


def offline_side(model_over: list[str], rec: Recorder, repeats: int) -> tuple[int, float]:
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    probe = VllmEngine(compose(model_over).model)
    s = probe.settings
    from vllm.platforms import current_platform

    from harness.engines.model_builds import resolve_model_path
    from harness.engines.prompting import choose_dtype
    from harness.engines.vllm_engine import engine_args

    on_cpu = current_platform.is_cpu()
    kwargs = engine_args(s, resolve_model_path(s), choose_dtype(s.dtype, on_cpu, s.name), on_cpu)
    t = time.perf_counter()
    llm = LLM(**kwargs)
    print(f"[offline] LLM loaded in {time.perf_counter() - t:.1f}s")
    prompts = [TokensPrompt(prompt_token_ids=p) for p in rec.prompts]
    params = [
        SamplingParams(max_tokens=n, temperature=0.0, ignore_eos=True) for n in rec.max_tokens
    ]
    llm.generate(prompts[:4], params[:4], use_tqdm=False)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        llm.reset_prefix_cache()  # each repeat prefills, as the harness's runs do
        t = time.perf_counter()
        outs = llm.generate(prompts, params, use_tqdm=False)
        best = min(best, time.perf_counter() - t)
    n = sum(len(o.outputs[0].token_ids) for o in outs)
    llm.llm_engine.engine_core.shutdown()
    return n, best


def sweep_timing(model: str, concurrency: int) -> float:
    """Wall time of a 4-point mas=ceo sweep in one process (agents x tokens), its points run
    ``concurrency`` at a time on the shared loop against one loaded engine."""
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "harness",
                "-m",
                f"model={model}",
                "model.engine=vllm",
                "mas=ceo",
                "agents=2,3",
                "tokens=64,128",
                "limit=8",
                "run.progress=false",
                f"hydra.launcher.concurrency={concurrency}",
                f"hydra.sweep.dir={d}",
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--problems", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3, help="runs per side; the best counts")
    ap.add_argument("--sweep", action="store_true", help="also time a 4-point ceo sweep")
    args = ap.parse_args()
    model_over = [f"model={args.model}", "model.engine=vllm"]

    with tempfile.TemporaryDirectory() as d:
        recs, results = asyncio.run(_harness(args, model_over, f"{d}/run"))
    for k, (rec, (summary, wall)) in enumerate(zip(recs, results, strict=True)):
        print(
            f"[harness] run {k}: mas=single, {summary['n']} problems, {len(rec.prompts)} "
            f"requests: {rec.tokens} tokens, generation window {rec.window():.2f}s "
            f"= {rec.tokens / rec.window():.0f} tok/s; run wall {wall:.2f}s (incl. scoring, "
            f"store) = {rec.tokens / wall:.0f} tok/s; the requests reached vLLM within "
            f"{rec.arrived - rec.first:.2f}s"
        )
    best = min(range(len(recs)), key=lambda k: recs[k].window())
    rec, wall = recs[best], results[best][1]
    h_tps = rec.tokens / rec.window()
    n, dt = offline_side(model_over, rec, args.repeats)
    o_tps = n / dt
    print(
        f"[offline] LLM.generate, same prompts and lengths, best of {args.repeats}: "
        f"{n} tokens in {dt:.2f}s = {o_tps:.0f} tok/s"
    )
    print(
        f"harness / offline (best runs) = {h_tps / o_tps:.2f}x (generation window), "
        f"{rec.tokens / wall / o_tps:.2f}x (whole run)   (target >= 0.9x)"
    )
    if args.sweep:
        seq = sweep_timing(args.model, 1)
        conc = sweep_timing(args.model, 4)
        print(
            f"4-point mas=ceo sweep ({args.model}, 8 problems each): one after another "
            f"{seq:.1f}s, concurrently {conc:.1f}s ({seq / conc:.2f}x)"
        )


async def _harness(args, model_over, run_dir):
    try:
        return await harness_side(args, model_over, run_dir)
    finally:
        await close_all()


if __name__ == "__main__":
    main()
