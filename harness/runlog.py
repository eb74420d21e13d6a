"""Each run's log lines go to its own ``harness.log``, also when several sweep points run at
once on one event loop (the concurrent launcher).

A context variable names the run a piece of code works for; asyncio copies it into every task
that run creates, so a filter on one shared root handler per run sends each record to the
right file. Hydra's own job logging only writes the console (conf/hydra/job_logging).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from pathlib import Path

LOG_NAME = "harness.log"
FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("harness_run", default=None)


class _ForRun(logging.Filter):
    def __init__(self, run: str) -> None:
        super().__init__()
        self.run = run

    def filter(self, record: logging.LogRecord) -> bool:
        return _current.get() == self.run


class RunLog:
    """The open ``harness.log`` of one run."""

    def __init__(self, path: Path, handler: logging.Handler) -> None:
        self.path = path
        self._handler = handler

    def file_only(self, logger: logging.Logger, level: int, msg: str) -> None:
        """A line for the file alone: for what the CLI also prints as its one-line error, so
        the console does not show it twice."""
        self._handler.handle(logger.makeRecord(logger.name, level, "", 0, msg, None, None))


@contextlib.contextmanager
def run_log(run_dir: str | Path) -> Iterator[RunLog]:
    """Within this block (and the tasks it starts), log records also go to RUN_DIR/harness.log."""
    path = Path(run_dir) / LOG_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(Path(run_dir).resolve())
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(_ForRun(key))
    root = logging.getLogger()
    root.addHandler(handler)
    token = _current.set(key)
    try:
        yield RunLog(path, handler)
    finally:
        _current.reset(token)
        root.removeHandler(handler)
        handler.close()
