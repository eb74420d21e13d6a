"""Sandboxed execution of untrusted Python programs (used by the executor role and code scorers).

    sandbox = Sandbox.from_config(cfg.sandbox)
    result = await sandbox.run(program, timeout_s=sandbox.time_limit(reference_s))

See harness/sandbox/README.md for the isolation model and the fallback.
"""

from harness.sandbox.config import SandboxConfig
from harness.sandbox.result import VERDICTS, ExecResult
from harness.sandbox.sandbox import Sandbox

__all__ = ["VERDICTS", "ExecResult", "Sandbox", "SandboxConfig"]
