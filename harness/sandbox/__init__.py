"""Sandboxed execution of untrusted Python programs (used by the executor role and code scorers).

    sandbox = Sandbox(settings.sandbox)                       # a SandboxConfig (RunSettings)
    result = await sandbox.run(program)                            # any program
    result = await sandbox.run(solution, tests=hidden_tests,       # grading mode
                               cpu_s=cpu, timeout_s=wall)

See harness/sandbox/README.md for the isolation model, grading mode and the fallback.
"""

from harness.sandbox.config import SandboxConfig
from harness.sandbox.result import VERDICTS, ExecResult
from harness.sandbox.sandbox import Sandbox

__all__ = ["VERDICTS", "ExecResult", "Sandbox", "SandboxConfig"]
