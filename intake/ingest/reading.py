"""Messages read in a pool of worker processes and recorded as each is read.

The main process claims messages a few at a time, hands them to the parse workers (``pool``) and
records each as its reading comes back (``record``): one slow message (a LibreOffice starting, a
big file) keeps no other waiting. A message read again to exactly what is recorded (a reprocess of
an unchanged archive) is only marked read again, many in one statement.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from intake.core.process import StopFlag, owner
from intake.core.progress import Bar, progress
from intake.core.settings import Settings
from intake.ingest import soffice
from intake.ingest.keys import Recorded, reading_key
from intake.ingest.outcome import ParseOutcome
from intake.ingest.pool import Interrupted, ParsePool, ParseTask, workers_for
from intake.ingest.record import process_message
from parsers.archives import ArchiveLimits
from parsers.documents import ReadLimits
from store.repo import INTERRUPTED, Store

log = logging.getLogger(__name__)

# Messages are claimed this many at a time before they go to the parse workers.
CLAIM_AHEAD = 16
# Messages read again to what is recorded are marked so this many at a time, or this often.
MARK_EVERY = 100
MARK_SECONDS = 2.0


@dataclass
class RunResult:
    fetched: int = 0
    new: int = 0
    processed: int = 0
    failed: int = 0
    receipts_sent: int = 0
    receipts_failed: int = 0
    classifications: dict[str, int] = field(default_factory=dict)
    run_id: int | None = None

    def line(self) -> str:
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.classifications.items())) or "none"
        return (
            f"fetched {self.fetched}, new {self.new}, processed {self.processed}, failed {self.failed} "
            f"({kinds}); receipts sent {self.receipts_sent}, failed {self.receipts_failed}"
        )


def read_limits(settings: Settings) -> ReadLimits:
    lim = settings.limits
    soffice.set_concurrency(lim.convert_concurrency)
    return ReadLimits(
        archive=ArchiveLimits(
            members=lim.archive_members, total_bytes=lim.archive_total_bytes, depth=lim.archive_depth
        ),
        convert_timeout=lim.convert_timeout_seconds,
        ocr_seconds=lim.ocr_seconds,
        ocr_pages=lim.ocr_pages,
        convert_cache=str(conversion_cache(settings)),
        reading_cache=str(settings.archive.path.parent / "readings"),
    )


def conversion_cache(settings: Settings) -> Path:
    """LibreOffice's conversions, beside the archive but outside its content-addressed blobs (whose
    hashes keep checking); a backup may leave it out: it is made again on demand. Whole readings of
    messages are kept the same way, in ``readings`` beside it (``parsing.ReadingCache``)."""
    return settings.archive.path.parent / "conversions"


def read_messages(
    store: Store,
    settings: Settings,
    now: datetime,
    items: list[tuple[int, str]],
    result: RunResult,
    stop: StopFlag | None,
    *,
    claim: bool,
    label: str,
    due: frozenset[int] = frozenset(),
    recorded: dict[int, Recorded] | None = None,
) -> None:
    """Parse ``items`` (id, sha256) and record each as it is read (see ``MessageReader``)."""
    if not items:
        return
    with (
        progress(label, len(items)) as bar,
        MessageReader(store, settings, now, result, stop, bar, claim, due, recorded) as reading,
    ):
        reading.add(items)
        reading.drain()


class MessageReader:
    """Messages parsed in a pool of worker processes and recorded as each is read, one commit each.

    With ``claim`` each message added is first taken from 'new', a few at a time (a new message,
    whose receipt is queued with it); without, it is parsed again where it stands and no receipt
    is queued (but for those in ``due``, taken from 'new' or 'failed'). ``give`` hands over a
    message this process has just recorded and claimed with it. ``pump`` records what is read
    without waiting; ``drain`` waits until everything in hand is read. Stopped (or failing) with
    messages in hand, their claims are given back for the next run.

    ``recorded`` (a reprocess) holds what each processed message's reading was recorded against:
    a message read again to the same key is only marked read again, many in one statement, where
    recording it would take five queries and a commit to find the same.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        now: datetime,
        result: RunResult,
        stop: StopFlag | None,
        bar: Bar,
        claim: bool,
        due: frozenset[int] = frozenset(),
        recorded: dict[int, Recorded] | None = None,
    ) -> None:
        self.store, self.settings, self.now, self.result, self.stop, self.bar = store, settings, now, result, stop, bar
        self.claim, self.due = claim, due
        self.recorded = recorded or {}
        self.unchanged: list[int] = []  # read again to the recorded key, not yet marked so
        self.marked = time.monotonic()
        self.limits = read_limits(settings)
        self.queue: deque[tuple[int, str]] = deque()  # to be taken (claimed) before reading
        self.taken: deque[tuple[int, str]] = deque()  # taken, not yet given to a worker
        self.window: deque[tuple[int, ParseTask]] = deque()
        self.expected = 0  # messages still to come by ``give``
        self.pool: ParsePool | None = None  # started with the first message, sized by what is known
        self.renew_every = settings.limits.claim_lease_minutes * 60 / 3
        self.renewed = time.monotonic()

    def __enter__(self) -> MessageReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        steps = (
            (self._mark_unchanged, "messages read again unchanged not marked so (%s): they stand as recorded"),
            (self._give_back, "the messages in hand could not be given back (%s): the next run takes them"),
        )
        try:
            for step, failed in steps:
                try:
                    step()
                except Exception as error:
                    if exc_type is None:
                        raise
                    log.warning(failed, error)  # the error that ended the reading goes on
        finally:
            if self.pool is not None:
                self.pool.close()

    def _give_back(self) -> None:
        """Messages in hand when the reading ends early (a stop) go back to 'new' for the next run."""
        reading, waiting = [pk for pk, _ in self.window], [pk for pk, _ in self.taken]
        if (reading or waiting) and (self.claim or self.due):
            with self.store.session() as repo:
                repo.release_claims([*reading, *waiting], owner())
            log.info("stopped: %d message(s) in hand left for the next run", len(reading) + len(waiting))

    def add(self, items: list[tuple[int, str]]) -> None:
        """Messages to take and read (already counted on the bar)."""
        self.queue.extend(items)

    def expect(self, n: int) -> None:
        """``n`` more messages may come by ``give``."""
        self.expected += n
        self.bar.grow(n)

    def give(self, pk: int, sha256: str) -> None:
        """A message expected, recorded and claimed by this process: to read."""
        self.expected -= 1
        self.taken.append((pk, sha256))

    def skip(self) -> None:
        """A message expected that is not to be read (it was known already)."""
        self.expected -= 1
        self.bar.grow(-1)

    def pump(self) -> None:
        self._read(wait=False)

    def drain(self) -> None:
        self._read(wait=True)
        self._mark_unchanged()

    # ------------------------------------------------------------------ internals

    def _read(self, *, wait: bool) -> None:
        self._fill()
        while self.window:
            assert self.pool is not None
            try:
                # Recorded as each is read: one slow message (a LibreOffice starting, a big file)
                # does not keep the others waiting.
                task = self.pool.first_done(
                    [t for _, t in self.window], lambda: bool(self.stop), self._renew, block=wait
                )
            except Interrupted:
                return
            if task is None:
                return
            pk = next(p for p, t in self.window if t is task)
            self.window.remove((pk, task))
            self._record(pk, task)
            self.bar.advance()
            self._fill()

    def _fill(self) -> None:
        # A few messages ahead so every worker has one; never more than are in hand.
        while not self.stop:
            if not self.taken and not self._take():
                return
            if self.pool is None:
                total = len(self.queue) + len(self.taken) + self.expected
                workers = workers_for(total, self.settings.limits.parse_workers)
                self.pool = ParsePool(workers, self.settings.limits.parse_timeout_seconds)
            if len(self.window) >= self.pool.workers * 2:
                return
            pk, sha = self.taken.popleft()
            task = self.pool.submit(self.store.blobs.path_for(sha), self.limits, self.store.blobs.root)
            self.window.append((pk, task))

    def _take(self) -> bool:
        """The next few from the queue, those to be claimed claimed in one statement and one
        commit; False when the queue is empty."""
        batch = [self.queue.popleft() for _ in range(min(CLAIM_AHEAD, len(self.queue)))]
        wanted = [pk for pk, _ in batch if self.claim or pk in self.due]
        got: set[int] = set()
        if wanted:
            states = ("new",) if self.claim else ("new", "failed")
            with self.store.session() as repo:
                got = set(repo.claim_many(wanted, owner(), states))
        self.taken.extend((pk, sha) for pk, sha in batch if pk in got or pk not in wanted)
        return bool(batch)

    def _renew(self) -> None:
        # A long conversion must not let the lease run out: another worker would take the message.
        if (self.claim or self.due) and time.monotonic() - self.renewed > self.renew_every:
            in_hand = [*(pk for pk, _ in self.window), *(pk for pk, _ in self.taken)]
            with self.store.session() as repo:
                repo.renew_claims(in_hand, owner())
            self.renewed = time.monotonic()

    def _same_as_recorded(self, pk: int, outcome: ParseOutcome | None) -> bool:
        """Read again to exactly what is recorded (the same key), judged by what the message was
        recorded against when this run began. A person's decision made since is on the message's
        rows already (the console's actions write it), and the key it changes makes the next
        reprocess record the message again."""
        before = self.recorded.get(pk)
        if before is None or outcome is None or outcome.stopped or outcome.parsed is None:
            return False
        key = reading_key(outcome, self.settings, before.duplicate, before.overrides)
        return key == before.key

    def _mark_unchanged(self) -> None:
        if self.unchanged:
            with self.store.session() as repo:
                repo.mark_read_again(self.unchanged, datetime.now(UTC))
            self.unchanged.clear()
        self.marked = time.monotonic()

    def _record(self, pk: int, task: ParseTask) -> None:
        fenced = self.claim or pk in self.due
        if not fenced and self._same_as_recorded(pk, task.outcome):
            self.unchanged.append(pk)
            self._count(self.recorded[pk].classification, ok=True)
            if len(self.unchanged) >= MARK_EVERY or time.monotonic() - self.marked > MARK_SECONDS:
                self._mark_unchanged()
            return
        with self.store.session() as repo:
            message = repo.message(pk)
            if message is None:
                return
            if fenced and message.error == INTERRUPTED and task.outcome and not task.outcome.stopped:
                # In hand when a process died: if recording it is what kills this one, it must not
                # be taken again for ever (MAX_ATTEMPTS). The attempt is on record before.
                repo.count_attempts([pk], owner())
            ok = process_message(
                repo,
                self.store,
                message,
                self.settings,
                self.limits,
                self.now,
                queue_receipt=fenced,
                outcome=task.outcome,
                fenced=fenced,
            )
            self._count(message.classification, ok=ok)

    def _count(self, classification: str | None, *, ok: bool) -> None:
        self.result.processed += 1
        self.result.failed += 0 if ok else 1
        key = classification or "failed"
        self.result.classifications[key] = self.result.classifications.get(key, 0) + 1
