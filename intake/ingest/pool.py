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

import hashlib
import logging
import multiprocessing
import os
import pickle
import time
import traceback
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path

from intake.ingest import convert as legacy
from intake.ingest.convert import converter, keep_entry, office_binary
from parsers.archives import Budget
from parsers.documents import Reading, ReadLimits, read_attachment
from parsers.mime import ParsedMessage, parse_message
from store.blobs import BlobStore

log = logging.getLogger(__name__)

WAIT_SLICE = 0.2  # seconds between looks at the stop flag and the clocks


@dataclass
class ParseOutcome:
    parsed: ParsedMessage | None
    readings: list[Reading]
    error: str | None = None
    stopped: str | None = None  # why reading was stopped from outside (time limit, worker died)
    digest: str = ""  # of what was read: the same bytes read the same way give the same digest


def parse_raw(raw: bytes, limits: ReadLimits, blobs: BlobStore | None = None) -> ParseOutcome:
    """Read a message and its attachments. With ``blobs``, each file's bytes go to the archive as
    soon as it is read and are dropped from the reading (only its hash and size come back), so a
    message's files are never all in memory at once, nor copied back to the main process."""
    budget = Budget(limits.archive.total_bytes)
    keep = _keeper(blobs) if blobs is not None else None
    convert = converter(limits.convert_timeout, Path(limits.convert_cache) if limits.convert_cache else None)
    try:
        parsed = parse_message(raw)
        del raw
        readings = []
        while parsed.attachments:
            a = parsed.attachments.pop(0)
            readings.append(read_attachment(
                    a.filename, a.content_type, a.payload, limits, budget=budget, keep=keep, convert=convert
                ))
        return ParseOutcome(parsed, readings)
    except Exception:
        return ParseOutcome(None, [], traceback.format_exc()[-8000:])


def _keeper(blobs: BlobStore) -> Callable[[Reading], None]:
    def keep(r: Reading) -> None:
        r.sha256, r.size = blobs.put(r.payload), len(r.payload)
        r.payload = b""

    return keep


def parse_file(path: str, limits: ReadLimits, blob_root: str | None = None) -> ParseOutcome:
    """Read the message at ``path``, its files kept in the archive at ``blob_root``; with
    ``limits.reading_cache`` (and an archive), a message read before by the same code and libraries
    under the same limits is taken from there."""
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return ParseOutcome(None, [], traceback.format_exc()[-8000:])
    blobs = BlobStore(Path(blob_root)) if blob_root else None
    cache = ReadingCache(Path(limits.reading_cache), limits) if limits.reading_cache and blobs else None
    key = ""
    if cache is not None and blobs is not None:
        key = hashlib.sha256(raw).hexdigest()
        kept = cache.get(key, blobs)
        if kept is not None:
            return kept
    outcome = parse_raw(raw, limits, blobs)
    del raw
    if outcome.parsed is not None:
        try:
            outcome.digest = hashlib.sha256(pickle.dumps((outcome.parsed, outcome.readings))).hexdigest()
        except Exception:  # what was read cannot be pickled (nor sent back): say so rather than vanish
            return ParseOutcome(None, [], traceback.format_exc()[-8000:])
    if cache is not None:
        cache.put(key, outcome)
    return outcome


class ReadingCache:
    """Whole readings of messages, by the hash of the message's bytes and a version: this module's
    and the parsers' code, every installed library, Python, LibreOffice, and the read limits
    (``_code_version``). Only a complete reading is kept: one stopped, failed, or with a file that
    could not be read (a conversion that timed out may work next time) is read again every time.
    A reading whose files are no longer all in the archive is read again (which puts them back).
    Beside the archive and outside it, like LibreOffice's conversions (written the same way): a
    backup may leave it out."""

    def __init__(self, root: Path, limits: ReadLimits) -> None:
        self.root = root
        self.version = _reader_version(limits)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.{self.version[:16]}"

    def get(self, key: str, blobs: BlobStore) -> ParseOutcome | None:
        try:
            outcome = pickle.loads(zlib.decompress(self.path(key).read_bytes()))
        except FileNotFoundError:
            return None
        except Exception as error:  # a damaged entry is no error: the message is read again
            log.warning("reading cache entry %s unusable (%s): read again", key[:12], type(error).__name__)
            return None
        if not isinstance(outcome, ParseOutcome) or not outcome.digest:
            return None
        for reading in (r for root in outcome.readings for r in root.walk()):
            if reading.sha256 and not blobs.path_for(reading.sha256).exists():
                return None
        return outcome

    def put(self, key: str, outcome: ParseOutcome) -> None:
        if outcome.parsed is None or outcome.stopped or not outcome.digest:
            return
        if any(r.status == "unreadable" for root in outcome.readings for r in root.walk()):
            return
        why = keep_entry(self.path(key), zlib.compress(pickle.dumps(outcome), 1))
        if why is not None:
            log.warning("reading cache not written (%s)", why)


def _code_version() -> str:
    """The parsers' code as this process loaded it (read when this module is imported, so a worker
    started after an upgrade was installed but before the service restarted does not file old
    readings under the new version), Python, the installed distributions (their ``dist-info``
    names carry their versions) and the LibreOffice installed (its files' sizes and times)."""
    import sys

    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    here = Path(__file__).resolve().parent
    for path in [*sorted((root / "parsers").rglob("*.py")), here / "pool.py", here / "convert.py"]:
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    h.update(sys.version.encode())
    for folder in sys.path:
        if folder and os.path.isdir(folder):
            h.update(repr(sorted(n for n in os.listdir(folder) if n.endswith((".dist-info", ".egg-info")))).encode())
    binary = office_binary()
    if binary is not None:
        program = Path(os.path.realpath(binary)).parent
        for name in ("versionrc", "soffice.bin", Path(binary).name):
            try:
                st = (program / name).stat()
            except OSError:
                continue
            h.update(f"{program / name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


_CODE_VERSION = _code_version()


def _reader_version(limits: ReadLimits) -> str:
    """What a reading follows from beside the message's bytes: the code and libraries, and the
    read limits (where the caches are kept aside)."""
    bounds = replace(limits, convert_cache=None, reading_cache=None)
    return hashlib.sha256(f"{_CODE_VERSION}{bounds!r}".encode()).hexdigest()


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
            task.outcome = worker.conn.recv()
        except (EOFError, OSError):
            # The worker died under this message (out of memory, a crash in a C library).
            code = worker.process.exitcode
            self._replace(worker)
            task.outcome = _stopped(f"解析进程意外退出（退出码 {code}），邮件未能读取")
            return
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
    import signal


    def end(_signum: int, _frame: object) -> None:
        legacy.kill_running()
        legacy.shutdown()
        os._exit(1)

    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # ^C goes to the whole group: the parent decides
    signal.signal(signal.SIGTERM, end)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            legacy.shutdown()
            return
        if job is None:
            legacy.shutdown()
            return
        outcome = parse_file(*job)
        try:
            conn.send(outcome)
        except Exception:  # an outcome that cannot be pickled: say so rather than vanish
            conn.send(ParseOutcome(None, [], traceback.format_exc()[-8000:]))


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
