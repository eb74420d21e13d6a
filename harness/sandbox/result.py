"""What one program run produced, and how the worker's raw report becomes a verdict."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from typing import Any

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


def classify(raw: dict[str, Any], timeout_s: float, limits: dict[str, Any]) -> ExecResult:
    """Turn the worker's reply into an ExecResult with a precise verdict.

    The exit status and setup errors come from init's channel (``status``), which the program
    never holds; the program's own reports (``reports``) only explain a failure. In grading
    mode a pass also needs ``completed``: the worker saw the run's nonce after the last test.
    """
    base = {"stdout": raw.get("stdout", ""), "stderr": raw.get("stderr", "")}
    wall = float(raw.get("wall_s", 0.0))
    trusted = raw.get("status", [])
    exc = next((r for r in raw.get("reports", []) if "exc" in r), None)
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
    if setup is not None:
        return ExecResult("sandbox_error", wall_s=wall, detail=setup["setup_error"], **base)
    if status_rep is None:
        return ExecResult(
            "sandbox_error", wall_s=wall, detail="no exit status from the sandbox", **base
        )
    status = int(status_rep["status"])
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        code = -sig
        cpu_limit = limits.get("cpu_s") or 0
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_limit and cpu >= cpu_limit):
            return ExecResult(
                "timeout",
                exit_code=code,
                wall_s=wall,
                detail=f"cpu time limit {cpu_limit}s exceeded",
                **base,
            )
        if sig == signal.SIGXFSZ:
            return ExecResult(
                "failed",
                exit_code=code,
                wall_s=wall,
                detail=f"file size limit {limits.get('fsize_mb')} MB exceeded",
                **base,
            )
        return ExecResult(
            "crashed", exit_code=code, wall_s=wall, detail=f"killed by {_signal_name(sig)}", **base
        )
    code = os.WEXITSTATUS(status)
    if code == 0 and raw.get("grading") and not raw.get("completed"):
        detail = exc["detail"] if exc is not None else NOT_COMPLETED
        return ExecResult("failed", exit_code=0, wall_s=wall, detail=detail, **base)
    if code == 0:
        return ExecResult("passed", exit_code=0, wall_s=wall, checks=raw.get("checks"), **base)
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
