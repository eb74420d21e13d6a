"""The episode: one problem × repeat, and the only way its agents reach the engine.

Every system (``mas=single|agentverse|ceo``, or a new one composed from ``harness.mas.steps``)
asks through :meth:`Episode.ask` (parse, re-ask, fall back) or :meth:`Episode.call` (one
request), so every request lands in the transcript with its coordinates (role, agent, round,
step, iteration, attempt), gets a reproducible seed, and has its thinking kept out of what other
agents see and what gets graded. Calls and events share one ``seq`` counter, so the episode's
order can be rebuilt from the transcript alone (schema: :mod:`harness.transcript`).

Engine failures inside an episode:

- ``RequestRejected`` (this request can never succeed, e.g. over the context length): the call
  is recorded with its error and finish reason and the episode goes on with a fallback;
- ``FatalEngineError``: re-raised, the run stops;
- ``EngineUnavailable`` or anything else: the same request is retried with exponential backoff
  (``mas.engine_retries``, ``mas.engine_backoff_s``), then :class:`EpisodeAborted` is raised and
  the runner leaves the problem unrecorded for the rerun.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from harness.engines.base import (
    Completion,
    Engine,
    EngineUnavailable,
    FatalEngineError,
    Request,
    RequestRejected,
    SamplingParams,
)
from harness.mas.parsing import ParseError
from harness.mas.settings import CallPolicy, ReasoningSettings
from harness.problem import Problem
from harness.text import split_thinking

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
#: text inserted by budget forcing to end a cut-off thinking
FORCED_CLOSE = "\n</think>\n\n"


class EpisodeAborted(EngineUnavailable):
    """The engine stayed unavailable through every retry: the episode cannot finish. The
    runner leaves the problem unrecorded, so a rerun tries it again (a kind of
    ``EngineUnavailable``, so a runner that catches that catches this)."""


@dataclass(frozen=True)
class CallSite:
    """Who asks, and where in the protocol: a call's coordinates in the transcript."""

    role: str
    round: int
    step: str  # decide | recruit | propose | review | revise | write_tests | evaluate | answer
    agent: int = 0  # critic k (1-based) of the round; 0 for every other role
    expert: str | None = None  # the persona the agent plays
    iteration: int = 0  # review→revise iteration (1-based) for review and revise


@dataclass
class CallRecord:
    """One request to the engine (after engine-level retries), in transcript schema v1."""

    seq: int
    role: str
    agent: int
    expert: str | None
    round: int
    step: str
    iteration: int
    attempt: int
    messages: list[dict[str, str]]
    prefix: str
    raw: str
    output: str
    thinking: str | None
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int | None
    finish_reason: str
    max_tokens: int
    max_tokens_sent: int
    clamp: dict[str, int] | None
    temperature: float
    top_p: float
    seed: int
    latency_s: float
    start_s: float
    end_s: float
    engine_retries: int
    error: str | None
    cost_usd: float | None  # priced API models

    @property
    def thinking_cut(self) -> bool:
        """The model ran out of tokens while still thinking: nothing visible was produced."""
        return (
            self.finish_reason == "length" and not self.output.strip() and thinking_open(self.raw)
        )


@dataclass
class EpisodeResult:
    response: str  # the final solution text that gets graded
    calls: list[CallRecord] = field(default_factory=list)
    rounds: int = 0
    agents: list[int] = field(default_factory=list)  # experts working in each round
    events: list[dict[str, Any]] = field(default_factory=list)  # decisions, verdicts, fallbacks
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
        """The episode's part of a ``transcripts.jsonl`` line (the runner adds the rest)."""
        return {
            "rounds": self.rounds,
            "agents": self.agents,
            "error": self.error,
            "calls": [asdict(c) for c in sorted(self.calls, key=lambda c: c.seq)],
            "events": sorted(self.events, key=lambda e: e["seq"]),
        }


@dataclass
class Reply:
    """One role's answer after parsing (and re-asks)."""

    record: CallRecord  # the last attempt
    value: Any = None  # the parsed value; None when every attempt failed
    reason: str | None = None  # why the last attempt failed
    partial: Any = None  # what the last failed parse could still read


