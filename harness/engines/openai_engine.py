"""Any OpenAI-compatible chat endpoint: ``vllm serve``, OpenAI, DeepSeek, Together, ...

Failures, by what can fix them:

- waiting: 429 (honouring ``Retry-After``), 408/409, 5xx, timeouts, dropped connections and
  malformed replies are retried with exponential backoff and jitter, up to ``model.retry``'s
  budget; then ``EngineUnavailable`` (the problem is left for a rerun). Each answer says how many
  retries it took (``Completion.retries``). While retries happen the log says so ("waiting on
  the server: 3 retries, last error HTTP 500 ..."), not silence.
- a dead engine: a 5xx whose body names vLLM's ``EngineDeadError``, or 5xx answers in a row
  while the server's ``/health`` (vLLM's; next to ``/v1``) fails too, is ``EngineDead``: the run
  stops at once (exit 3) quoting the server's reason. A 5xx while ``/health`` answers 200, or a
  server without ``/health`` (404), stays a transient failure.
- nothing: other 4xx (a bad key, an unknown model, a parameter the API rejects) raise
  ``FatalEngineError``, one line that stops the run instead of hundreds of doomed calls.
- this request only: a context-length error is retried once with ``max_tokens`` cut to what the
  error says fits (recorded in ``Completion.clamp``); a prompt that alone fills the context is
  ``RequestRejected`` with finish reason ``length`` and the episode goes on.

Per-model quirks live in the model config, not here: the name of the max-tokens parameter
(o-series want ``max_completion_tokens``), which sampling parameters the API accepts (o-series
reject ``temperature``; DeepSeek-R1 ignores them), how a prefix is continued, prices.

The API key is read from the environment variable ``model.api_key_env`` names, at start, and
kept only in the client: it never enters the config, the run store, logs or trackers. A
model's thinking returned apart (``reasoning_content``, or ``reasoning`` from vLLM >= 0.11) is
kept as ``Completion.reasoning``; messages are sent as role and content only, so thinking is
never sent back (DeepSeek rejects it).

The ``openai`` package's own retries are off (``max_retries=0``): it would neither count them
nor keep to a time budget.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import os
import random
import re
import time
import urllib.error
import urllib.request
from typing import Any

import openai

from harness.engines.base import (
    Completion,
    Engine,
    EngineDead,
    EngineUnavailable,
    FatalEngineError,
    Request,
    RequestRejected,
)
from harness.engines.settings import ApiModelSettings, model_settings
from harness.errors import ConfigError

log = logging.getLogger(__name__)

# What context-length errors say, by provider (OpenAI, DeepSeek, vLLM, Anthropic-style proxies,
# SambaNova, ...): the limit, the prompt's size, or a cap on completion tokens.
_CONTEXT_LIMIT = re.compile(
    r"maximum context length (?:is |of )?\(?(\d+)|> (\d+)|exceeds maximum of (\d+)", re.I
)
_PROMPT_SIZE = re.compile(
    r"\((\d+) in the messages|prompt contains (?:at least )?(\d+)|input length \((\d+)\)"
    r"|messages resulted in (\d+) tokens|context limit: (\d+) \+|prompt is too long: (\d+)",
    re.I,
)
# A cap on max_tokens: OpenAI's wording, and DeepSeek's 400 for deepseek-chat ("Invalid
# max_tokens value, the valid range of max_tokens is [1, 8192]").
_OUTPUT_CAP = re.compile(
    r"supports at most (\d+) completion tokens|valid range of max_tokens is \[\d+, ?(\d+)\]",
    re.I,
)
# What vLLM's server says when its engine core is gone (EngineDeadError's message and name).
_DEAD_WORDS = ("enginedeaderror", "enginecore encountered an issue", "engine core died")
#: 5xx answers in a row (over all calls) after which the server's /health is asked
HEALTH_AFTER_5XX = 2
#: seconds between "waiting on the server" lines
WAIT_LOG_EVERY_S = 10.0
_CONTEXT_WORDS = (
    "context length",
    "context_length",
    "context limit",
    "context size",
    "context window",
    "maximum model length",
    "too many tokens",
    "prompt is too long",
    "input is too long",
    "reduce the length",
    "exceeds token limit",
)


class _Transient(Exception):
    """A failure that waiting may fix; ``delay`` is what the server asked us to wait."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class OpenAIEngine(Engine):
    name = "openai"

    def __init__(self, settings: ApiModelSettings | Any) -> None:
        self.settings = s = model_settings(settings)
        super().__init__(s.max_concurrency)
        self.name = s.name
        self.model_id = s.model_id
        self.context_length = s.context_length
        self.output_cap: int | None = s.max_output_tokens
        self.served_model: str | None = None  # the model id the server's answers name
        self.calls = 0
        self.retries = 0  # transient failures retried, all calls
        self._api_key: str | None = None
        self._client: openai.AsyncOpenAI | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._rng = random.Random()
        self._streak_5xx = 0  # 5xx answers in a row, over all calls
        self._dead: str | None = None  # why the engine is known to be down
        self._health_lock: asyncio.Lock | None = None
        self._health_at = 0.0  # when /health last answered, and what
        self._health_ok: bool | None = None
        self._waits = 0  # retries since the last success (for the "waiting" lines)
        self._wait_logged_at = 0.0

    # -- connection -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        s = self.settings
        if s.api_key_env:
            self._api_key = os.environ.get(s.api_key_env) or None
            if self._api_key is None:
                raise ConfigError(
                    f"model {s.name} reads its API key from ${s.api_key_env}, which is not set"
                )
        if self.model_id is None or self.context_length is None:
            await self._discover()
        self.per_call_seeds = await self._decide_seeds()
        self._started = True

    async def _decide_seeds(self) -> bool:
        """Whether requests carry their per-call seed (``model.seeds``; see settings.py)."""
        s = self.settings
        mode = str(s.seeds).lower()
        if "seed" not in s.sampling_params or mode == "false":
            return False
        if mode == "true":
            return True
        server = await self._vllm_version()
        if server is not None:
            log.warning(
                "%s: a vLLM server (%s): per-call seeds are not sent (vLLM's CPU build kills "
                "its engine on them; on a GPU server set model.seeds=true); a rerun is not "
                "call-for-call identical",
                s.base_url,
                server,
            )
            return False
        return True

    async def _vllm_version(self) -> str | None:
        """vLLM's version when the server is vLLM (its ``/version``), else None."""
        url = self.health_url().removesuffix("/health") + "/version"
        status, body = await asyncio.to_thread(_get, url)
        try:
            data = json.loads(body) if status == 200 else None
        except ValueError:
            return None
        if isinstance(data, dict) and isinstance(data.get("version"), str):
            return f"vLLM {data['version']}"
        return None

    async def _discover(self) -> None:
        """Model id and context length from the server's model list (vLLM lists
        ``max_model_len``); an unknown context length only means no clamp is recorded."""
        s = self.settings
        try:
            listing = await self._with_retries(lambda: self._client_for_loop().models.list())
        except (EngineUnavailable, FatalEngineError) as exc:
            if self.model_id is None:
                raise ConfigError(
                    f"could not list the models of {s.base_url} ({exc}); is the server up? "
                    f"(or set model.model_id)"
                ) from exc
            return
        models = list(listing[0].data)
        if self.model_id is None:
            if not models:
                raise ConfigError(f"{s.base_url} lists no models; set model.model_id")
            self.model_id = models[0].id
        for m in models:
            if m.id == self.model_id and self.context_length is None:
                n = getattr(m, "max_model_len", None)
                self.context_length = int(n) if n else None
        log.info("%s: serving %s (context %s)", s.base_url, self.model_id, self.context_length)

    def _client_for_loop(self) -> openai.AsyncOpenAI:
        # httpx connection pools belong to one event loop.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = openai.AsyncOpenAI(
                base_url=self.settings.base_url,
                api_key=self._api_key or "EMPTY",
                max_retries=0,
                timeout=self.settings.timeout_s,
            )
            self._client_loop = loop
        return self._client

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and self._client_loop is asyncio.get_running_loop():
            await client.close()
        self._started = False

    # -- one request ------------------------------------------------------------------------

    def body(self, request: Request, max_tokens: int) -> dict[str, Any]:
        s, p = self.settings, request.params
        messages = [{"role": m["role"], "content": m["content"]} for m in request.messages]
        extra = dict(s.extra_body)
        if request.prefix:
            if s.prefix_mode == "none":
                raise FatalEngineError(
                    f"model {s.name} cannot continue a prefix (model.prefix_mode=none): turn "
                    f"off reasoning.force_think and budget forcing for it"
                )
            messages.append({"role": "assistant", "content": request.prefix})
            extra.update(continue_final_message=True, add_generation_prompt=False)
        body: dict[str, Any] = {
            "model": self.model_id,
            "messages": messages,
            s.max_tokens_param: max_tokens,
        }
        seed = p.seed if self.per_call_seeds is not False else None
        sent = {"temperature": p.temperature, "top_p": p.top_p, "seed": seed}
        if p.stop:
            sent["stop"] = list(p.stop)
        for key, value in sent.items():
            if key in s.sampling_params and value is not None:
                body[key] = value
        if extra:
            body["extra_body"] = extra
        return body

    async def _generate(self, request: Request) -> Completion:
        if not self._started:
            await self.start()
        asked = max(1, int(request.params.max_tokens))
        clamp: dict[str, int] | None = None
        cap = self.output_cap
        if cap is not None and asked > cap:
            # The provider refuses more than its output cap: ask for the cap, and say so.
            clamp = {"asked": asked, "sent": cap, "cap": cap}
        body = self.body(request, clamp["sent"] if clamp else asked)
        retries, refitted = 0, False
        while True:
            try:
                resp, n = await self._with_retries(
                    lambda b=body: self._client_for_loop().chat.completions.create(**b)
                )
                retries += n
                break
            except ContextError as exc:
                retries += exc.retries
                fits = exc.fits(clamp["sent"] if clamp else asked)
                if refitted or fits is None or fits < 1:
                    raise RequestRejected(exc.message, finish_reason="length") from None
                refitted = True
                clamp = {"asked": asked, "sent": fits}
                learned = exc.output_cap()
                if learned is not None:
                    # A cap the config did not know: every later call is clamped up front.
                    self.output_cap = learned
                    clamp["cap"] = learned
                    log.warning(
                        "%s: the server caps max_tokens at %d (set model.max_output_tokens=%d)",
                        self.name,
                        learned,
                        learned,
                    )
                body = self.body(request, fits)
        self.calls += 1
        self._note_served(resp)
        return self._completion(resp, asked, clamp, retries)

    def _note_served(self, resp: Any) -> None:
        """The model id the server reports answering with (an alias such as deepseek-chat
        names whatever the provider serves today), for summary.json and the leaderboard."""
        served = getattr(resp, "model", None)
        if served and served != self.served_model:
            if self.served_model is not None:
                log.warning("%s: the server now answers as %s", self.name, served)
            self.served_model = str(served)

    def _completion(
        self, resp: Any, asked: int, clamp: dict[str, int] | None, retries: int
    ) -> Completion:
        choice = resp.choices[0]
        msg = choice.message
        reasoning = getattr(msg, "reasoning_content", None) or getattr(msg, "reasoning", None)
        usage = resp.usage
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        details = getattr(usage, "completion_tokens_details", None)
        reasoning_tokens = getattr(details, "reasoning_tokens", None)
        sent = clamp["sent"] if clamp else asked
        if clamp is None and self.context_length and prompt and prompt + sent > self.context_length:
            # The server cut max_tokens to the context left without saying so (vLLM does).
            clamp = {"asked": asked, "sent": max(0, self.context_length - prompt)}
        return Completion(
            text=msg.content or "",
            prompt_tokens=prompt,
            completion_tokens=completion,
            finish_reason="length" if choice.finish_reason == "length" else "stop",
            reasoning=reasoning or None,
            reasoning_tokens=int(reasoning_tokens) if reasoning_tokens is not None else None,
            retries=retries,
            cost_usd=self.cost(usage),
            clamp=clamp,
        )

    def cost(self, usage: Any) -> float | None:
        price = self.settings.price
        if price is None or usage is None:
            return None
        prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion = int(getattr(usage, "completion_tokens", 0) or 0)
        details = getattr(usage, "prompt_tokens_details", None)
        cached = getattr(details, "cached_tokens", None)
        if cached is None:  # DeepSeek's name for it
            cached = getattr(usage, "prompt_cache_hit_tokens", None)
        cached = min(int(cached or 0), prompt)
        dollars = (
            (prompt - cached) * price.input
            + cached * price.cached_input
            + completion * price.output
        )
        return round(dollars / 1e6, 8)

    # -- retries ----------------------------------------------------------------------------

    async def _with_retries(self, call) -> tuple[Any, int]:
        """``(result, retries)`` of ``call()``, retrying transient failures within budget."""
        r = self.settings.retry
        retries, waited = 0, 0.0
        while True:
            if self._dead is not None:
                raise EngineDead(self._dead)
            try:
                result = await call()
                if getattr(result, "choices", True) in (None, []):
                    raise _Transient("a reply without choices")
                self._streak_5xx = 0
                self._waits = 0
                return result, retries
            except openai.APIStatusError as exc:
                failure = self._classify(exc)
                if isinstance(failure, ContextError):
                    failure.retries = retries
                    raise failure from None
                if not isinstance(failure, _Transient):
                    raise failure from None
                if exc.status_code >= 500:
                    self._streak_5xx += 1
                    await self._check_alive(failure)
            except (openai.APIConnectionError, openai.APIResponseValidationError) as exc:
                # APITimeoutError is an APIConnectionError
                failure = _Transient(f"{type(exc).__name__}: {_first_line(str(exc))}")
                if type(exc.__cause__).__name__ == "ConnectError":  # httpx's (or its fork's)
                    # Refused, not dropped: nothing listens. A server gone for good (vLLM's
                    # exits when its engine dies) is told from a restart by /health below.
                    self._streak_5xx += 1
                    await self._check_alive(failure, refused=True)
            except _Transient as exc:
                failure = exc
            self._note_wait(failure)
            delay = failure.delay
            if delay is None:
                span = min(r.backoff_max_s, r.backoff_base_s * 2**retries)
                delay = span / 2 + self._rng.uniform(0, span / 2)
            if retries >= r.max_retries or waited + delay > r.budget_s:
                raise EngineUnavailable(
                    f"{self.settings.base_url}: gave up after {retries} retries "
                    f"({waited:.1f}s waiting); last: {failure}"
                )
            log.debug("%s: retry %d in %.2fs after %s", self.name, retries + 1, delay, failure)
            await asyncio.sleep(delay)
            waited += delay
            retries += 1
            self.retries += 1

    # -- is the server's engine alive? --------------------------------------------------------

    def health_url(self) -> str:
        """vLLM's ``/health``: at the server's root, next to ``/v1``."""
        base = str(self.settings.base_url).rstrip("/")
        if base.endswith("/v1"):
            base = base[: -len("/v1")]
        return base + "/health"

    async def _check_alive(self, failure: _Transient, refused: bool = False) -> None:
        """After a 5xx: raise ``EngineDead`` when the body names a dead engine, or when 5xx
        answers keep coming and ``/health`` fails as well. One probe at a time, at most one
        every few seconds, shared by every call in flight."""
        message = str(failure)
        if any(w in message.lower() for w in _DEAD_WORDS):
            self._dead = f"{self.settings.base_url}: the engine is dead ({message})"
            raise EngineDead(self._dead)
        if self._streak_5xx < (HEALTH_AFTER_5XX + 2 if refused else HEALTH_AFTER_5XX):
            return
        if self._health_lock is None:
            self._health_lock = asyncio.Lock()
        async with self._health_lock:
            if self._dead is not None:
                raise EngineDead(self._dead)
            if time.monotonic() - self._health_at > 3.0:
                self._health_ok = await self._probe_health(message, refused)
                self._health_at = time.monotonic()
        if self._dead is not None:
            raise EngineDead(self._dead)

    async def _probe_health(self, last: str, refused: bool = False) -> bool | None:
        """True: healthy; False: down (``_dead`` set); None: no answer or no such endpoint
        (other providers), which decides nothing. ``refused``: the calls found nothing
        listening; if /health is refused too, the server is gone."""
        url = self.health_url()
        status, body = await asyncio.to_thread(_get, url)
        if status is None:
            if refused and isinstance(body, ConnectionRefusedError):
                self._dead = (
                    f"{self.settings.base_url}: the server is gone: {self._streak_5xx} "
                    f"connections refused in a row and {url} refused too (last: {last})"
                )
                return False
            log.info("%s: no answer from %s (%s)", self.name, url, body)
            return None
        if status == 200:
            return True
        if status in (404, 405, 401, 403):
            return None
        said = f": {_first_line(str(body), 200)}" if body else ""
        self._dead = (
            f"{self.settings.base_url}: the engine is down: {self._streak_5xx} HTTP 5xx in a "
            f"row (last: {last}) and {url} answers HTTP {status}{said}"
        )
        return False

    def _note_wait(self, failure: Exception) -> None:
        """Say that calls are waiting on the server: on the 3rd retry since the last success,
        then every ``WAIT_LOG_EVERY_S`` seconds while it lasts."""
        self._waits += 1
        now = time.monotonic()
        if self._waits >= 3 and now - self._wait_logged_at >= WAIT_LOG_EVERY_S:
            self._wait_logged_at = now
            last = _first_line(str(failure), 200)
            log.warning(
                "%s: waiting on the server: %d retries, last error %s", self.name, self._waits, last
            )
            if self.on_wait is not None:  # the run's tracker (W&B)
                self.on_wait(self._waits, last)

    def _classify(self, exc: openai.APIStatusError) -> Exception:
        status = exc.status_code
        message = _api_message(exc)
        if status == 429:
            return _Transient(f"HTTP 429: {message}", retry_after(exc.response.headers))
        if status in (408, 409) or status >= 500:
            return _Transient(f"HTTP {status}: {message}")
        if status in (400, 413, 422) and is_context_error(message, getattr(exc, "code", None)):
            return ContextError(message)
        hint = ""
        if status in (401, 403) and self.settings.api_key_env:
            hint = f" (check the key in ${self.settings.api_key_env})"
        elif status == 404:
            hint = f" (check model.base_url and model.model_id={self.model_id})"
        return FatalEngineError(
            f"{self.name}: HTTP {status} from {self.settings.base_url}: {message}{hint}"
        )


