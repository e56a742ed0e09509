"""Parsing messages in worker processes, each message bounded in time.

Parsing is pure (bytes in, dataclasses out), so it runs in child processes while the main process
keeps the database and the archive. A worker reads the raw message from the archive itself and
takes one message at a time, so the pool knows which message each worker holds and since when: a
parse that runs past its time limit (or a worker that dies under it) is killed and replaced, that
message alone is reported as failed, and the main process stays free to answer SIGTERM.

Workers come from a fork server started before any of our threads matter, so the pool may be
started from any thread (the scheduler's included).
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from intake.ingest import soffice, warm
from intake.ingest.outcome import ParseOutcome
from intake.ingest.read import parse_file
from parsers.documents import ReadLimits

log = logging.getLogger(__name__)

WAIT_SLICE = 0.2  # seconds between looks at the stop flag and the clocks


class Interrupted(Exception):
    """The stop flag was raised while a parse was waited for."""


@dataclass
class ParseTask:
    path: str
    limits: ReadLimits
    blob_root: str | None = None
    outcome: ParseOutcome | None = None

    @property
    def done(self) -> bool:
        return self.outcome is not None


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    task: ParseTask | None = None
    started: float = 0.0
    served: int = 0


@dataclass
class ParsePool:
    """``workers`` child processes; ``timeout`` seconds for each message."""

    workers: int = 1
    timeout: float = 120.0
    _idle: list[_Worker] = field(default_factory=list)
    _busy: list[_Worker] = field(default_factory=list)
    _waiting: deque[ParseTask] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.workers = max(1, self.workers)

    def submit(self, path: Path, limits: ReadLimits, blob_root: Path | None = None) -> ParseTask:
        """Read the raw message at ``path``; its files go to the archive at ``blob_root``."""
        task = ParseTask(str(path), limits, str(blob_root) if blob_root else None)
        self._waiting.append(task)
        self._dispatch()
        return task

    def result(
        self, task: ParseTask, stop: Callable[[], bool] = lambda: False, tick: Callable[[], None] | None = None
    ) -> ParseOutcome:
        """Wait for ``task`` (running the others meanwhile); Interrupted when ``stop`` turns true.
        ``tick`` is called every slice while waiting (to renew the leases of messages in hand)."""
        self.first_done([task], stop, tick)
        assert task.outcome is not None
        return task.outcome

    def first_done(
        self,
        tasks: Sequence[ParseTask],
        stop: Callable[[], bool] = lambda: False,
        tick: Callable[[], None] | None = None,
        block: bool = True,
    ) -> ParseTask | None:
        """The first of ``tasks`` (in their order) that is done, waiting for one if none is: a slow
        message does not hold up the ones read after it. Without ``block``, None when none is done
        yet. Interrupted when ``stop`` turns true."""
        while True:
            for task in tasks:
                if task.outcome is not None:
                    return task
            if stop():
                raise Interrupted()
            if tick is not None:
                tick()
            self._dispatch()
            ready = wait([w.conn for w in self._busy], timeout=WAIT_SLICE if block else 0)
            if stop():
                raise Interrupted()  # before a worker ended by the same signal is taken for a crash
            for worker in list(self._busy):
                if worker.conn in ready:
                    self._collect(worker)
            self._enforce_time_limit()
            if not block:
                return next((task for task in tasks if task.outcome is not None), None)

    def close(self) -> None:
        for worker in self._idle + self._busy:
            _stop_worker(worker, kill=worker in self._busy)
        self._idle.clear()
        self._busy.clear()
        self._waiting.clear()

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals

    def _dispatch(self) -> None:
        while self._waiting and (self._idle or len(self._busy) < self.workers):
            worker = self._idle.pop() if self._idle else _start_worker()
            task = self._waiting.popleft()
            try:
                worker.conn.send((task.path, task.limits, task.blob_root))
            except OSError:
                _stop_worker(worker, kill=True)
                self._waiting.appendleft(task)
                continue
            worker.task, worker.started = task, time.monotonic()
            self._busy.append(worker)

    def _collect(self, worker: _Worker) -> None:
        task = worker.task
        assert task is not None
        try:
            got = worker.conn.recv()
        except (EOFError, OSError):
            # The worker died under this message (out of memory, a crash in a C library).
            code = worker.process.exitcode
            self._replace(worker)
            task.outcome = _stopped(f"解析进程意外退出（退出码 {code}），邮件未能读取")
            return
        if isinstance(got, tuple) and len(got) == 2 and got[0] == "extend":
            # Text recognition of a scan is starting, with a budget of its own: the message's time
            # limit grows by it, so a long scan never costs the other files their reading.
            worker.started += float(got[1])
            return
        task.outcome = got
        worker.task = None
        worker.served += 1
        self._busy.remove(worker)
        self._idle.append(worker)

    def _enforce_time_limit(self) -> None:
        now = time.monotonic()
        for worker in list(self._busy):
            if worker.task is not None and now - worker.started > self.timeout:
                task = worker.task
                self._replace(worker)
                task.outcome = _stopped(f"解析超过 {self.timeout:g} 秒仍未完成，已停止")

    def _replace(self, worker: _Worker) -> None:
        _stop_worker(worker, kill=True)
        self._busy.remove(worker)
        worker.task = None


def _context() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["intake.ingest.pool"])
    return ctx


def _start_worker() -> _Worker:
    ctx = _context()
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_serve, args=(child,), daemon=True, name="intake-parse")
    process.start()
    child.close()
    return _Worker(process, parent)


def _stop_worker(worker: _Worker, *, kill: bool) -> None:
    """An idle worker is told to go; a busy one gets SIGTERM (it ends its LibreOffice conversion,
    which runs in a process group of its own, and exits), then SIGKILL if it has not gone."""
    try:
        if kill:
            worker.process.terminate()
        else:
            worker.conn.send(None)
    except (OSError, ValueError):
        pass
    worker.process.join(1 if kill else 5)
    if worker.process.is_alive():
        worker.process.kill()
        worker.process.join(5)
    worker.conn.close()


def _stopped(reason: str) -> ParseOutcome:
    return ParseOutcome(None, [], reason, stopped=reason)


def _serve(conn: Connection) -> None:
    """A worker: one message at a time until told to stop (None) or its parent is gone."""

    def end(_signum: int, _frame: object) -> None:
        soffice.kill_running()
        warm.shutdown()
        os._exit(1)

    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C goes to the whole group: the parent decides
    signal.signal(signal.SIGTERM, end)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            warm.shutdown()
            return
        if job is None:
            warm.shutdown()
            return
        outcome = parse_file(*job, announce=lambda seconds: conn.send(("extend", seconds)))
        try:
            conn.send(outcome)
        except Exception:  # an outcome that cannot be pickled: say so rather than vanish
            conn.send(ParseOutcome(None, [], traceback.format_exc()[-8000:]))


def _die_with_parent() -> None:
    """A parse worker ends with the process that started it, even one killed with SIGKILL (which
    gives the pool no chance to stop its workers): Linux's parent-death signal."""

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:
        os._exit(0)  # the parent died before the signal was set


def parse_one(path: Path, limits: ReadLimits, timeout: float, blob_root: Path | None = None) -> ParseOutcome:
    """One message in a worker of its own (the console's actions): bounded like the others."""
    with ParsePool(1, timeout) as pool:
        return pool.result(pool.submit(path, limits, blob_root))


def workers_for(pending: int, configured: int | None = None) -> int:
    """One process per core when there is enough mail to be worth starting them."""
    if configured is not None:
        return max(1, configured)
    if pending < 8:
        return 1
    return max(1, min(os.cpu_count() or 1, 8))
