"""A process pool for scoring checks whose time limit is the check's own running time.

Own code, because ``concurrent.futures.ProcessPoolExecutor`` cannot do what grading needs:
``asyncio.wait_for`` around ``run_in_executor`` counts the time a check waits in the queue (a
correct answer queued behind slow checks was scored wrong), a stuck worker cannot be killed
and replaced without breaking the whole pool, and interpreter exit waits for a hung check.

Here each of ``workers`` slots is a daemon thread that owns one worker process. A check's clock
starts when its worker receives it; it is measured in CPU seconds of that worker (machine load
does not stretch it), with a wall-time backstop for a check that blocks without computing. A
worker over its limit is killed (SIGKILL) and the slot starts a fresh one for the next check,
its start-up (imports) counted against no check. Slots are daemon threads and the workers are
killed at ``close()`` and at interpreter exit, so nothing outlives a run or delays the exit.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import importlib
import logging
import os
import queue
import signal
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger("harness.scoring")

POLL_S = 0.05
_CLOCK_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_LIVE: weakref.WeakSet[CheckPool] = weakref.WeakSet()


class CheckTimeout(Exception):
    """The check used up its time; its worker was killed and is being replaced."""


class CheckError(Exception):
    """The check could not be run (its worker died or could not start, the pool is closed)."""


class _WorkerDied(Exception):
    pass


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) of a process so far; None where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICK
    except (OSError, IndexError, ValueError):
        return None


def process_identity(pid: int) -> str | None:
    """pid and start time: a pid the kernel reused for another process does not match."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return f"{pid}:{int(fh.read().rsplit(b')', 1)[1].split()[19])}"
    except (OSError, IndexError, ValueError):
        return None


def _watch_harness(identity: str | None) -> None:
    """End this worker when the harness is gone. A harness killed with SIGKILL runs no cleanup,
    and the forkserver (this process's parent) outlives it, so the parent is no guide."""
    if identity is None:
        return
    pid = int(identity.split(":")[0])
    while process_identity(pid) == identity:
        time.sleep(1.0)
    os._exit(1)


