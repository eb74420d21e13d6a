"""Do the engines agree? The same MATH-500 problems, greedily (temperature 0, mas=single), through
the real CLI on transformers and on vLLM (in-process, eager), per model; then, problem by problem:
the same extracted answer? the same generated text? and how many generated tokens are the same
(the common prefix of the two token sequences, re-tokenized from the recorded text).

    .venv-vllm/bin/python tests/benchmarks/bench_engines_agree.py [--models tiny smollm2-135m]
        [--problems 8] [--tokens 256]

Needs .venv-vllm (both engines). Prints the figures the README quotes; asserts nothing: where
and why the engines part is the point (see README, "Switching engines").
"""

from __future__ import annotations

import argparse
import json
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


def run(model: str, engine: str, problems: int, tokens: int, out: Path) -> tuple[Path, float]:
    args = [
        f"model={model}",
        f"model.engine={engine}",
        "mas=single",
        "benchmark=math500",
        f"limit={problems}",
        f"tokens={tokens}",
        "temperature=0",
        "run.progress=false",
        "tracking.wandb.mode=disabled",
        f"hydra.run.dir={out}",
    ]
    if engine == "vllm":
        args.append("model.enforce_eager=true")
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "harness", *args], cwd=ROOT, capture_output=True, text=True
    )
    if proc.returncode != 0:
        sys.exit(f"{model}/{engine} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return out, time.perf_counter() - t


def calls(run_dir: Path) -> dict[str, dict]:
    """Problem id -> (its one call, the result line)."""
    results = {
        r["id"]: r for r in map(json.loads, (run_dir / "results.jsonl").read_text().splitlines())
    }
    out = {}
    for line in (run_dir / "transcripts.jsonl").read_text().splitlines():
        t = json.loads(line)
        (call,) = [c for c in t["calls"] if c["attempt"] == 0][:1]
        out[t["id"]] = {"call": call, "result": results[t["id"]]}
    return out


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def compare(model: str, hf: Path, vl: Path) -> dict:
    from transformers import AutoTokenizer

    from harness.engines.model_builds import resolve_model_path
    from harness.settings import compose

    tok = AutoTokenizer.from_pretrained(resolve_model_path(compose([f"model={model}"]).model))
    a, b = calls(hf), calls(vl)
    assert a.keys() == b.keys(), (sorted(a), sorted(b))
    same_answer = same_text = same_tokens = total_tokens = 0
    first_split = []
    for pid in sorted(a):
        ca, cb = a[pid]["call"], b[pid]["call"]
        same_answer += a[pid]["result"]["answer"] == b[pid]["result"]["answer"]
        same_text += ca["raw"] == cb["raw"]
        ta = tok.encode(ca["raw"], add_special_tokens=False)
        tb = tok.encode(cb["raw"], add_special_tokens=False)
        k = common_prefix(ta, tb)
        same_tokens += k
        total_tokens += max(len(ta), len(tb))
        if ca["raw"] != cb["raw"]:
            first_split.append(k)
    return {
        "model": model,
        "problems": len(a),
        "same_answer": same_answer,
        "same_text": same_text,
        "same_tokens": same_tokens,
        "tokens": total_tokens,
        "diverged_at_token": sorted(first_split),
        "accuracy_transformers": sum(r["result"]["correct"] for r in a.values()),
        "accuracy_vllm": sum(r["result"]["correct"] for r in b.values()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["tiny", "smollm2-135m"])
    ap.add_argument("--problems", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=256)
    args = ap.parse_args()
    try:
        import vllm  # noqa: F401
    except ImportError:
        sys.exit("needs vLLM: run with .venv-vllm/bin/python (scripts/setup_vllm.sh)")
    with tempfile.TemporaryDirectory(prefix="engines-agree-") as tmp:
        for model in args.models:
            hf, t_hf = run(
                model, "transformers", args.problems, args.tokens, Path(tmp) / model / "hf"
            )
            vl, t_vl = run(model, "vllm", args.problems, args.tokens, Path(tmp) / model / "vllm")
            r = compare(model, hf, vl)
            print(
                f"{model}: {r['problems']} problems, greedy, ≤ {args.tokens} tokens: "
                f"same answer {r['same_answer']}/{r['problems']}, same text "
                f"{r['same_text']}/{r['problems']}, same generated tokens "
                f"{r['same_tokens']}/{r['tokens']} ({100 * r['same_tokens'] / max(1, r['tokens']):.0f}%); "
                f"correct: transformers {r['accuracy_transformers']}, vLLM {r['accuracy_vllm']}; "
                f"texts part at token {r['diverged_at_token']}; "
                f"wall: transformers {t_hf:.0f} s, vLLM {t_vl:.0f} s",
                flush=True,
            )


if __name__ == "__main__":
    main()
