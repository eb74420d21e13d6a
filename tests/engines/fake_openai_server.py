"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat API and misbehaves on purpose.

Each distinct request body is one call; ``faults`` scripts what the first attempts of a call get
(by the order calls first arrive), so a retried call meets its fault once and then succeeds.
Everything the server saw is kept (attempts per body, their times, the bodies), so tests can
check the client's accounting against the server's: retries = attempts - distinct bodies.
"""

from __future__ import annotations

import hashlib
import json
import select
import socket
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

COMPLETION_TOKENS = 7
REASONING_TOKENS = 3
CACHED_TOKENS = 4
THOUGHT = "SECRET-THOUGHT"  # put in the reasoning field; must never come back in a request

# fault name -> what the first attempt of a call gets
FAULTS = (
    "http500",  # 500 Internal Server Error
    "rate_limited",  # 429 with Retry-After
    "slow",  # the answer comes after slow_s, unless the client gives up (its timeout) first
    "dropped",  # the connection closes without an answer
    "context_clamp",  # 400: prompt + max_tokens too long; a smaller max_tokens fits
    "context_full",  # 400: the prompt alone fills the context
)


def hung_up(conn: socket.socket, seconds: float) -> bool:
    """Wait ``seconds`` for the client to close ``conn``: True as soon as it does (a test of a
    timeout waits for that timeout, not for a fixed sleep), False when the time is up."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([conn], [], [], left)
        if readable:
            try:
                if conn.recv(1, socket.MSG_PEEK) == b"":
                    return True
            except OSError:
                return True
            time.sleep(min(left, 0.05))  # more bytes from the client: not a hang-up
    return False


@dataclass
class Script:
    faults: tuple[str, ...] = ()  # the k-th distinct call gets faults[k % len] ("ok": none)
    every: int = 1  # only every `every`-th call gets a fault
    retry_after_s: float = 1.0
    slow_s: float = 6.0
    api_key: str | None = None  # expected bearer token; a wrong one gets 401
    status: int | None = None  # answer every request with this status (e.g. 401, 404)
    context_length: int = 4096
    # The engine dies after this many answered calls: every later POST gets HTTP 500 with
    # `dead_message` and /health answers `dead_health` (vLLM: 503).
    dead_after: int | None = None
    dead_message: str = "Internal Server Error"
    dead_health: int = 503
    health: int | None = 200  # /health while alive; None: no such route (404), as at OpenAI
    vllm_version: str | None = None  # answer /version as vLLM does
    # A provider's cap on max_tokens: a larger request gets DeepSeek's 400 for deepseek-chat.
    output_cap: int | None = None
    served_model: str | None = None  # the id answers name (an alias's target); None: as asked


