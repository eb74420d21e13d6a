"""The Sandbox: a pool of pre-started workers (one per core) that run untrusted programs."""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import queue
import select
import signal
import struct
import subprocess
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from harness.sandbox import launcher
from harness.sandbox.config import SandboxConfig
from harness.sandbox.result import ExecResult, classify

log = logging.getLogger("harness.sandbox")

HANDSHAKE_S = 30.0
# The worker enforces the wall limit itself; this margin only catches a wedged worker.
BACKSTOP_GRACE_S = 5.0
_LIVE: weakref.WeakSet[Sandbox] = weakref.WeakSet()


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

    def request(self, req: dict[str, Any], timeout: float) -> dict[str, Any]:
        data = json.dumps(req).encode()
        try:
            self.proc.stdin.write(struct.pack(">I", len(data)) + data)
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


class Sandbox:
    """Runs complete Python programs with every protection the host allows.

    Parallelism is bounded by the number of workers (default: one per core); each worker forks a
    fresh, locked-down child per program, so the per-program cost is a few forks, not a process
    start-up.
    """

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._lock = threading.Lock()
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._workers: list[_Worker] = []
        self._spec: launcher.LaunchSpec | None = None
        self._mechanism: str | None = None
        self._missing: list[str] = []
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        _LIVE.add(self)

    @classmethod
    def from_config(cls, cfg: Any = None) -> Sandbox:
        return cls(SandboxConfig.from_any(cfg))

    # ------------------------------------------------------------------ mechanism
    @property
    def mechanism(self) -> str:
        self._ensure_mechanism()
        return self._mechanism or "fallback"

    @property
    def missing_protections(self) -> list[str]:
        self._ensure_mechanism()
        return list(self._missing)

    def time_limit(self, reference_s: float | None) -> float:
        return self.config.time_limit(reference_s)

    def _ensure_mechanism(self) -> None:
        with self._lock:
            if self._mechanism is not None:
                return
            if self._closed:
                raise RuntimeError("sandbox is closed")
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
            if mechanism == "fallback":
                missing += ["network", "hidden_home"]
        if launcher.is_root() and first.info.get("uid") == 0:
            missing.append("unprivileged_uid")
        self._spec, self._mechanism = spec, mechanism
        self._missing = sorted(set(missing))
        self._workers.append(first)
        self._idle.put(first)
        if self._missing and mechanism == "bwrap":
            log.warning("sandbox: bwrap is missing protections: %s", ", ".join(self._missing))

    # ------------------------------------------------------------------ workers
    def start(self) -> None:
        """Start every worker now (otherwise they start on first use)."""
        self._ensure_mechanism()
        with self._lock:
            need = self.config.n_workers - len(self._workers)
        if need > 0:
            with ThreadPoolExecutor(need) as pool:
                for worker in pool.map(lambda _: _Worker(self._spec), range(need)):
                    with self._lock:
                        self._workers.append(worker)
                    self._idle.put(worker)

    def _acquire(self) -> _Worker:
        self._ensure_mechanism()
        with self._lock:
            if self._closed:
                raise RuntimeError("sandbox is closed")
            spawn = len(self._workers) < self.config.n_workers and self._idle.empty()
            if spawn:
                self._workers.append(None)  # reserve the slot before the slow start
        if spawn:
            try:
                worker = _Worker(self._spec)
            except BaseException:
                with self._lock:
                    self._workers.remove(None)
                raise
            with self._lock:
                self._workers[self._workers.index(None)] = worker
            return worker
        return self._idle.get()

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if healthy and not self._closed and worker.alive():
            self._idle.put(worker)
            return
        worker.kill()
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
        if not self._closed:
            # Keep the pool full so waiters on the idle queue are not stranded.
            try:
                replacement = _Worker(self._spec)
            except (WorkerError, OSError) as exc:
                log.error("sandbox: could not restart a worker: %s", exc)
                return
            with self._lock:
                self._workers.append(replacement)
            self._idle.put(replacement)

    # ------------------------------------------------------------------ running
    def run_sync(
        self, program: str, *, timeout_s: float | None = None, stdin: str | None = None
    ) -> ExecResult:
        timeout = float(timeout_s) if timeout_s else self.config.timeout_s
        limits = self.config.limits(timeout)
        req = {"program": program, "timeout_s": timeout, "limits": limits, "stdin": stdin}
        start = time.monotonic()
        try:
            worker = self._acquire()
        except (WorkerError, OSError, RuntimeError) as exc:
            return self._error(f"sandbox unavailable: {exc}", start)
        healthy = False
        try:
            raw = worker.request(req, timeout + BACKSTOP_GRACE_S)
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
        self, program: str, *, timeout_s: float | None = None, stdin: str | None = None
    ) -> ExecResult:
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        self.config.n_workers, thread_name_prefix="sandbox"
                    )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, lambda: self.run_sync(program, timeout_s=timeout_s, stdin=stdin)
        )

    def _error(self, detail: str, start: float) -> ExecResult:
        return ExecResult(
            "sandbox_error",
            wall_s=time.monotonic() - start,
            detail=detail,
            missing_protections=list(self._missing),
        )

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers = [w for w in self._workers if w is not None]
            self._workers = []
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
