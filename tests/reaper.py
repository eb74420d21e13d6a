"""``python tests/reaper.py REPORT GRACE CMD...``: runs CMD as its child while being the
subreaper of everything CMD starts, and reports what outlived CMD.

A process orphaned below CMD (a sandbox worker, an engine process whose parent died) is
re-parented to this process instead of to init, so none is missed, however short-lived its
parent was: polling a process tree misses a child started and orphaned between two polls.
When CMD has exited, this waits up to GRACE seconds for every such process to end (reaping
them) and writes REPORT: ``{"code": CMD's exit status, "left": [[pid, cmdline], ...]}``.
Signals for CMD go to CMD's own pid (this process's only child at first); this process keeps
the signal dispositions it inherited, so CMD inherits them too (SIGINT ignored stays ignored).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import time

import psutil

PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def _reap() -> None:
    """Collect every child that has exited (orphans re-parented here end as zombies)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _running(p: psutil.Process) -> bool:
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def main() -> int:
    report, grace, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    code = subprocess.Popen(cmd).wait()
    me = psutil.Process()
    deadline = time.monotonic() + grace
    while True:
        _reap()
        left = [p for p in me.children(recursive=True) if _running(p)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    rows = []
    for p in left:
        try:
            rows.append([p.pid, " ".join(p.cmdline())])
        except psutil.Error:
            pass
        try:
            p.kill()  # leave nothing behind for the next test either
        except psutil.Error:
            pass
    with open(report, "w", encoding="utf-8") as f:
        json.dump({"code": code, "left": rows}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
