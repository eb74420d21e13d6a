"""The one async interface every engine implements.

An engine takes a chat (a list of ``{"role", "content"}`` messages) plus sampling parameters and
returns text, token counts and a finish reason. Episodes talk only to this interface, so they do
not know which backend serves them.
"""

from __future__ import annotations

import abc
import asyncio
import time
from dataclasses import asdict, dataclass, field
from typing import Any


class EngineUnavailable(Exception):
    """The engine is down (connection refused, crashed worker, 5xx or timeouts past the retry
    budget). The episode cannot go on; the runner leaves the problem unrecorded so a rerun
    retries it."""


class RequestRejected(Exception):
    """This request can never succeed (over the context length, a parameter the backend
    rejects). Recorded on the call, which then ends with ``finish_reason``; the episode goes on
    with its fallback."""

    def __init__(self, message: str, finish_reason: str = "error") -> None:
        super().__init__(message)
        self.finish_reason = finish_reason  # "length" for context-length errors


class FatalEngineError(Exception):
    """A failure no retry or rerun can fix (bad API key, unknown model): stops the run with
    one line."""


class EngineDead(FatalEngineError):
    """The engine itself is down (vLLM's engine core died; a server whose ``/health`` fails
    while it answers 5xx): waiting cannot fix it, so the run stops at once (exit 3) with the
    server's reason instead of retrying for minutes. Finished problems are saved; a rerun once
    the engine is back resumes. A ``FatalEngineError``, so every layer that stops on those
    stops on this too."""


@dataclass(frozen=True)
class SamplingParams:
    max_tokens: int = 512
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None  # per-call seed; an engine whose platform cannot honour it drops it
    stop: tuple[str, ...] = ()


@dataclass
class Request:
    messages: list[dict[str, str]]
    params: SamplingParams = field(default_factory=SamplingParams)
    # Who is asking, for which problem: transcripts use these, and the table engines (oracle,
    # replay) answer by problem id and role. Model-backed engines ignore them.
    problem_id: str | None = None
    repeat: int = 0
    role: str = "solver"
    # Text the model must continue (e.g. a forced "<think>" prefix or budget forcing).
    prefix: str = ""


@dataclass
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"  # stop | length | missing | error
    reasoning: str | None = None  # an API's separate reasoning field, if any
    latency_s: float = 0.0
    error: str | None = None
    reasoning_tokens: int | None = None  # when the backend reports them apart
    retries: int = 0  # transient failures retried inside the engine before this answer
    cost_usd: float | None = None  # priced API models (a price table in the model config)
    # max_tokens cut to what the context still holds: {"asked": n, "sent": m}
    clamp: dict[str, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Engine(abc.ABC):
    """Base class: subclasses implement ``_generate``; ``generate`` adds the concurrency limit."""

    name: str = "engine"
    #: whether each request's own seed decides its sample (known once started): a rerun is then
    #: call-for-call identical. False: seeds are not sent or not honoured per call (vLLM's CPU
    #: server, HF generate's one generator per batch). None: the engine does not sample.
    per_call_seeds: bool | None = None
    #: called with (retries since the last answer, last error) while an engine waits on its
    #: server; the runner points it at the run's tracker
    on_wait: Any = None

    def __init__(self, max_concurrency: int = 1) -> None:
        self.max_concurrency = max(1, int(max_concurrency))
        self._limiter: asyncio.Semaphore | None = None
        self._limiter_loop: asyncio.AbstractEventLoop | None = None

    def _get_limiter(self) -> asyncio.Semaphore:
        # One per event loop: an engine kept loaded across the points of a sweep serves each
        # point's asyncio.run in turn.
        loop = asyncio.get_running_loop()
        if self._limiter is None or self._limiter_loop is not loop:
            self._limiter = asyncio.Semaphore(self.max_concurrency)
            self._limiter_loop = loop
        return self._limiter

    async def generate(self, request: Request) -> Completion:
        async with self._get_limiter():
            start = time.perf_counter()
            completion = await self._generate(request)
            if not completion.latency_s:
                completion.latency_s = time.perf_counter() - start
            return completion

    @abc.abstractmethod
    async def _generate(self, request: Request) -> Completion: ...

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Load weights / open connections. Called once, only when there is work to do."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (threads, processes, servers)."""

    async def release(self) -> None:
        """End of one run. Engines that load weights keep them for the next run in this
        process (the next point of a sweep); others close."""
        await self.close()
