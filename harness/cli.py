"""``python -m harness``: one evaluation, or a sweep with ``-m``.

One event loop for the whole process: every run (every point of a sweep) executes on the same
``asyncio.Runner``, so engines that must live on one loop (vLLM's ``AsyncLLM``) stay loaded and
usable across the points; they are shut down once, when the process ends (also on Ctrl-C and
SIGTERM). The sweep launcher (``hydra/launcher=harness``, the default) runs points one after
another or, with ``hydra.launcher.concurrency=N``, N at once on that loop.

Exit status:

- 0: every run finished (a finished run may still have wrong answers; see summary.json)
- 2: bad input (an unknown knob value, a missing data file, a model that cannot be loaded, an
  engine that refuses the run, e.g. a bad API key); one line on stderr says what is wrong. In a
  sweep the other points still run and the status is 2 at the end.
- 3: some problems were left unrecorded because the engine was down (or died: one line quotes
  its reason and the run stops at once); rerun to retry them
- 130: interrupted (Ctrl-C or SIGTERM); finished problems are saved, rerun to resume
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

import harness.cluster  # noqa: F401  (registers the job-GPUs resolver before Hydra composes)
import harness.identity  # noqa: F401  (registers the run-id resolver before Hydra composes)
from harness.errors import HarnessError

log = logging.getLogger("harness")
# An absolute path: with an editable install Hydra would otherwise look for a `conf` module.
CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
EXIT_BAD_INPUT, EXIT_NOT_RECORDED, EXIT_INTERRUPTED = 2, 3, 130
#: the Summary fields (harness.rows) printed as one JSON line when a run ends
SUMMARY_KEYS = (
    "benchmark",
    "model",
    "mas",
    "n",
    "accuracy",
    "stderr",
    "calls",
    "completion_tokens",
    "wall_s",
)


@dataclass
class SweepState:
    """What the points of this process's sweep reported, for the final exit status."""

    failures: list[str] = field(default_factory=list)
    not_recorded: list[str] = field(default_factory=list)


STATE = SweepState()
# Set by the concurrent launcher: the task function then returns the point unstarted.
DEFER: contextvars.ContextVar[bool] = contextvars.ContextVar("harness_defer", default=False)
_runner: asyncio.Runner | None = None


def loop_runner() -> asyncio.Runner:
    """The process's one event loop (created on first use, closed at exit)."""
    global _runner
    if _runner is None:
        _runner = asyncio.Runner()
        atexit.register(shutdown)
    return _runner


def shutdown() -> None:
    """Close every engine kept loaded across runs, then the loop."""
    global _runner
    if _runner is None:
        return
    from harness.engines import close_all

    try:
        _runner.run(close_all())
    except BaseException as exc:  # noqa: BLE001 - shutting down: report, never hang
        log.warning("closing engines failed: %s", exc)
    _runner.close()
    _runner = None


def process_start_time() -> float | None:
    """Wall-clock time this process started (Linux), so imports count as start-up cost."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        btime = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


@dataclass
class Point:
    """One run of the sweep (or the single run), ready to execute on the shared loop."""

    cfg: DictConfig
    run_dir: str
    label: str
    multirun: bool

    async def execute(self) -> float | None:
        from harness.rows import Summary
        from harness.runner import run_async

        try:
            summary = Summary.from_json(
                await run_async(self.cfg, self.run_dir, process_start_time())
            )
        except HarnessError as exc:
            if not self.multirun:
                raise
            log.error("%s: %s", self.label or self.run_dir, exc)
            if getattr(exc, "exit_code", None) == EXIT_NOT_RECORDED:  # the engine went down
                STATE.not_recorded.append(f"{self.label or self.run_dir}: {exc}")
            else:
                STATE.failures.append(str(exc))
            return None
        pending = summary.not_recorded_engine_errors
        if pending:
            STATE.not_recorded.append(
                f"{self.label or self.run_dir}: {pending} problems hit engine errors and were "
                f"not recorded; rerun to retry them"
            )
        print(json.dumps({k: getattr(summary, k) for k in SUMMARY_KEYS}), flush=True)
        log.info("summary: %s", os.path.join(self.run_dir, "summary.json"))
        return summary.accuracy  # for Hydra sweepers that optimise a value


def _task(cfg: DictConfig) -> Any:
    hc = HydraConfig.get()
    point = Point(
        cfg,
        hc.runtime.output_dir,
        hc.job.override_dirname,
        hc.mode == RunMode.MULTIRUN,
    )
    if DEFER.get():
        return point
    try:
        return loop_runner().run(point.execute())
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        # 3 when the engine went down (EngineDown): the run is saved and resumable
        sys.exit(getattr(exc, "exit_code", EXIT_BAD_INPUT))


# Launchers that run points in other processes (hydra/launcher=parallel, submitit) pickle the
# task function. Undecorated and module-level, it is pickled by name; decorated, it would be
# pickled by value with its globals, and DEFER (a ContextVar) cannot be pickled.
_hydra_main = hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")(_task)


def _sigterm_as_interrupt(signum: int, frame: Any) -> None:
    # A scheduler's SIGTERM ends the run like Ctrl-C: episodes cancelled and awaited, summary
    # written, engines (and their worker processes) shut down.
    signal.raise_signal(signal.SIGINT)


def main() -> None:
    t0 = time.time()
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        # A background job of a non-interactive shell (a batch script's `cmd &`) starts with
        # SIGINT ignored; then Python has no KeyboardInterrupt and a scheduler's SIGTERM
        # (turned into SIGINT above) would be swallowed: the run went on to its end.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _hydra_main()
    except KeyboardInterrupt:
        shutdown()
        print(
            "error: interrupted; finished problems are saved, run the same command again to resume",
            file=sys.stderr,
        )
        sys.exit(EXIT_INTERRUPTED)
    finally:
        shutdown()
    if STATE.failures:
        print(
            f"error: {len(STATE.failures)} sweep point(s) failed: {STATE.failures[0]}",
            file=sys.stderr,
        )
        sys.exit(EXIT_BAD_INPUT)
    if STATE.not_recorded:
        print(f"error: {STATE.not_recorded[0]}", file=sys.stderr)
        sys.exit(EXIT_NOT_RECORDED)
    log.debug("process wall time %.1fs", time.time() - t0)