def _serve(conn: Any, warm: Sequence[str], harness: str | None = None) -> None:
    """A worker process: import the slow modules once, then run checks one at a time."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the harness's; it kills us
    threading.Thread(target=_watch_harness, args=(harness,), daemon=True).start()
    try:
        for name in warm:
            importlib.import_module(name)
    except BaseException as exc:  # noqa: BLE001 - reported to the slot, which gives up
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            fn, args = conn.recv()
        except (EOFError, OSError):
            return
        try:
            conn.send(("ok", fn(*args)))
        except BaseException as exc:  # noqa: BLE001 - the check's own error, not the pool's
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Slot:
    def __init__(self, pool: CheckPool, index: int) -> None:
        self.pool = pool
        self.proc: Any = None
        self.conn: Any = None
        self.thread = threading.Thread(target=self.loop, name=f"check-slot-{index}", daemon=True)

    def loop(self) -> None:
        while True:
            job = self.pool._jobs.get()
            if job is None:
                return
            fn, args, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(self.run(fn, args))
            except BaseException as exc:  # noqa: BLE001 - delivered to the caller
                future.set_exception(exc)

    def start_worker(self) -> None:
        pool = self.pool
        parent, child = pool._mp.Pipe()
        proc = pool._mp.Process(target=_serve, args=(child, pool.warm, pool.harness), daemon=True)
        proc.start()
        child.close()
        self.proc, self.conn = proc, parent
        if not parent.poll(pool.start_timeout_s):
            self.kill()
            raise CheckError(f"a scoring worker did not start in {pool.start_timeout_s:g}s")
        try:
            kind, info = parent.recv()
        except (EOFError, OSError) as exc:
            self.kill()
            raise CheckError("a scoring worker died while starting") from exc
        if kind != "ready":
            self.kill()
            raise CheckError(f"a scoring worker could not start: {info}")

    def run(self, fn: Callable, args: tuple) -> Any:
        try:
            return self.run_once(fn, args)
        except _WorkerDied:
            # The worker may have died before the check (killed from outside, out of memory
            # during the previous check): one more try on a fresh worker.
            try:
                return self.run_once(fn, args)
            except _WorkerDied as exc:
                raise CheckError("the check's worker died (twice)") from exc

    def run_once(self, fn: Callable, args: tuple) -> Any:
        pool = self.pool
        if pool._closed:
            raise CheckError("the scoring pool is closed")
        if self.proc is None or not self.proc.is_alive():
            self.kill()
            self.start_worker()
        proc, conn = self.proc, self.conn
        try:
            conn.send((fn, args))
            t0 = time.monotonic()
            cpu0 = cpu_seconds(proc.pid) or 0.0
            while True:
                if conn.poll(POLL_S):
                    kind, value = conn.recv()
                    if kind == "ok":
                        return value
                    raise CheckError(str(value))
                if pool._closed:
                    raise CheckError("the scoring pool was closed during the check")
                if not proc.is_alive():
                    raise EOFError
                wall = time.monotonic() - t0
                cpu = cpu_seconds(proc.pid)
                used = (cpu - cpu0) if cpu is not None else wall
                if used > pool.timeout_s or wall > pool.wall_factor * pool.timeout_s:
                    self.kill()
                    raise CheckTimeout(
                        f"check stopped after {used:.1f}s CPU, {wall:.1f}s wall "
                        f"(limit {pool.timeout_s:g}s CPU)"
                    )
        except (EOFError, OSError, ValueError, TypeError) as exc:
            # The worker died (or close() took it): the next check gets a fresh one.
            self.kill()
            if pool._closed:
                raise CheckError("the scoring pool was closed during the check") from exc
            raise _WorkerDied from exc

    def kill(self) -> None:
        proc, conn = self.proc, self.conn
        self.proc = self.conn = None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()
        if proc is not None:
            with contextlib.suppress(OSError, AttributeError):
                if proc.pid is not None:
                    os.kill(proc.pid, signal.SIGKILL)
            with contextlib.suppress(Exception):
                proc.join(5)


class CheckPool:
    """``await pool.call(fn, *args)`` runs ``fn(*args)`` in a worker process (``fn`` must be
    importable by name). Raises CheckTimeout or CheckError; ``fn``'s own exceptions arrive as
    CheckError with their message."""

    def __init__(
        self,
        workers: int,
        timeout_s: float,
        wall_factor: float,
        start_timeout_s: float,
        warm: Sequence[str] = (),
    ) -> None:
        import multiprocessing as mp

        self.timeout_s = timeout_s
        self.wall_factor = wall_factor
        self.start_timeout_s = start_timeout_s
        self.warm = tuple(warm)
        self.harness = process_identity(os.getpid())
        # forkserver: the harness process may hold threads (torch, asyncio executors).
        self._mp = mp.get_context("forkserver")
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._closed = False
        self._slots = [_Slot(self, i) for i in range(max(1, workers))]
        for slot in self._slots:
            slot.thread.start()
        _LIVE.add(self)

    def submit(self, fn: Callable, *args: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        if self._closed:
            future.set_exception(CheckError("the scoring pool is closed"))
        else:
            self._jobs.put((fn, args, future))
        return future

    async def call(self, fn: Callable, *args: Any) -> Any:
        return await asyncio.wrap_future(self.submit(fn, *args))

    def worker_pids(self) -> list[int]:
        return [s.proc.pid for s in self._slots if s.proc is not None and s.proc.pid]

    def close(self) -> None:
        """Kill every worker now; queued checks fail with CheckError."""
        if self._closed:
            return
        self._closed = True
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job[2].set_exception(CheckError("the scoring pool is closed"))
        for _ in self._slots:
            self._jobs.put(None)
        for slot in self._slots:
            slot.kill()


@atexit.register
def _close_all() -> None:
    for pool in list(_LIVE):
        pool.close()
