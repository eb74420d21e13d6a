"""What one program run produced, and how the worker's raw report becomes a verdict."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from typing import Any

from harness.text import escape_surrogates

VERDICTS = ("passed", "failed", "timeout", "memory", "crashed", "sandbox_error")
NOT_COMPLETED = (
    "the program ended with exit status 0 before every hidden test ran (no completion report)"
)


@dataclass
class ExecResult:
    verdict: str
    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    wall_s: float = 0.0
    detail: str | None = None
    missing_protections: list[str] = field(default_factory=list)
    cpu_s: float = 0.0  # CPU time of the program (and the children it waited for)
    checks: int | None = None  # grading mode: how many hidden-test comparisons ran

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def _escaped(text: str) -> str:
    return escape_surrogates(text)[0]


def _signalled(
    status: int, cpu: float, wall: float, limits: dict[str, Any], base: dict[str, Any]
) -> ExecResult:
    sig = os.WTERMSIG(status)
    code = -sig
    cpu_limit = limits.get("cpu_s") or 0
    if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_limit and cpu >= cpu_limit):
        detail = f"cpu time limit {cpu_limit}s exceeded"
        return ExecResult("timeout", exit_code=code, wall_s=wall, detail=detail, **base)
    if sig == signal.SIGXFSZ:
        detail = f"file size limit {limits.get('fsize_mb')} MB exceeded"
        return ExecResult("failed", exit_code=code, wall_s=wall, detail=detail, **base)
    detail = f"killed by {_signal_name(sig)}"
    return ExecResult("crashed", exit_code=code, wall_s=wall, detail=detail, **base)


def classify(raw: dict[str, Any], timeout_s: float, limits: dict[str, Any]) -> ExecResult:
    """Turn the worker's reply into an ExecResult with a precise verdict.

    The exit status and setup errors come from init's channel (``status``), which the program
    never holds; the program's own reports (``reports``) only explain a failure. In grading
    mode a pass needs ``completed``: the tests process's report, on a pipe only it holds, that
    every hidden test ran, and its exit status 0. Text no UTF-8 file can hold (a lone
    surrogate) is escaped here.
    """
    base = {
        "stdout": _escaped(raw.get("stdout", "")),
        "stderr": _escaped(raw.get("stderr", "")),
    }
    wall = float(raw.get("wall_s", 0.0))
    trusted = raw.get("status", [])
    exc = next((r for r in raw.get("reports", []) if "exc" in r), None)
    if exc is not None:
        exc = {"exc": str(exc.get("exc")), "detail": _escaped(str(exc.get("detail", "")))}
    setup = next((r for r in trusted if "setup_error" in r), None)
    status_rep = next((r for r in trusted if "status" in r), None)
    cpu = float(status_rep.get("cpu_s", 0.0)) if status_rep else 0.0
    base["cpu_s"] = cpu

    if raw.get("timed_out"):
        return ExecResult(
            "timeout",
            exit_code=None,
            wall_s=wall,
            detail=f"wall time limit {timeout_s:g}s exceeded",
            **base,
        )
    if raw.get("memory_exceeded_kb"):
        used = int(raw["memory_exceeded_kb"]) // 1024
        detail = (
            f"memory limit {limits.get('memory_mb')} MB exceeded by the program's processes "
            f"together ({used} MB resident)"
        )
        return ExecResult("memory", exit_code=None, wall_s=wall, detail=detail, **base)
    if setup is not None:
        return ExecResult("sandbox_error", wall_s=wall, detail=setup["setup_error"], **base)
    if status_rep is None:
        return ExecResult(
            "sandbox_error", wall_s=wall, detail="no exit status from the sandbox", **base
        )
    status = int(status_rep["status"])
    if raw.get("grading"):
        return _classify_graded(raw, status_rep, exc, wall, limits, base)
    if os.WIFSIGNALED(status):
        return _signalled(status, cpu, wall, limits, base)
    code = os.WEXITSTATUS(status)
    if code == 0:
        return ExecResult("passed", exit_code=0, wall_s=wall, checks=raw.get("checks"), **base)
    return _failed(code, exc, wall, limits, base)


def _failed(
    code: int, exc: dict | None, wall: float, limits: dict[str, Any], base: dict[str, Any]
) -> ExecResult:
    if exc is not None and exc["exc"] == "MemoryError":
        return ExecResult(
            "memory",
            exit_code=code,
            wall_s=wall,
            detail=f"memory limit {limits.get('memory_mb')} MB: {exc['detail']}",
            **base,
        )
    detail = exc["detail"] if exc is not None else f"exit code {code}"
    return ExecResult("failed", exit_code=code, wall_s=wall, detail=detail, **base)


def _classify_graded(
    raw: dict[str, Any],
    status_rep: dict[str, Any],
    exc: dict | None,
    wall: float,
    limits: dict[str, Any],
    base: dict[str, Any],
) -> ExecResult:
    """Grading mode: the solution process's status (``status``) and the tests process's
    (``tests_status``). A pass: the tests process reported completion and exited with 0."""
    status = int(status_rep["status"])
    tests_status = status_rep.get("tests_status")
    if tests_status is None:
        return ExecResult("sandbox_error", wall_s=wall, detail="no status of the tests", **base)
    tests_status = int(tests_status)
    tests_ok = os.WIFEXITED(tests_status) and os.WEXITSTATUS(tests_status) == 0
    if raw.get("completed") and tests_ok:
        return ExecResult("passed", exit_code=0, wall_s=wall, checks=raw.get("checks"), **base)
    # The solution process's own end explains the failure first (a crash, a CPU limit), unless
    # it was ended because the tests were over.
    if os.WIFSIGNALED(status) and not status_rep.get("killed_after_tests"):
        cpu = float(status_rep.get("program_cpu_s", 0.0))
        return _signalled(status, cpu, wall, limits, base)
    if os.WIFSIGNALED(tests_status):
        cpu = float(status_rep.get("tests_cpu_s", 0.0))
        return _signalled(tests_status, cpu, wall, limits, base)
    code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1
    if exc is None:
        return ExecResult("failed", exit_code=code, wall_s=wall, detail=NOT_COMPLETED, **base)
    if exc["exc"] != "MemoryError" and code == 0:
        code = os.WEXITSTATUS(tests_status) or 1
        if "before every hidden test ran" in exc["detail"]:
            code = 0  # the solution process ended with 0 before the tests were done
    return _failed(code, exc, wall, limits, base)
