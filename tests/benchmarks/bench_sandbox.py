"""Wall time to grade MBPP-S (427 reference programs) through the sandbox, beside two baselines.

    .venv/bin/python tests/benchmarks/bench_sandbox.py [--skip-plain]

Prints figures only (no timed assertions); asserts that every reference program passes: all 427
MBPP-S programs and all 164 HumanEval programs, each in grading mode (the solution in one
process, the hidden tests in another asking it for outputs), as the code scorers run them. Also the
cost of grading mode against running the same text as one plain program, and the reference CPU
times that set the limits.  Data: $HARNESS_DATA_DIR, default ../shared/benchmarks relative to
the repository.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from harness.sandbox import Sandbox  # noqa: E402
from tests.settings_helper import sandbox_config  # noqa: E402

TIMEOUT_S = 20.0


def data_dir() -> Path:
    return Path(os.environ.get("HARNESS_DATA_DIR") or REPO.parent / "shared" / "benchmarks")


def load_jsonl(name: str) -> list[dict]:
    with open(data_dir() / name, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def mbpp_parts() -> list[tuple[str, str, str]]:
    """(task id, solution part, hidden tests) as tasks/mbpp.py builds them."""
    return [
        (
            str(row["task_id"]),
            "\n".join(row["test_imports"]) + "\n" + row["code"] + "\n",
            "\n".join(row["test_list"]) + "\n",
        )
        for row in load_jsonl("mbpp_sanitized.jsonl")
    ]


def humaneval_parts() -> list[tuple[str, str, str]]:
    return [
        (
            row["task_id"],
            row["prompt"] + row["canonical_solution"] + "\n",
            row["test"] + f"\ncheck({row['entry_point']})\n",
        )
        for row in load_jsonl("humaneval.jsonl")
    ]


def entry_points() -> dict[str, str]:
    """Task id → the function under test (the tests may take it from the solution even when
    it bears a builtin's name, as MBPP's ``sum``)."""
    from tasks.mbpp import entry_point_of

    out = {
        str(row["task_id"]): entry_point_of(row["code"], row["test_list"][0])
        for row in load_jsonl("mbpp_sanitized.jsonl")
    }
    out.update({row["task_id"]: row["entry_point"] for row in load_jsonl("humaneval.jsonl")})
    return out


def mbpp_programs() -> list[tuple[str, str]]:
    return [(tid, setup + tests) for tid, setup, tests in mbpp_parts()]


def run_plain(program: str) -> tuple[bool, float]:
    """Baseline: one python3 subprocess per program, no isolation.

    Uses the harness's own interpreter: `python3` on PATH may be a pyenv shim (a shell script)
    that adds ~100 ms per start and would flatter the sandbox.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.py"
        path.write_text(program)
        start = time.monotonic()
        proc = subprocess.run(
            [sys.executable, str(path)],
            cwd=tmp,
            capture_output=True,
            timeout=TIMEOUT_S,
            check=False,
        )
        return proc.returncode == 0, time.monotonic() - start


async def grade(sandbox: Sandbox, parts: list[tuple[str, str, str]]) -> dict[str, object]:
    """Grading mode, under the limits used to measure a reference solution."""
    cpu, wall = sandbox.config.reference_limits()
    entries = entry_points()
    results = await asyncio.gather(
        *(
            sandbox.run(setup, tests=tests, cpu_s=cpu, timeout_s=wall, entry_point=entries.get(tid))
            for tid, setup, tests in parts
        )
    )
    return {tid: r for (tid, _, _), r in zip(parts, results, strict=True)}


async def run_plain_mode(sandbox: Sandbox, programs: list[tuple[str, str]]) -> list[object]:
    return await asyncio.gather(*(sandbox.run(p, timeout_s=TIMEOUT_S) for _, p in programs))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-plain", action="store_true", help="skip the subprocess baseline")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    mbpp = mbpp_programs()
    parts = mbpp_parts()
    human = humaneval_parts()
    print(f"cores={cores} mbpp={len(mbpp)} humaneval={len(human)} python={sys.version.split()[0]}")

    # Floor: the slowest single program alone (measured through plain python3).
    if not args.skip_plain:
        start = time.monotonic()
        with ThreadPoolExecutor(cores) as pool:
            outcomes = list(pool.map(lambda tp: run_plain(tp[1]), mbpp))
        plain_wall = time.monotonic() - start
        plain_pass = sum(ok for ok, _ in outcomes)
        print(
            f"plain python3 subprocess per program ({cores} parallel): {plain_wall:.2f} s, "
            f"{plain_pass}/{len(mbpp)} passed"
        )

    sandbox = Sandbox(sandbox_config(**({"workers": args.workers} if args.workers else {})))
    try:
        start = time.monotonic()
        sandbox.start()
        startup = time.monotonic() - start
        start = time.monotonic()
        plain_mode = asyncio.run(run_plain_mode(sandbox, mbpp))
        plain_mode_wall = time.monotonic() - start
        start = time.monotonic()
        results = asyncio.run(grade(sandbox, parts))
        wall = time.monotonic() - start
        # Floor: the slowest program run alone, unisolated, on an otherwise idle machine.
        slowest_tid = max(results, key=lambda t: results[t].wall_s)
        try:
            floor = min(run_plain(dict(mbpp)[slowest_tid])[1] for _ in range(2))
        except subprocess.TimeoutExpired:  # a machine too busy for the baseline
            floor = float("nan")
        failures = {t: (r.verdict, r.detail) for t, r in results.items() if not r.passed}
        print(
            f"sandbox mechanism={sandbox.mechanism} missing={sandbox.missing_protections} "
            f"workers={sandbox.config.n_workers} startup={startup:.2f} s"
        )
        print(
            f"sandbox MBPP-S, one plain program each: {plain_mode_wall:.2f} s, "
            f"{sum(r.passed for r in plain_mode)}/{len(plain_mode)} passed"
        )
        print(
            f"sandbox MBPP-S, grading mode: {wall:.2f} s for {len(results)} programs, "
            f"{len(results) - len(failures)}/{len(results)} passed, "
            f"{sum(r.checks or 0 for r in results.values())} checks"
        )
        cpus = sorted(r.cpu_s for r in results.values())
        cpu_lim = [sandbox.config.graded_limits(c)[0] for c in cpus]
        print(
            f"reference CPU time: median {cpus[len(cpus) // 2] * 1000:.0f} ms, max {cpus[-1]:.2f} s "
            f"-> CPU limits {min(cpu_lim):.0f}-{max(cpu_lim):.1f} s "
            f"(wall x{sandbox.config.wall_factor:g})"
        )
        print(
            f"floor (slowest single program, task {slowest_tid}): {floor:.2f} s; "
            f"sandbox / floor = {wall / floor:.2f}x"
        )
        assert not failures, f"MBPP-S reference programs failed: {failures}"

        start = time.monotonic()
        hresults = asyncio.run(grade(sandbox, human))
        hwall = time.monotonic() - start
        hfail = {t: (r.verdict, r.detail) for t, r in hresults.items() if not r.passed}
        print(
            f"sandbox HumanEval: {hwall:.2f} s for {len(hresults)} programs, "
            f"{len(hresults) - len(hfail)}/{len(hresults)} passed"
        )
        assert not hfail, f"HumanEval canonical solutions failed: {hfail}"
    finally:
        sandbox.close()


if __name__ == "__main__":
    main()
