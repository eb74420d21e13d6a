"""The Sandbox: a pool of pre-started workers (one per core) that run untrusted programs."""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import select
import signal
import struct
import subprocess
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.errors import HarnessError
from harness.sandbox import launcher
from harness.sandbox.config import SandboxConfig
from harness.sandbox.result import ExecResult, classify

log = logging.getLogger("harness.sandbox")

HANDSHAKE_S = 30.0
# The worker enforces the wall limit itself; this margin only catches a wedged worker.
BACKSTOP_GRACE_S = 5.0
# After a worker fails to start, calls fail at once for this long instead of each retrying.
RESTART_BACKOFF_S = 5.0
# Waiters re-check the pool this often (a notify can be missed only by a worker dying unseen).
ACQUIRE_POLL_S = 1.0
_LIVE: weakref.WeakSet[Sandbox] = weakref.WeakSet()


class SandboxRefused(HarnessError):
    """bubblewrap cannot run and the fallback was not allowed: bad input, one line, exit 2."""


class WorkerError(RuntimeError):
    pass


class _Worker:
    """One sandboxed worker process and its request/reply pipe."""

    def __init__(self, spec: launcher.LaunchSpec) -> None:
        self.proc = launcher.popen(spec)
        self.info = self._read(HANDSHAKE_S)
        if not self.info.get("ready"):
            raise WorkerError(f"worker did not start: {self.info}")

    def _read(self, timeout: float) -> dict[str, Any]:
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        buf = b""
        need = 4
        length = None
        while len(buf) < need:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise WorkerError("worker did not answer in time")
            chunk = os.read(fd, need - len(buf))
            if not chunk:
                raise WorkerError(f"worker exited: {self._stderr_tail()}")
            buf += chunk
            if length is None and len(buf) == 4:
                length = struct.unpack(">I", buf)[0]
                need = 4 + length
        return json.loads(buf[4:])

    def _stderr_tail(self) -> str:
        self.kill()
        try:
            return self.proc.stderr.read()[-2000:].decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def request(self, req: dict[str, Any], timeout: float, payload: bytes = b"") -> dict[str, Any]:
        """Send a request (and the raw bytes it announces, the hidden tests) and read the
        reply."""
        data = json.dumps(req).encode()
        try:
            self.proc.stdin.write(struct.pack(">I", len(data)) + data + payload)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise WorkerError(f"worker gone: {exc}") from exc
        return self._read(timeout)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        for stream in (self.proc.stdin,):
            try:
                stream.close()  # EOF makes the worker kill its program and exit
            except OSError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass


class SandboxClosed(RuntimeError):
    pass


