"""The watchdog that ends an engine's processes when the harness dies by SIGKILL (no vLLM
needed: a real parent process, a real child, a real kill -9)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psutil

from tests.conftest import ROOT

PARENT = """
import subprocess, sys, time
from harness.engines.processes import Watchdog
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
dog = Watchdog({child.pid})
print(child.pid, dog.pid, flush=True)
if sys.argv[1] == "release":
    dog.release()
    print("released", flush=True)
time.sleep(600)
"""


def _start(mode: str) -> tuple[subprocess.Popen, int, int]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PARENT, mode], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    child, dog = (int(x) for x in proc.stdout.readline().split())
    return proc, child, dog


def _gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_kill_9_of_the_parent_ends_the_watched_processes():
    proc, child, dog = _start("watch")
    assert psutil.pid_exists(child)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _gone(child, timeout=30), "the watched process outlived its parent's kill -9"
    assert _gone(dog, timeout=30), "the watchdog stayed behind"


def test_released_watchdog_leaves_the_processes_alone():
    proc, child, dog = _start("release")
    assert proc.stdout.readline().strip() == "released"
    assert _gone(dog, timeout=30)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(1)
    try:
        assert psutil.Process(child).status() != psutil.STATUS_ZOMBIE
    finally:
        psutil.Process(child).kill()