@dataclass
class Log:
    attempts: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # distinct calls by first arrival
    faults_served: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    fault_of: dict[str, str] = field(default_factory=dict)
    ok: dict[str, dict[str, Any]] = field(default_factory=dict)  # body key -> last success
    raw: list[bytes] = field(default_factory=list)
    denied: int = 0  # requests answered by `status` or 401 before being looked at
    answered: int = 0  # calls answered 200
    dead_since: float | None = None  # monotonic time the engine died
    after_death: int = 0  # requests that came after it died
    health_probes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def body_key(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


class FakeOpenAI:
    def __init__(self, script: Script, port: int = 0) -> None:
        self.script = script
        self.log = Log()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/") == "/health":  # vLLM's: no key, no scripted status
                    return server._health(self)
                if self.path.rstrip("/") == "/version":  # vLLM's; other servers: 404
                    version = server.script.vllm_version
                    if version is None:
                        return server._send(self, 404, {"detail": "Not Found"})
                    return server._send(self, 200, {"version": version})
                if not server._authorized(self):
                    return
                if self.path.rstrip("/").endswith("/models"):
                    data = {
                        "object": "list",
                        "data": [
                            {
                                "id": "fake-model",
                                "object": "model",
                                "owned_by": "tests",
                                "max_model_len": server.script.context_length,
                            }
                        ],
                    }
                    server._send(self, 200, data)
                else:
                    server._send(self, 404, {"error": {"message": "no such route"}})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                if not server._authorized(self):
                    return
                server._chat(self, raw)

        ThreadingHTTPServer.allow_reuse_address = True  # a restarted server takes its port back
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- behaviour ----------------------------------------------------------------------------

    def _authorized(self, h: BaseHTTPRequestHandler) -> bool:
        s = self.script
        if s.status is not None or (
            s.api_key is not None and h.headers.get("authorization") != f"Bearer {s.api_key}"
        ):
            with self.log.lock:
                self.log.denied += 1
        if s.status is not None:
            headers = {"Retry-After": f"{s.retry_after_s:g}"} if s.status == 429 else None
            self._send(h, s.status, {"error": {"message": f"scripted HTTP {s.status}"}}, headers)
            return False
        if s.api_key is not None and h.headers.get("authorization") != f"Bearer {s.api_key}":
            self._send(h, 401, {"error": {"message": "Incorrect API key provided"}})
            return False
        return True

    def dead(self) -> bool:
        return self.log.dead_since is not None

    def _health(self, h: BaseHTTPRequestHandler) -> None:
        with self.log.lock:
            self.log.health_probes += 1
        status = self.script.dead_health if self.dead() else self.script.health
        if status is None:
            return self._send(h, 404, {"detail": "Not Found"})
        self._send(h, status, {} if status == 200 else {"error": "engine dead"})

    def _chat(self, h: BaseHTTPRequestHandler, raw: bytes) -> None:
        if self.dead():
            with self.log.lock:
                self.log.after_death += 1
            msg = self.script.dead_message
            return self._send(h, 500, {"error": {"message": msg, "type": "InternalServerError"}})
        key = body_key(raw)
        body = json.loads(raw)
        with self.log.lock:
            self.log.raw.append(raw)
            first = key not in self.log.bodies
            if first:
                self.log.bodies[key] = body
                self.log.order.append(key)
                k = len(self.log.order) - 1
                s = self.script
                if s.faults and k % s.every == 0:
                    self.log.fault_of[key] = s.faults[(k // s.every) % len(s.faults)]
            self.log.attempts[key].append(time.monotonic())
            fault = self.log.fault_of.get(key) if first else None
            fault = None if fault == "ok" else fault
            if fault:
                self.log.faults_served[fault] += 1
        if fault == "http500":
            return self._send(h, 500, {"error": {"message": "upstream exploded"}})
        if fault == "rate_limited":
            headers = {"Retry-After": f"{self.script.retry_after_s:g}"}
            return self._send(h, 429, {"error": {"message": "Rate limit reached"}}, headers)
        if fault == "slow" and hung_up(h.connection, self.script.slow_s):
            return None  # the client's own timeout ended the call: nothing to answer
        if fault == "dropped":
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return None
        asked = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        if fault == "context_clamp":
            limit, used = 100, 60
            return self._send(
                h,
                400,
                {
                    "error": {
                        "message": f"This model's maximum context length is {limit} tokens. "
                        f"However, you requested {used + asked} tokens ({used} in the "
                        f"messages, {asked} in the completion). Please reduce the length.",
                        "type": "BadRequestError",
                        "code": 400,
                    }
                },
            )
        cap = self.script.output_cap
        if cap is not None and asked > cap:
            return self._send(
                h,
                400,
                {
                    "error": {
                        "message": f"Invalid max_tokens value, the valid range of max_tokens is "
                        f"[1, {cap}]",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_request_error",
                    }
                },
            )
        if fault == "context_full":
            return self._send(
                h,
                400,
                {
                    "error": {
                        "message": "This model's maximum context length is 100 tokens. "
                        "However, your prompt contains 150 input tokens, which exceeds this "
                        "limit even without any output tokens.",
                        "type": "BadRequestError",
                    }
                },
            )
        prompt_tokens = 10 + sum(len(str(m.get("content", ""))) for m in body["messages"]) // 50
        reply = {
            "id": f"chatcmpl-{key}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.script.served_model or body.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "The answer is \\boxed{42}. [Agree] Correctness: 1",
                        "reasoning_content": f"{THOUGHT} {key}",
                    },
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": COMPLETION_TOKENS,
                "total_tokens": prompt_tokens + COMPLETION_TOKENS,
                "completion_tokens_details": {"reasoning_tokens": REASONING_TOKENS},
                "prompt_tokens_details": {"cached_tokens": CACHED_TOKENS},
            },
        }
        with self.log.lock:
            self.log.ok[key] = reply
            self.log.answered += 1
            s = self.script
            if s.dead_after is not None and self.log.answered >= s.dead_after:
                self.log.dead_since = self.log.dead_since or time.monotonic()
        self._send(h, 200, reply)

    def _send(
        self,
        h: BaseHTTPRequestHandler,
        status: int,
        data: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> None:
        payload = json.dumps(data).encode()
        try:
            h.send_response(status)
            h.send_header("content-type", "application/json")
            h.send_header("content-length", str(len(payload)))
            for k, v in (headers or {}).items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(payload)
        except OSError:  # the client gave up (a timeout): nothing to deliver
            pass

    # -- what the client should have counted ----------------------------------------------------

    def total_attempts(self) -> int:
        return sum(len(v) for v in self.log.attempts.values()) + self.log.denied

    def expected_retries(self) -> int:
        return self.total_attempts() - len(self.log.order)
