"""Transformers engine throughput: the harness at 16 concurrent requests vs raw batched
``model.generate`` on the same model, prompts and token counts; and the speedup of
``model.max_concurrency=16`` over ``=1`` on 32 MATH-500 problems through the full runner.

    .venv/bin/python tests/benchmarks/bench_engine.py [--model tiny|smollm2-135m] [--tokens 128]

Targets: harness ≥ 0.8× raw; concurrency 16 ≥ 4× concurrency 1 with mas=single (issue 2) and
≥ 3× with mas=agentverse (issue 3), tiny model.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HARNESS_DATA_DIR", str(ROOT.parent / "shared" / "benchmarks"))

from hydra import compose, initialize_config_dir  # noqa: E402

from harness.engines.base import Request, SamplingParams  # noqa: E402
from harness.engines.transformers_engine import TransformersEngine  # noqa: E402
from harness.runner import run_async  # noqa: E402
from tasks.base import read_jsonl  # noqa: E402


def compose_cfg(overrides: list[str]):
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        return compose("config", overrides=overrides)


def prompts(n: int) -> list[list[dict[str, str]]]:
    rows = read_jsonl(Path(os.environ["HARNESS_DATA_DIR"]) / "math500.jsonl")[:n]
    return [[{"role": "user", "content": r["problem"]}] for r in rows]


def raw_generate(engine: TransformersEngine, chats, tokens: int) -> tuple[int, float]:
    import torch

    tok, model = engine.tokenizer, engine.model
    texts = [tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in chats]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            **enc,
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=False,
            pad_token_id=tok.pad_token_id,
        )
    dt = time.perf_counter() - t0
    return (out.shape[1] - enc["input_ids"].shape[1]) * len(chats), dt


async def harness_generate(engine: TransformersEngine, chats, tokens: int) -> tuple[int, float]:
    reqs = [Request(c, SamplingParams(max_tokens=tokens)) for c in chats]
    t0 = time.perf_counter()
    outs = await asyncio.gather(*(engine.generate(r) for r in reqs))
    return sum(o.completion_tokens for o in outs), time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--problems", type=int, default=32)
    args = ap.parse_args()

    cfg = compose_cfg([f"model={args.model}", "model.max_concurrency=16", "model.max_batch=16"])
    engine = TransformersEngine(cfg.model)
    asyncio.run(engine.start())
    # Same token counts on both sides: EOS is disabled so every row generates `tokens`.
    engine.model.generation_config.eos_token_id = None
    engine.tokenizer.eos_token = engine.tokenizer.pad_token
    chats = prompts(16)
    raw_generate(engine, chats[:2], 4)  # warm-up
    n_raw, t_raw = raw_generate(engine, chats, args.tokens)
    n_h, t_h = asyncio.run(harness_generate(engine, chats, args.tokens))
    raw_tps, h_tps = n_raw / t_raw, n_h / t_h
    print(
        f"[{args.model}] raw batched generate, 16 prompts × {args.tokens} tokens: "
        f"{n_raw} tokens in {t_raw:.2f}s = {raw_tps:.0f} tok/s"
    )
    print(
        f"[{args.model}] harness engine, 16 concurrent requests:            "
        f"{n_h} tokens in {t_h:.2f}s = {h_tps:.0f} tok/s  (batches {engine.batches[-3:]})"
    )
    print(f"harness / raw = {h_tps / raw_tps:.2f}x   (target >= 0.8x)")

    short_roles = [f"mas.role_tokens.{r}=64" for r in ("recruiter", "evaluator", "executor")]
    for mas, extra, target in (
        ("single", [], 4),
        ("agentverse", ["agents=3", "turns=2", "critic_rounds=1", *short_roles], 3),
    ):
        walls = {}
        for conc in (1, 16):
            with tempfile.TemporaryDirectory() as d:
                run_cfg = compose_cfg(
                    [
                        f"model={args.model}",
                        f"mas={mas}",
                        *extra,
                        f"model.max_concurrency={conc}",
                        f"limit={args.problems}",
                        f"tokens={args.tokens}",
                        "run.progress=false",
                    ]
                )
                t0 = time.perf_counter()
                summary = asyncio.run(run_async(run_cfg, d))
                walls[conc] = time.perf_counter() - t0
                print(
                    f"runner mas={mas}, {args.problems} problems, max_concurrency={conc:>2}: "
                    f"{walls[conc]:.2f}s wall, {summary['calls']} calls, "
                    f"{summary['completion_tokens']} tokens"
                )
        print(
            f"mas={mas}: speedup of max_concurrency=16 over 1: {walls[1] / walls[16]:.1f}x"
            f"   (target >= {target}x)"
        )


if __name__ == "__main__":
    main()
