"""Progress of a run: a live bar on a terminal, a few log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("harness")


class Progress:
    def __init__(
        self,
        total: int,
        done: int,
        correct: int,
        label: str,
        mode: Any = "auto",
        on_update: Callable[[int, int, int, int, float], None] | None = None,
    ) -> None:
        self.total, self.done, self.correct = total, done, correct
        self.on_update = on_update  # (done, total, correct, tokens, elapsed_s), e.g. a tracker
        self.start_done = done
        self.tokens = 0
        self.t0 = time.perf_counter()
        self.label = label
        interactive = sys.stderr.isatty() if mode in ("auto", None) else bool(mode)
        self._bar = None
        self._next_log = 0.1
        if interactive and total > done:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("acc {task.fields[acc]}  {task.fields[tps]} tok/s"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._task = self._bar.add_task(label, total=total, completed=done, acc="-", tps="0")
            self._bar.start()

    def update(self, correct: bool, completion_tokens: int) -> None:
        self.done += 1
        self.correct += int(bool(correct))
        self.tokens += completion_tokens
        acc = f"{self.correct / self.done:.3f}"
        elapsed = time.perf_counter() - self.t0
        tps = f"{self.tokens / max(1e-9, elapsed):.0f}"
        if self.on_update is not None:
            self.on_update(self.done, self.total, self.correct, self.tokens, elapsed)
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, acc=acc, tps=tps)
        elif self.done / self.total >= self._next_log or self.done == self.total:
            # Non-interactive logs: about ten lines per run, not one per problem.
            self._next_log = (int(self.done / self.total * 10) + 1) / 10
            log.info(
                "%s: %d/%d done, accuracy %s, %s tok/s", self.label, self.done, self.total, acc, tps
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
