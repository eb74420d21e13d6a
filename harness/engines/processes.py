"""No engine process may outlive the harness.

vLLM runs its engine core (and, on CPU or with tensor parallelism, its workers) in child
processes. Measured here: a vLLM process killed with SIGTERM mid-generation left them running,
holding memory (and on a cluster, GPUs). So each engine remembers the processes that appeared
when it started, and :func:`reap` ends them (SIGTERM, then SIGKILL) after the engine's own
shutdown; an ``atexit`` hook does that for every engine still open at exit, and a SIGTERM
handler does it when nobody else handles SIGTERM (the CLI turns SIGTERM into an interrupt and
closes its engines itself; scripts and notebooks get this one).

A SIGKILL (a scheduler's forced stop, the OOM killer) runs none of that, and vLLM's engine core
does not notice its parent's death (vllm-project/vllm#55510, open). So a :class:`Watchdog`, a
small process of its own session, holds a pipe from the harness: when the pipe closes without a
word (the harness died), it ends the engine's processes itself.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import psutil

log = logging.getLogger(__name__)

_closers: dict[int, Callable[[], None]] = {}  # id(engine) -> synchronous shutdown
_hooks_installed = False


def descendants() -> set[int]:
    """This process's descendants, but multiprocessing's resource tracker: it ends by itself
    when we do, after freeing the shared memory vLLM left registered; ending it early leaks it."""
    try:
        pids = {p.pid for p in psutil.Process().children(recursive=True)}
    except psutil.Error:
        return set()
    return pids - {_resource_tracker_pid()}


def reap(pids: set[int], timeout: float = 10.0) -> list[int]:
    """End the processes ``pids`` and their descendants: SIGTERM, then SIGKILL after
    ``timeout``. Returns the pids that had to be killed."""
    procs: list[psutil.Process] = []
    for pid in pids - {_resource_tracker_pid()}:
        try:
            p = psutil.Process(pid)
        except psutil.Error:
            continue
        procs.append(p)
        try:
            procs.extend(p.children(recursive=True))
        except psutil.Error:  # a zombie has no children to list
            pass
    alive = [p for p in procs if _alive(p)]
    for p in procs:  # an ended child stays a zombie until its parent waits for it
        if p not in alive:
            try:
                p.wait(timeout=0)
            except (psutil.Error, psutil.TimeoutExpired):
                pass
    for p in alive:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, still = psutil.wait_procs(alive, timeout=timeout)
    for p in still:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(still, timeout=5)
    return [p.pid for p in still]


def _resource_tracker_pid() -> int | None:
    from multiprocessing import resource_tracker

    return getattr(resource_tracker._resource_tracker, "_pid", None)


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def register(owner: Any, close: Callable[[], None]) -> None:
    """Run ``close`` (synchronous, idempotent) at exit or on SIGTERM unless ``unregister``
    was called first."""
    _closers[id(owner)] = close
    _install_hooks()


def unregister(owner: Any) -> None:
    _closers.pop(id(owner), None)


def close_registered() -> None:
    while _closers:
        _, close = _closers.popitem()
        try:
            close()
        except Exception as exc:  # exiting: report, never hang or mask the real error
            log.warning("engine shutdown failed: %s", exc)


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(close_registered)
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous not in (signal.SIG_DFL, None):
        return  # someone (the CLI) handles SIGTERM and closes engines on its way out

    def on_sigterm(signum: int, frame: Any) -> None:
        close_registered()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)


# Runs in the watchdog process: the targets as pid:create_time, so a reused pid is left alone.
_WATCHDOG_MAIN = r"""
import sys, psutil
targets = [a.split(":") for a in sys.argv[1:]]
if sys.stdin.readline().strip() == "done":
    sys.exit(0)
procs = []
for pid, created in targets:
    try:
        p = psutil.Process(int(pid))
        if abs(p.create_time() - float(created)) < 0.01:
            procs += [p, *p.children(recursive=True)]
    except psutil.Error:
        pass
for p in procs:
    try:
        p.terminate()
    except psutil.Error:
        pass
_, still = psutil.wait_procs(procs, timeout=10)
for p in still:
    try:
        p.kill()
    except psutil.Error:
        pass
"""


class Watchdog:
    """Ends ``pids`` (and their descendants) if this process dies without calling
    :meth:`release`, however it dies."""

    def __init__(self, pids: set[int]) -> None:
        targets = []
        for pid in sorted(pids):
            try:
                targets.append(f"{pid}:{psutil.Process(pid).create_time()}")
            except psutil.Error:
                continue
        self._proc: subprocess.Popen | None = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG_MAIN, *targets],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # outlives a kill of our process group, to clean up after it
            close_fds=True,
        )

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def release(self) -> None:
        """The processes were ended (or handed on) properly: the watchdog leaves quietly."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.write(b"done\n")
            proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
