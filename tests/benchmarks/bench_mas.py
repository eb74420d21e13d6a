"""Orchestration overhead of the multi-agent systems: agent calls per second through full
episodes with an engine that answers instantly (so only prompt rendering, parsing, seeding,
transcript recording and asyncio scheduling are measured). Target: >= 1,000 calls/s on one core.

    .venv/bin/python tests/benchmarks/bench_mas.py [--episodes 300] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from harness.engines.base import Completion, Engine, Request
from harness.mas import build_mas
from harness.mas.base import Episode
from harness.mas.settings import ReasoningSettings, mas_settings
from harness.problem import Problem
from harness.roles import canned_response
from harness.settings import compose, from_node, to_plain

# Worst case for the orchestration: every round runs to the end (critics always object, the
# evaluator never accepts), and the CEO asks for more experts than allowed (clamped).
SCRIPT = {
    "critic": "Step 2 does not follow from step 1. [Disagree]",
    "evaluator": "### Correctness: 0\n### Advice: recheck step 2\n### Recruiting Suggestion: a logician",
    "ceo": "### Decision: <Continue>\n### Recruit Number: 9\n### Direction: step 2\n### Maximum Tokens: 8k",
}


class InstantEngine(Engine):
    name = "instant"

    def __init__(self, domain: str) -> None:
        super().__init__(max_concurrency=10_000)
        self.domain = domain

    async def _generate(self, request: Request) -> Completion:
        text = SCRIPT.get(request.role) or canned_response(request.role, self.domain)
        return Completion(text=text, prompt_tokens=100, completion_tokens=20, latency_s=1e-9)


class InstantSandbox:
    async def run(self, program: str, timeout_s: float | None = None) -> Any:
        from types import SimpleNamespace

        return SimpleNamespace(
            verdict="passed", stdout="3/3 tests passed", stderr="", detail="", passed=True
        )


async def bench(
    name: str, domain: str, episodes: int, concurrency: int, memory: str
) -> dict[str, float]:
    sandbox = InstantSandbox()
    cfg = compose([f"mas={name}", "agents=3", f"mas.memory={memory}"])
    mas = build_mas(
        mas_settings(cfg.mas),
        to_plain(cfg.prompts),
        agents=3,
        tokens=16384,
        turns=3,
        critic_rounds=2,
        sandbox_factory=lambda: sandbox,
    )
    engine = InstantEngine(domain)
    prompt = "def add(a, b):\n    ...\n" if domain == "code" else "What is 6 * 7? " * 20
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Episode:
        async with gate:
            problem = Problem(f"p{i}", prompt, domain, None, "")
            ep = Episode(
                engine,
                problem,
                0,
                seed=i,
                temperature=0.0,
                top_p=1.0,
                reasoning=from_node(ReasoningSettings, cfg.reasoning),
            )
            await mas.solve(ep)
            assert ep.result.error is None, ep.result.error
            return ep

    start = time.perf_counter()
    eps = await asyncio.gather(*(one(i) for i in range(episodes)))
    wall = time.perf_counter() - start
    calls = sum(len(ep.result.calls) for ep in eps)
    return {
        "episodes": episodes,
        "calls": calls,
        "wall_s": wall,
        "calls_per_s": calls / wall,
        "us_per_call": 1e6 * wall / calls,
        "calls_per_episode": calls / episodes,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    print(
        f"{'system':<12}{'domain':<8}{'memory':<14}{'episodes':>9}{'calls':>8}{'calls/ep':>10}"
        f"{'wall s':>9}{'calls/s':>10}{'µs/call':>9}"
    )
    cases = [
        ("ceo", "math", "chat_history"),
        ("ceo", "code", "chat_history"),
        ("agentverse", "math", "chat_history"),
        ("agentverse", "math", "none"),
    ]
    for name, domain, memory in cases:
        r = asyncio.run(bench(name, domain, args.episodes, args.concurrency, memory))
        print(
            f"{name:<12}{domain:<8}{memory:<14}{r['episodes']:>9}{r['calls']:>8}"
            f"{r['calls_per_episode']:>10.1f}{r['wall_s']:>9.2f}{r['calls_per_s']:>10.0f}"
            f"{r['us_per_call']:>9.0f}"
        )
    print("target: >= 1000 calls/s on one core (ceo rows)")


if __name__ == "__main__":
    main()
