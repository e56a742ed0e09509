"""Parsing messages, in worker processes when there is enough of it to use both cores.

Parsing is pure (bytes in, dataclasses out), so it runs in a process pool while the main process
keeps the database and the archive. A worker reads the raw message from the archive itself; a
very large message is parsed in the main process, so its payload is not copied between processes.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from parsers.documents import Reading, ReadLimits, read_attachment
from parsers.mime import ParsedMessage, parse_message

INLINE_ABOVE_BYTES = 8 * 1024 * 1024


@dataclass
class ParseOutcome:
    parsed: ParsedMessage | None
    readings: list[Reading]
    error: str | None = None


def parse_raw(raw: bytes, limits: ReadLimits) -> ParseOutcome:
    try:
        parsed = parse_message(raw)
        readings = [read_attachment(a.filename, a.content_type, a.payload, limits) for a in parsed.attachments]
        return ParseOutcome(parsed, readings)
    except Exception:
        return ParseOutcome(None, [], traceback.format_exc()[-8000:])


def parse_file(path: str, limits: ReadLimits) -> ParseOutcome:
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return ParseOutcome(None, [], traceback.format_exc()[-8000:])
    return parse_raw(raw, limits)


class ParsePool:
    """Submit messages for parsing; results come back as futures."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self._pool = (
            ProcessPoolExecutor(max_workers=self.workers, initializer=_die_with_parent) if self.workers > 1 else None
        )

    def submit(self, path: Path, size: int, limits: ReadLimits) -> Future[ParseOutcome]:
        if self._pool is None or size > INLINE_ABOVE_BYTES:
            return _done(lambda: parse_file(str(path), limits))
        return self._pool.submit(parse_file, str(path), limits)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _die_with_parent() -> None:
    """A parse worker ends with the process that started it, even one killed with SIGKILL (which
    gives the pool no chance to stop its workers): Linux's parent-death signal."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:
        os._exit(0)  # the parent died before the signal was set


def _done(fn: Callable[[], ParseOutcome]) -> Future[ParseOutcome]:
    fut: Future[ParseOutcome] = Future()
    fut.set_result(fn())
    return fut


def workers_for(pending: int, configured: int | None = None) -> int:
    """One process per core when there is enough mail to be worth starting them."""
    if configured is not None:
        return max(1, configured)
    if pending < 8:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))
