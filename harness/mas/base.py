"""What every multi-agent system shares: the per-episode call log and the result it returns.

An episode solves one problem. It calls the engine only through ``Episode.call`` so that every
call lands in the transcript with its role, round, tokens and latency, gets a reproducible
seed, and has its ``<think>`` part kept out of what other agents see and what gets graded.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.cfgutil import cfg_get
from harness.engines.base import Completion, Engine, Request, SamplingParams
from harness.problem import Problem
from harness.text import split_thinking


@dataclass
class CallRecord:
    role: str
    round: int
    messages: list[dict[str, str]]
    output: str  # visible text (thinking removed)
    thinking: str | None
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    latency_s: float
    seed: int | None
    max_tokens: int
    error: str | None = None


@dataclass
class EpisodeResult:
    response: str  # the final solution text that gets graded
    calls: list[CallRecord] = field(default_factory=list)
    rounds: int = 0
    agents: list[int] = field(default_factory=list)  # experts working in each round
    events: list[dict[str, Any]] = field(default_factory=list)  # decisions, fallbacks, parses
    error: str | None = None  # set when the episode could not finish normally

    def totals(self) -> dict[str, Any]:
        by_role: dict[str, dict[str, int]] = {}
        for c in self.calls:
            r = by_role.setdefault(c.role, {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0})
            r["calls"] += 1
            r["prompt_tokens"] += c.prompt_tokens
            r["completion_tokens"] += c.completion_tokens
        return {
            "calls": len(self.calls),
            "prompt_tokens": sum(c.prompt_tokens for c in self.calls),
            "completion_tokens": sum(c.completion_tokens for c in self.calls),
            "rounds": self.rounds,
            "agents": max(self.agents) if self.agents else 0,
            "by_role": by_role,
            # mas=ceo: what the CEO chose each round (after clamping)
            "ceo_decisions": [
                {k: e.get(k) for k in ("round", "stop", "agents", "budget", "parsed")}
                for e in self.events
                if e.get("kind") == "ceo_decision"
            ],
            "fallbacks": sum(1 for e in self.events if e.get("kind") == "fallback"),
            "parse_failures": sum(1 for e in self.events if e.get("kind") == "parse_failed"),
        }

    def transcript(self) -> dict[str, Any]:
        return {
            "calls": [asdict(c) for c in self.calls],
            "events": self.events,
            "rounds": self.rounds,
            "agents": self.agents,
            "error": self.error,
        }


def call_seed(seed: int, problem_id: str, repeat: int, role: str, round_: int, k: int = 0) -> int:
    """Seed of one call, derived from (seed, problem, repeat, role, round, index) so reruns
    ask for exactly the same calls, independent of scheduling order."""
    key = f"{seed}|{problem_id}|{repeat}|{role}|{round_}|{k}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "little") & 0x7FFFFFFF


class Episode:
    """One problem × repeat: holds the engine handle, the call log and the reasoning knobs."""

    def __init__(
        self,
        engine: Engine,
        problem: Problem,
        repeat: int,
        *,
        seed: int = 0,
        temperature: float = 0.0,
        top_p: float = 1.0,
        reasoning: Any = None,
    ) -> None:
        self.engine = engine
        self.problem = problem
        self.repeat = repeat
        self.seed = seed
        self.temperature = temperature
        self.top_p = top_p
        self.reasoning = reasoning or {}
        self.result = EpisodeResult(response="")

    def event(self, kind: str, **data: Any) -> None:
        self.result.events.append({"kind": kind, **data})

    async def call(
        self,
        role: str,
        messages: list[dict[str, str]],
        max_tokens: int,
        round_: int = 0,
        k: int = 0,
    ) -> CallRecord:
        """Ask the engine once; never raises for engine errors (they become a recorded call)."""
        seed = call_seed(self.seed, self.problem.id, self.repeat, role, round_, k)
        params = SamplingParams(
            max_tokens=int(max_tokens), temperature=self.temperature, top_p=self.top_p, seed=seed
        )
        prefix = "<think>\n" if cfg_get(self.reasoning, "force_think") else ""
        request = Request(
            messages=messages,
            params=params,
            problem_id=self.problem.id,
            repeat=self.repeat,
            role=role,
            prefix=prefix,
        )
        start = time.perf_counter()
        try:
            completion = await self.engine.generate(request)
        except Exception as exc:  # one failing call must not abort the run
            completion = Completion(
                text="", finish_reason="error", error=f"{type(exc).__name__}: {exc}"
            )
        completion = await self._maybe_budget_force(request, completion)
        text = prefix + completion.text
        thinking, visible = split_thinking(text)
        if completion.reasoning:
            thinking = (completion.reasoning + ("\n" + thinking if thinking else "")).strip()
        record = CallRecord(
            role=role,
            round=round_,
            messages=messages,
            output=visible,
            thinking=thinking,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            finish_reason=completion.finish_reason,
            latency_s=completion.latency_s or (time.perf_counter() - start),
            seed=seed,
            max_tokens=int(max_tokens),
            error=completion.error,
        )
        self.result.calls.append(record)
        return record

    async def _maybe_budget_force(self, request: Request, completion: Completion) -> Completion:
        """Budget forcing (s1-style): if the model ran out of tokens while still thinking, close
        the thinking and allow a short bounded continuation so it still states an answer."""
        extra = int(cfg_get(self.reasoning, "budget_forcing_tokens") or 0)
        text = request.prefix + completion.text
        if (
            extra <= 0
            or completion.finish_reason != "length"
            or "<think>" not in text
            or "</think>" in text
        ):
            return completion
        forced = Request(
            messages=request.messages,
            params=SamplingParams(
                max_tokens=extra,
                temperature=request.params.temperature,
                top_p=request.params.top_p,
                seed=request.params.seed,
            ),
            problem_id=request.problem_id,
            repeat=request.repeat,
            role=request.role,
            prefix=text + "\n</think>\n\n",
        )
        try:
            tail = await self.engine.generate(forced)
        except Exception as exc:
            self.event("budget_forcing_failed", role=request.role, error=str(exc))
            return completion
        self.event("budget_forced", role=request.role, extra_tokens=tail.completion_tokens)
        return Completion(
            text=completion.text + "\n</think>\n\n" + tail.text,
            prompt_tokens=completion.prompt_tokens + tail.prompt_tokens,
            completion_tokens=completion.completion_tokens + tail.completion_tokens,
            finish_reason=tail.finish_reason,
            reasoning=completion.reasoning,
            latency_s=completion.latency_s + tail.latency_s,
        )