class ContextError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.retries = 0

    def output_cap(self) -> int | None:
        """The cap on max_tokens the error names, if it is that kind of error."""
        cap = _OUTPUT_CAP.search(self.message)
        return _number(cap) if cap else None

    def fits(self, asked: int) -> int | None:
        """The max_tokens the error says would fit, if it says."""
        cap = self.output_cap()
        if cap is not None:
            return min(asked - 1, cap)
        limit = _CONTEXT_LIMIT.search(self.message)
        prompt = _PROMPT_SIZE.search(self.message)
        if limit and prompt:
            return min(asked - 1, _number(limit) - _number(prompt))
        return None


def _number(match: re.Match) -> int:
    return int(next(g for g in match.groups() if g))


def is_context_error(message: str, code: Any = None) -> bool:
    """Whether a 4xx says the request does not fit the model's context."""
    if code == "context_length_exceeded":
        return True
    low = message.lower()
    return bool(_OUTPUT_CAP.search(message)) or any(w in low for w in _CONTEXT_WORDS)


def _api_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return _first_line(str(inner["message"]))
        if isinstance(inner, str):
            return _first_line(inner)
    return _first_line(str(exc.message))


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]


def _get(url: str, timeout: float = 10.0) -> tuple[int | None, Any]:
    """``(status, body text)`` of a GET; ``(None, the OSError)`` when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - our server
            return resp.status, resp.read(4096).decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(4096).decode(errors="replace")
    except urllib.error.URLError as exc:
        return None, exc.reason
    except OSError as exc:
        return None, exc


def retry_after(headers: Any) -> float | None:
    """Seconds a 429 asks us to wait: ``retry-after-ms``, ``retry-after`` (seconds or an HTTP
    date), else None."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
