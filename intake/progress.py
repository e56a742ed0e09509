"""Progress for long work: a rich bar on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("intake.progress")


class _Plain:
    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, total, 0
        self.last = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.done == self.total or now - self.last >= 5:
            self.last = now
            log.info("%s: %d/%d", self.label, self.done, self.total)


class _Rich:
    def __init__(self, progress: object, task: object) -> None:
        self.progress, self.task = progress, task

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)  # type: ignore[attr-defined]


@contextmanager
def progress(label: str, total: int) -> Iterator[_Plain | _Rich]:
    if total >= 20 and sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
        ) as bar:
            yield _Rich(bar, bar.add_task(label, total=total))
        return
    yield _Plain(label, total)
