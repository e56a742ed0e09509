"""Progress for long work: rich bars on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger("intake.core.progress")


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

    def grow(self, n: int) -> None:
        """More work than was known at the start."""
        self.total += n


class _Rich:
    def __init__(self, progress: object, task: object) -> None:
        self.progress, self.task = progress, task

    def advance(self, n: int = 1) -> None:
        self.progress.advance(self.task, n)  # type: ignore[attr-defined]

    def grow(self, n: int) -> None:
        total = next(t.total for t in self.progress.tasks if t.id == self.task)  # type: ignore[attr-defined]
        total = (total or 0) + n
        self.progress.update(self.task, total=total, visible=total > 0)  # type: ignore[attr-defined]

    @property
    def shown(self) -> bool:
        return bool(next(t.visible for t in self.progress.tasks if t.id == self.task))  # type: ignore[attr-defined]


Bar = _Plain | _Rich


@contextmanager
def progress(label: str, total: int) -> Iterator[Bar]:
    with bars((label, total), rich_from=20) as (bar,):
        yield bar


@contextmanager
def bars(*jobs: tuple[str, int], rich_from: int = 0) -> Iterator[tuple[Bar, ...]]:
    """One bar for each ``(label, total)``, shown together (a terminal holds one live display);
    rich bars when at least ``rich_from`` items are known at the start."""
    if sys.stderr.isatty() and sum(total for _, total in jobs) >= rich_from:
        # Deferred for start-up time: rich's progress display is loaded only on a terminal.
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True
        ) as shown:
            # A bar with nothing to count yet is not drawn (an idle poll shows none).
            yield tuple(_Rich(shown, shown.add_task(label, total=total, visible=total > 0)) for label, total in jobs)
        return
    yield tuple(_Plain(label, total) for label, total in jobs)