def call_seed(seed: int, problem_id: str, repeat: int, who: CallSite, attempt: int = 0) -> int:
    """Seed of one call, from (seed, problem, repeat, the call's coordinates, attempt), so a
    rerun asks for exactly the same calls whatever order concurrent calls run in."""
    key = (
        f"{seed}|{problem_id}|{repeat}|{who.role}|{who.round}|{who.step}|{who.iteration}"
        f"|{who.agent}|{attempt}"
    ).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "little") & 0x7FFFFFFF


def thinking_open(text: str) -> bool:
    """``text`` ends inside a ``<think>`` block."""
    return text.rfind(THINK_OPEN) > text.rfind(THINK_CLOSE)


class Episode:
    """One problem × repeat: the engine handle, the reasoning knobs and the call log.

    ``policy`` (parse and engine retries) belongs to the system that runs the episode: it sets
    it before the first call (``System.solve``).
    """

    def __init__(
        self,
        engine: Engine,
        problem: Problem,
        repeat: int,
        *,
        seed: int,
        temperature: float,
        top_p: float,
        reasoning: ReasoningSettings,
    ) -> None:
        self.engine = engine
        self.problem = problem
        self.repeat = repeat
        self.seed = seed
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.reasoning = reasoning
        self.policy: CallPolicy | None = None
        # set by the system, with the policy: renders the re-ask after an unparseable reply
        self.retry_prompt: Callable[[str], str] | None = None
        self.result = EpisodeResult(response="")
        self._seq = 0
        self._t0 = time.perf_counter()

    # -- the log ------------------------------------------------------------------------------
    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def clock(self) -> float:
        """Seconds since the episode began."""
        return round(time.perf_counter() - self._t0, 6)

    def event(self, kind: str, *, round: int, call: int | None = None, **data: Any) -> dict:
        """Record a decision, verdict or fallback; ``call`` is the seq of the call it came
        from (None for decisions made without a model call)."""
        e = {"kind": kind, "seq": self.next_seq(), "round": round, "call": call, **data}
        self.result.events.append(e)
        return e

    # -- asking -------------------------------------------------------------------------------
    async def ask(
        self,
        who: CallSite,
        messages: list[dict[str, str]],
        max_tokens: int,
        parse: Callable[[str], Any],
    ) -> Reply:
        """Call ``who`` and parse the visible answer. A failed attempt is asked again, never as
        the identical request: a reply that does not parse is shown back to the model with
        what was wrong (``mas.parse_retries``, per role ``mas.role_parse_retries``); an empty
        reply is re-sampled at least at ``reasoning.retry_temperature``; a request over the
        context length asks for half the tokens; under ``reasoning.cut_thinking=recover`` a
        reasoning model cut off while thinking is re-asked with changed sampling and
        ``reasoning.think_retry_budget`` of the tokens (``reasoning.think_retries``). Under
        ``mas.retry_halving`` every re-ask halves a max_tokens above 8192. What is still
        unusable after that is returned with ``value=None`` for the caller's recorded
        fallback."""
        policy = self._policy()
        left = {"parse": policy.retries(who.role), "think": self.reasoning.think_retries}
        sampling = (int(max_tokens), self.temperature, self.top_p)
        attempt = 0
        while True:
            record = await self.call(who, messages, sampling, attempt)
            reply = Reply(record)
            kind, messages, sampling = self._judge(reply, messages, sampling, parse)
            if reply.value is not None or (reply.reason is None and kind is None):
                return reply
            self.event(
                "parse_failed",
                round=who.round,
                call=record.seq,
                role=who.role,
                agent=who.agent,
                attempt=attempt,
                reason=reply.reason,
            )
            if kind is None or left[kind] <= 0:
                return reply
            left[kind] -= 1
            attempt += 1
            # the original halved max_tokens above 8192 on every re-ask (policy.retry_halving)
            sampling = (policy.next_max_tokens(who.role, sampling[0]), *sampling[1:])
            if kind == "think":
                budget = max(1, int(sampling[0] * self.reasoning.think_retry_budget))
                sampling = (budget, max(sampling[1], self.reasoning.retry_temperature), sampling[2])
                self.event(
                    "think_recovery",
                    round=who.round,
                    call=record.seq,
                    role=who.role,
                    agent=who.agent,
                    action="re-ask",
                    max_tokens=sampling[0],
                    temperature=sampling[1],
                )

    def _judge(
        self,
        reply: Reply,
        messages: list[dict[str, str]],
        sampling: tuple[int, float, float],
        parse: Callable[[str], Any],
    ) -> tuple[str | None, list[dict[str, str]], tuple[int, float, float]]:
        """Parse one attempt into ``reply``; returns which retry budget a failure draws on
        (parse | think | None: none can help) and the next attempt's messages and sampling."""
        record = reply.record
        if record.error:
            reply.reason = f"engine error: {record.error}"
            if record.finish_reason == "length" and sampling[0] > 1:
                return "parse", messages, (sampling[0] // 2, *sampling[1:])  # ask for less
            return None, messages, sampling  # the same request can never succeed
        if record.thinking_cut and self.reasoning.reasoning_model:
            reply.reason = f"thinking cut off at {record.max_tokens} tokens"
            return "think", messages, sampling
        if not record.output.strip():
            cut = " (ran out of tokens)" if record.finish_reason == "length" else ""
            reply.reason = f"empty reply{cut}"
            hotter = max(sampling[1], self.reasoning.retry_temperature)
            return "parse", messages, (sampling[0], hotter, sampling[2])
        try:
            reply.value = parse(record.output)
            return None, messages, sampling
        except ParseError as exc:
            reply.reason, reply.partial = exc.reason, exc.partial
        retry = self._retry_prompt(reply.reason)
        messages = [
            *messages,
            {"role": "assistant", "content": record.output},
            {"role": "user", "content": retry},
        ]
        return "parse", messages, sampling

    def _retry_prompt(self, reason: str) -> str:
        if self.retry_prompt is None:
            return f"Your reply could not be used: {reason}. Reply again in the required format."
        return self.retry_prompt(reason)

    async def call(
        self,
        who: CallSite,
        messages: list[dict[str, str]],
        sampling: tuple[int, float, float],
        attempt: int = 0,
    ) -> CallRecord:
        """One request (plus budget forcing when configured), recorded. ``sampling`` is
        (max_tokens, temperature, top_p)."""
        max_tokens, temperature, top_p = sampling
        seq = self.next_seq()
        seed = call_seed(self.seed, self.problem.id, self.repeat, who, attempt)
        prefix = THINK_OPEN + "\n" if self.reasoning.force_think else ""
        request = Request(
            messages=messages,
            params=SamplingParams(
                max_tokens=int(max_tokens), temperature=temperature, top_p=top_p, seed=seed
            ),
            problem_id=self.problem.id,
            repeat=self.repeat,
            role=who.role,
            prefix=prefix,
        )
        start = self.clock()
        completion, retries = await self._generate(request, who, seq, attempt, start)
        if completion.error and completion.finish_reason != "missing":
            self.event(
                "engine_error", round=who.round, call=seq, reason=completion.error, fatal=False
            )
        elif not completion.error:
            completion = await self._budget_force(request, completion, who, seq)
        record = self._record(seq, who, attempt, request, completion, retries, start)
        self.result.calls.append(record)
        return record

    async def _generate(
        self, request: Request, who: CallSite, seq: int, attempt: int, start: float
    ) -> tuple[Completion, int]:
        policy = self._policy()
        retries = 0
        while True:
            try:
                return await self.engine.generate(request), retries
            except FatalEngineError:
                raise
            except RequestRejected as exc:
                return Completion(
                    "", finish_reason=exc.finish_reason, error=f"request rejected: {exc}"
                ), retries
            except Exception as exc:  # EngineUnavailable, or a backend bug
                if retries >= policy.engine_retries:
                    failed = Completion("", finish_reason="error", error=_describe(exc))
                    self.result.calls.append(
                        self._record(seq, who, attempt, request, failed, retries, start)
                    )
                    self.event(
                        "engine_error", round=who.round, call=seq, reason=failed.error, fatal=True
                    )
                    raise EpisodeAborted(
                        f"engine unavailable after {retries + 1} tries: {failed.error}"
                    ) from exc
                await asyncio.sleep(policy.engine_backoff_s * 2**retries)
                retries += 1

    async def _budget_force(
        self, request: Request, completion: Completion, who: CallSite, seq: int
    ) -> Completion:
        """Budget forcing (s1-style, as the original ran M1, llms/openai.py:531): an answer that
        came within ``reasoning.budget_forcing_margin`` tokens of its limit while still thinking
        gets its thinking closed and a bounded continuation (``ReasoningSettings.forcing_tokens``),
        so it still states an answer."""
        limit = request.params.max_tokens
        extra = self.reasoning.forcing_tokens(limit)
        text = request.prefix + completion.text
        # the original's trigger: the answer came within the margin of its limit
        near = completion.finish_reason == "length" or (
            int(completion.completion_tokens or 0) >= limit - self.reasoning.budget_forcing_margin
        )
        if extra <= 0 or not near or not thinking_open(text):
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
            prefix=text + FORCED_CLOSE,
        )
        try:
            tail = await self.engine.generate(forced)
        except FatalEngineError:
            raise
        except Exception as exc:  # the cut-off answer stands; the recovery is the caller's
            self.event("budget_forced", round=who.round, call=seq, ok=False, error=_describe(exc))
            return completion
        self.event(
            "budget_forced",
            round=who.round,
            call=seq,
            ok=tail.error is None,
            at=len(text),  # where FORCED_CLOSE was inserted into the call's raw text
            inserted=FORCED_CLOSE,
            extra_tokens=tail.completion_tokens,
        )
        if tail.error:
            return completion
        return Completion(
            text=completion.text + FORCED_CLOSE + tail.text,
            prompt_tokens=completion.prompt_tokens + tail.prompt_tokens,
            completion_tokens=completion.completion_tokens + tail.completion_tokens,
            finish_reason=tail.finish_reason,
            reasoning=completion.reasoning,
            latency_s=completion.latency_s + tail.latency_s,
            reasoning_tokens=completion.reasoning_tokens,
            retries=completion.retries + tail.retries,
            clamp=completion.clamp,
            cost_usd=_add(completion.cost_usd, tail.cost_usd),
        )

    def _record(
        self,
        seq: int,
        who: CallSite,
        attempt: int,
        request: Request,
        completion: Completion,
        retries: int,
        start: float,
    ) -> CallRecord:
        raw = request.prefix + completion.text
        thinking, visible = split_thinking(raw)
        if self.reasoning.cut_thinking == "raw" and not visible.strip() and thinking_open(raw):
            # The original's output for a thinking that never closed: the raw text, thinking
            # and its last \boxed{} included (llms/openai.py: extract_reasoner finds no </think>).
            visible = raw
        if completion.reasoning:  # an API's separate reasoning field
            thinking = (completion.reasoning + ("\n" + thinking if thinking else "")).strip()
        end = self.clock()
        clamp = completion.clamp
        return CallRecord(
            seq=seq,
            role=who.role,
            agent=who.agent,
            expert=who.expert,
            round=who.round,
            step=who.step,
            iteration=who.iteration,
            attempt=attempt,
            messages=request.messages,
            prefix=request.prefix,
            raw=raw,
            output=visible,
            thinking=thinking,
            prompt_tokens=int(completion.prompt_tokens or 0),
            completion_tokens=int(completion.completion_tokens or 0),
            reasoning_tokens=completion.reasoning_tokens,
            finish_reason=completion.finish_reason,
            max_tokens=request.params.max_tokens,
            max_tokens_sent=int(clamp["sent"]) if clamp else request.params.max_tokens,
            clamp=clamp,
            temperature=request.params.temperature,
            top_p=request.params.top_p,
            seed=int(request.params.seed or 0),
            latency_s=round(completion.latency_s or (end - start), 6),
            start_s=start,
            end_s=end,
            engine_retries=retries + int(completion.retries or 0),
            error=completion.error,
            cost_usd=completion.cost_usd,
        )

    def _policy(self) -> CallPolicy:
        if self.policy is None:
            raise RuntimeError("Episode.policy is unset: run episodes through a system's solve()")
        return self.policy


def _add(a: float | None, b: float | None) -> float | None:
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