class Sandbox:
    """Runs complete Python programs with every protection the host allows.

    Parallelism is bounded by the number of workers (default: one per core); each worker forks a
    fresh, locked-down child per program, so the per-program cost is a few forks, not a process
    start-up. A call waits for a free worker, or starts one; when no worker can be started, the
    waiting calls fail with a ``sandbox_error`` result: nothing waits forever.
    """

    def __init__(self, config: SandboxConfig) -> None:
        if not isinstance(config, SandboxConfig):
            raise TypeError(f"Sandbox takes a SandboxConfig, got {type(config).__name__}")
        self.config = config
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._idle: list[_Worker] = []
        self._workers: list[_Worker] = []
        self._starting = 0
        self._start_error: str | None = None
        self._start_error_until = 0.0
        self._spec: launcher.LaunchSpec | None = None
        self._mechanism: str | None = None
        self._missing: list[str] = []
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        _LIVE.add(self)

    # ------------------------------------------------------------------ mechanism
    @property
    def mechanism(self) -> str:
        self._ensure_mechanism()
        return self._mechanism or "fallback"

    @property
    def missing_protections(self) -> list[str]:
        self._ensure_mechanism()
        return list(self._missing)

    def _ensure_mechanism(self) -> None:
        with self._lock:
            if self._mechanism is not None:
                return
            if self._closed:
                raise SandboxClosed("sandbox is closed")
            wanted = self.config.mechanism
            errors = []
            if wanted in ("auto", "bwrap") and launcher.bwrap_available():
                try:
                    self._adopt("bwrap", launcher.bwrap_spec(self.config))
                    return
                except (WorkerError, OSError) as exc:
                    errors.append(f"bwrap: {exc}")
            elif wanted == "bwrap":
                errors.append("bwrap: not installed (apt-get install bubblewrap)")
            if wanted == "bwrap":
                raise WorkerError("; ".join(errors))
            if wanted == "auto" and not self.config.allow_fallback:
                from harness.cluster import userns_note

                why = "; ".join(errors) or "bubblewrap is not installed (apt-get bubblewrap)"
                raise SandboxRefused(
                    f"sandbox: bubblewrap cannot run here ({why}{userns_note()}); set "
                    f"sandbox.allow_fallback=true to run code with the weaker fallback isolation "
                    f"(no private network, pid or mount namespaces), or run on nodes that allow "
                    f"unprivileged user namespaces"
                )
            self._adopt("fallback", launcher.fallback_spec(self.config))
            log.warning(
                "sandbox: bubblewrap unavailable (%s); fallback is missing protections: %s",
                "; ".join(errors) or "not installed",
                ", ".join(self._missing) or "none",
            )

    def _adopt(self, mechanism: str, spec: launcher.LaunchSpec) -> None:
        first = _Worker(spec)  # proves the launch works before we commit to it
        missing = list(spec.missing)
        if not first.info.get("userns"):
            missing += ["pid_isolation", "private_tmp", "nproc_per_program"]
        if not first.info.get("ipc"):
            missing.append("ipc_isolation")  # System V objects outlive a program
            if mechanism == "fallback":
                missing += ["network", "hidden_host_files"]
        if launcher.is_root() and first.info.get("uid") == 0:
            missing.append("unprivileged_uid")
        self._spec, self._mechanism = spec, mechanism
        self._missing = sorted(set(missing))
        self._workers.append(first)
        self._idle.append(first)
        if self._missing and mechanism == "bwrap":
            log.warning("sandbox: bwrap is missing protections: %s", ", ".join(self._missing))

    # ------------------------------------------------------------------ workers
    def start(self) -> None:
        """Start every worker now (otherwise they start on first use)."""
        self._ensure_mechanism()
        with self._lock:
            need = self.config.n_workers - len(self._workers) - self._starting
            self._starting += max(need, 0)
        for _ in range(max(need, 0)):
            self._start_worker(hand_over=False)

    def _start_worker(self, hand_over: bool) -> _Worker | None:
        """Start one worker (its slot already counted in ``_starting``); hand it to the caller
        or put it in the idle list. A failure is remembered so that waiters fail at once."""
        try:
            worker = _Worker(self._spec)
        except (WorkerError, OSError) as exc:
            with self._cond:
                self._starting -= 1
                self._start_error = f"could not start a sandbox worker: {exc}"
                self._start_error_until = time.monotonic() + RESTART_BACKOFF_S
                self._cond.notify_all()
            log.error("sandbox: %s", self._start_error)
            if hand_over:
                raise WorkerError(self._start_error) from exc
            return None
        with self._cond:
            self._starting -= 1
            self._start_error = None
            if self._closed:
                closed = True
            else:
                closed = False
                self._workers.append(worker)
                if not hand_over:
                    self._idle.append(worker)
                    self._cond.notify()
        if closed:
            worker.kill()
            raise SandboxClosed("sandbox is closed")
        return worker if hand_over else None

    def _acquire(self) -> _Worker:
        self._ensure_mechanism()
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxClosed("sandbox is closed")
                if self._idle:
                    return self._idle.pop()
                if len(self._workers) + self._starting < self.config.n_workers:
                    if self._start_error and time.monotonic() < self._start_error_until:
                        raise WorkerError(self._start_error)
                    self._starting += 1
                    break
                if not self._workers and self._start_error:
                    raise WorkerError(self._start_error)
                self._cond.wait(ACQUIRE_POLL_S)
        return self._start_worker(hand_over=True)

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._cond:
            if healthy and not self._closed and worker.alive():
                self._idle.append(worker)
                self._cond.notify()
                return
        worker.kill()
        with self._cond:
            if worker in self._workers:
                self._workers.remove(worker)
            # The freed slot lets a waiter start a replacement (or learn that none starts).
            self._cond.notify()

    # ------------------------------------------------------------------ running
    def run_sync(
        self,
        program: str,
        *,
        timeout_s: float | None = None,
        cpu_s: float | None = None,
        stdin: str | None = None,
        tests: str | None = None,
        entry_point: str | None = None,
    ) -> ExecResult:
        """Run ``program``; with ``tests`` (grading mode), the hidden tests in a process of
        their own against the program's answers, passing only on evidence that all of them
        ran. ``entry_point``: the function under test, which the tests take from the program
        even when it bears a builtin's name (MBPP's ``sum``); every other builtin name the
        tests use is the genuine builtin."""
        timeout = float(timeout_s) if timeout_s else self.config.timeout_s
        limits = self.config.limits(timeout, cpu_s)
        req = {"program": program, "timeout_s": timeout, "limits": limits, "stdin": stdin}
        payload = b""
        if tests is not None:
            # The tests follow the request as raw bytes that the worker hands on to the tests
            # process without reading them (see worker.py).
            head = json.dumps({"entry_point": entry_point}) + "\n"
            payload = (head + tests).encode("utf-8", "surrogatepass")
            req["tests_bytes"] = len(payload)
        start = time.monotonic()
        try:
            worker = self._acquire()
        except (WorkerError, OSError, RuntimeError) as exc:
            return self._error(f"sandbox unavailable: {exc}", start)
        healthy = False
        try:
            raw = worker.request(req, timeout + BACKSTOP_GRACE_S, payload)
            healthy = "worker_error" not in raw
        except WorkerError as exc:
            return self._error(f"worker failed: {exc}", start)
        finally:
            self._release(worker, healthy)
        if "worker_error" in raw:
            return self._error(raw["worker_error"], start)
        result = classify(raw, timeout, limits)
        result.missing_protections = list(self._missing)
        return result

    async def run(
        self,
        program: str,
        *,
        timeout_s: float | None = None,
        cpu_s: float | None = None,
        stdin: str | None = None,
        tests: str | None = None,
        entry_point: str | None = None,
    ) -> ExecResult:
        with self._lock:
            if self._closed:
                return self._error("sandbox unavailable: sandbox is closed", time.monotonic())
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    self.config.n_workers, thread_name_prefix="sandbox"
                )
            executor = self._executor
        loop = asyncio.get_running_loop()
        start = time.monotonic()
        try:
            return await loop.run_in_executor(
                executor,
                lambda: self.run_sync(
                    program,
                    timeout_s=timeout_s,
                    cpu_s=cpu_s,
                    stdin=stdin,
                    tests=tests,
                    entry_point=entry_point,
                ),
            )
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if self._closed and task is not None and not task.cancelling():
                # Our own close() cancelled the queued call: an error result, not a cancel.
                return self._error("sandbox unavailable: sandbox is closed", start)
            raise
        except RuntimeError as exc:  # the executor was shut down between the check and here
            return self._error(f"sandbox unavailable: {exc}", start)

    def _error(self, detail: str, start: float) -> ExecResult:
        return ExecResult(
            "sandbox_error",
            wall_s=time.monotonic() - start,
            detail=detail,
            missing_protections=list(self._missing),
        )

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            workers = list(self._workers)
            self._workers, self._idle = [], []
            self._cond.notify_all()
        for worker in workers:
            worker.kill()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter may be half torn down
            pass


@atexit.register
def _close_all() -> None:
    for sandbox in list(_LIVE):
        sandbox.close()
