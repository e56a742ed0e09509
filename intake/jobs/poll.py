"""The pipeline: fetch → archive → parse → classify → rules → store → receipts.

``run_once(source, store, settings, now, mailer)`` is what the CLI and the scheduler both call.
Each message is archived and its row committed before anything else is done with it; a message
that fails to parse is recorded with its traceback and the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import signal
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from intake.campaign import rules
from intake.core.errors import MailboxError, MailboxUnavailable, ParseError
from intake.core.progress import Bar, bars, progress
from intake.core.settings import Settings
from intake.ingest import convert as legacy
from intake.ingest.assemble import assemble, listed_kinds
from intake.ingest.overrides import apply_corrections, parsed_identity
from intake.ingest.pool import Interrupted, ParseOutcome, ParsePool, ParseTask, parse_one, workers_for
from intake.mail.classify import classify
from intake.mail.sources.base import FetchedMessage, MailSource
from intake.outbox import receipts
from parsers.archives import ArchiveLimits
from parsers.documents import Reading, ReadLimits
from parsers.mime import ParsedMessage, top_headers
from parsers.wordcount import WordCount, count_words
from store.repo import INTERRUPTED, MAX_ATTEMPTS, Attachment, Correction, Flag, Message, Nominee, Repo, Store

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


class StopFlag:
    """Set by SIGTERM/SIGINT: the message in hand is finished, then the run stops."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()

    def install(self) -> None:
        def handler(signum: int, _frame: object) -> None:
            log.info("signal %s: finishing the message in hand, then stopping", signum)
            self.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)


def read_limits(settings: Settings) -> ReadLimits:
    lim = settings.limits
    legacy.set_concurrency(lim.convert_concurrency)
    return ReadLimits(
        archive=ArchiveLimits(
            members=lim.archive_members, total_bytes=lim.archive_total_bytes, depth=lim.archive_depth
        ),
        convert_timeout=lim.convert_timeout_seconds,
        convert_cache=str(conversion_cache(settings)),
        reading_cache=str(settings.archive.path.parent / "readings"),
    )


def conversion_cache(settings: Settings) -> Path:
    """LibreOffice's conversions, beside the archive but outside its content-addressed blobs (whose
    hashes keep checking); a backup may leave it out: it is made again on demand. Whole readings of
    messages are kept the same way, in ``readings`` beside it (``parsing.ReadingCache``)."""
    return settings.archive.path.parent / "conversions"


# --------------------------------------------------------------------------- fetching


def run_once(
    source: MailSource,
    store: Store,
    settings: Settings,
    now: datetime,
    mailer: receipts.Mailer | None = None,
    *,
    stop: StopFlag | None = None,
    reconnects: int = 2,
    kind: str = "poll",
) -> RunResult:
    """One full cycle. Messages are read as they arrive, while the rest are still being fetched.
    A lost connection is retried ``reconnects`` times; when the mailbox still cannot be read to
    the end, what was fetched is processed and MailboxError is raised."""
    result = RunResult()
    with store.session() as repo:
        run = repo.start_run(kind)
        run_id = result.run_id = run.id
    error: str | None = None
    try:
        try:
            with bars(("fetching", 0), ("processing", 0)) as (fetching, processing):
                with _Reading(store, settings, now, result, stop, processing, claim=True) as reading:
                    pending = _pending(store, settings)
                    processing.grow(len(pending))
                    reading.add(pending)
                    try:
                        _fetch_retrying(source, store, settings, result, stop, reading, fetching, reconnects)
                    except MailboxError:
                        reading.drain()  # what was fetched is processed all the same
                        raise
                    reading.drain()
        except MailboxError as exc:
            error = str(exc)
            finish(store, settings, now, result, mailer, stop)
            raise
        finish(store, settings, now, result, mailer, stop)
    finally:
        with store.session() as repo:
            run = repo.run(run_id)
            if run is not None:
                run.finished_at = datetime.now(UTC)
                run.fetched, run.processed, run.failed = result.fetched, result.processed, result.failed
                run.receipts_sent, run.receipts_failed = result.receipts_sent, result.receipts_failed
                run.error = error
    return result


def _fetch_retrying(
    source: MailSource,
    store: Store,
    settings: Settings,
    result: RunResult,
    stop: StopFlag | None,
    reading: _Reading,
    bar: Bar,
    reconnects: int,
) -> None:
    attempts = 0
    while True:
        try:
            _fetch_all(source, store, settings, result, stop, reading, bar)
            return
        except MailboxUnavailable:
            raise  # no server to reconnect to: fail now, within the timeout
        except MailboxError as exc:
            attempts += 1
            if attempts > reconnects:
                raise
            log.warning("mailbox: %s; reconnecting (%d/%d)", exc, attempts, reconnects)


def _fetch_all(
    source: MailSource,
    store: Store,
    settings: Settings,
    result: RunResult,
    stop: StopFlag | None,
    reading: _Reading,
    bar: Bar,
) -> None:
    mailbox = source.identity
    with source.connect() as session, store.session() as repo:
        state = repo.mailbox_state(mailbox)
        if source.numeric_uids and state.uidvalidity != session.uidvalidity:
            if state.uidvalidity is not None:
                log.warning(
                    "mailbox %s: UIDVALIDITY changed %s → %s; rescanning, known messages are recognised by content",
                    mailbox,
                    state.uidvalidity,
                    session.uidvalidity,
                )
            repo.reset_uidvalidity(mailbox, session.uidvalidity)
            repo.commit()
            after = 0
        else:
            after = state.last_uid or 0
        uidvalidity = session.uidvalidity
        uids = session.search_new(after, lambda: repo.known_uids(mailbox, uidvalidity))
        if source.numeric_uids:
            known = repo.known_uids(mailbox, uidvalidity) if after == 0 else set()
            uids = [u for u in uids if u not in known]
        if not uids:
            return
        log.info("mailbox %s: %d new message(s)", mailbox, len(uids))
        bar.grow(len(uids))
        reading.expect(len(uids))
        for fetched in session.fetch(uids):
            result.fetched += 1
            watermark = int(fetched.uid) if source.numeric_uids else None
            message = _record(repo, store, mailbox, uidvalidity, fetched, result, watermark)
            if message is not None:
                # Claimed with its row: read now, by the workers, while the next ones are fetched.
                reading.give(message.id, message.sha256)
            else:
                reading.skip()
            reading.pump()
            bar.advance()
            if stop:
                break


def _record(
    repo: Repo,
    store: Store,
    mailbox: str,
    uidvalidity: int,
    fetched: FetchedMessage,
    result: RunResult,
    watermark: int | None,
) -> Message | None:
    """Archive a fetched message and record it, claimed for reading by this process; the message
    when it is new."""
    # Archive first, durably; only then does the row that points at it commit (and the mailbox's
    # watermark with it).
    digest = store.blobs.put(fetched.raw)
    message_id = _quick_message_id(fetched.raw)
    message, is_new = repo.record_message(
        mailbox=mailbox,
        uidvalidity=uidvalidity,
        uid=fetched.uid,
        sha256=digest,
        size=len(fetched.raw),
        message_id=message_id,
        internaldate=fetched.internaldate,
        watermark=watermark,
        claim_for=receipts.owner(),
    )
    if message is not None and is_new:
        result.new += 1
        return message
    return None


def _quick_message_id(raw: bytes) -> str:
    from email.parser import BytesHeaderParser

    from parsers.mime import normalise_message_id

    head = raw[:65536]
    end = re.search(rb"\r?\n\r?\n", head)  # the header ends at the first empty line
    try:
        headers = BytesHeaderParser().parsebytes(head[: end.end()] if end else head)
        return normalise_message_id(headers.get("Message-ID", ""))
    except Exception:
        return ""


# --------------------------------------------------------------------------- processing


def _pending(store: Store, settings: Settings) -> list[tuple[int, str]]:
    """Messages waiting to be read (left by a run that stopped or died), claims of workers that
    died released first."""
    with store.session() as repo:
        repo.release_stale_claims(receipts.owner(), timedelta(minutes=settings.limits.claim_lease_minutes))
        return [(m.id, m.sha256) for m in repo.pending_messages()]


def _process(
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
    recorded: dict[int, _Recorded] | None = None,
) -> None:
    """Parse ``items`` (id, sha256) and record each as it is read (see ``_Reading``)."""
    if not items:
        return
    with (
        progress(label, len(items)) as bar,
        _Reading(store, settings, now, result, stop, bar, claim, due, recorded) as reading,
    ):
        reading.add(items)
        reading.drain()


class _Reading:
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
        recorded: dict[int, _Recorded] | None = None,
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

    def __enter__(self) -> _Reading:
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
                repo.release_claims([*reading, *waiting], receipts.owner())
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
                got = set(repo.claim_many(wanted, receipts.owner(), states))
        self.taken.extend((pk, sha) for pk, sha in batch if pk in got or pk not in wanted)
        return bool(batch)

    def _renew(self) -> None:
        # A long conversion must not let the lease run out: another worker would take the message.
        if (self.claim or self.due) and time.monotonic() - self.renewed > self.renew_every:
            in_hand = [*(pk for pk, _ in self.window), *(pk for pk, _ in self.taken)]
            with self.store.session() as repo:
                repo.renew_claims(in_hand, receipts.owner())
            self.renewed = time.monotonic()

    def _same_as_recorded(self, pk: int, outcome: ParseOutcome | None) -> bool:
        """Read again to exactly what is recorded (the same key), judged by what the message was
        recorded against when this run began. A person's decision made since is on the message's
        rows already (the console's actions write it), and the key it changes makes the next
        reprocess record the message again."""
        before = self.recorded.get(pk)
        if before is None or outcome is None or outcome.stopped or outcome.parsed is None:
            return False
        key = _reading_key(outcome, self.settings, before.duplicate, before.overrides, before.corrections)
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
                repo.count_attempts([pk], receipts.owner())
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


def process_message(
    repo: Repo,
    store: Store,
    message: Message,
    settings: Settings,
    limits: ReadLimits,
    now: datetime,
    *,
    queue_receipt: bool,
    outcome: ParseOutcome | None = None,
    fenced: bool = False,
) -> bool:
    """Classify and record one message (parsing it unless that was done); on failure record the
    traceback on the message. Commits. ``fenced``: the message was claimed, and what was read is
    committed only while the claim is still this worker's."""
    try:
        if outcome is None:
            timeout = settings.limits.parse_timeout_seconds
            outcome = parse_one(store.blobs.path_for(message.sha256), limits, timeout, store.blobs.root)
        if outcome.stopped:
            _stopped(repo, store, message, outcome.stopped, retry=queue_receipt)
            return False
        if outcome.parsed is None:
            raise ParseError(f"message could not be parsed:\n{outcome.error}")
        _apply(repo, store, message, outcome, settings, now)
        message.state = "processed"
        message.error = None
        if queue_receipt and message.classification == "submission":
            repo.flush()
            receipts.queue(repo, message, settings)  # in the same commit: a crash leaves both or neither
        if fenced and not repo.holds_claim(message.id, receipts.owner()):
            # The lease ran out and another worker has the message now: its reading stands.
            repo.rollback()
            log.warning("message %s was taken over by another worker; this reading is dropped", message.id)
            return True
        repo.commit()
    except Exception as exc:
        repo.rollback()
        log.error("message %s (%s) failed: %s", message.id, message.message_id, str(exc).splitlines()[0][:200])
        message = repo.message(message.id) or message
        message.state = "failed"
        message.error = traceback.format_exc()[-8000:]
        message.processed_at = datetime.now(UTC)
        repo.clear_parse_results(message)
        _flag(repo, message, "parse_failed", f"读取时出错（{type(exc).__name__}），原邮件已收存，待管理员处理")
        repo.commit()
        return False
    return True


def _stopped(repo: Repo, store: Store, message: Message, reason: str, *, retry: bool) -> None:
    """Reading was stopped from outside (time limit, the worker died). The message is kept and its
    headers read; it is tried again at the next poll until ``MAX_ATTEMPTS`` automatic attempts,
    then failed and flagged, and read again only when someone runs ``reprocess``."""
    repo.clear_parse_results(message)
    repo.flush()
    head = top_headers(store.blobs.head(message.sha256))
    message.subject = head.subject
    message.from_addr, message.from_name = head.from_addr[:320], head.from_name
    message.message_id = head.message_id[:998] or message.message_id
    message.processed_at = datetime.now(UTC)
    message.claimed_by = message.claimed_at = None
    message.attempts = (message.attempts or 0) + 1
    if retry and message.attempts < MAX_ATTEMPTS:
        log.warning("message %s (%s): %s; tried again at the next poll", message.id, message.message_id, reason)
        message.state, message.error = "new", reason
    else:
        log.error("message %s (%s): %s; not tried again automatically", message.id, message.message_id, reason)
        message.state, message.error = "failed", reason
        _flag(repo, message, "parse_failed", reason)
    repo.commit()


def _apply(
    repo: Repo,
    store: Store,
    message: Message,
    outcome: ParseOutcome,
    settings: Settings,
    now: datetime,
) -> None:
    parsed, readings = outcome.parsed, outcome.readings
    assert parsed is not None
    message.message_id = parsed.message_id[:998] or message.message_id
    duplicate = repo.earlier_duplicate(message) is not None
    overrides = repo.overrides_for(message.id)
    earlier = message.processed_at is not None
    corrections_found = repo.corrections_for([n.id for n in message.nominees]) if earlier else []
    key = _reading_key(
        outcome,
        settings,
        duplicate,
        [(k, o.id, o.value) for k, o in overrides.items()],
        [(c.id, c.nominee_id) for c in corrections_found],
    )
    if earlier and message.state == "processed" and key and (message.info or {}).get("reading") == key:
        # Read again to the same result, with the same code, settings, corrections and
        # decisions (a reprocess of an unchanged archive): what is recorded stands as it is.
        message.processed_at = datetime.now(UTC)
        message.parse_count = (message.parse_count or 0) + 1
        return
    if earlier:
        # Read before (reprocess, a retry after a stop): what that reading found goes first. A
        # message never read has nothing to clear (every outcome sets processed_at).
        repo.clear_parse_results(message)
        repo.flush()
    message.subject = parsed.subject
    message.from_addr = parsed.from_addr[:320]
    message.from_name = parsed.from_name
    message.reply_to = parsed.reply_to[:320]
    received, source = received_time(message.internaldate, parsed, now)
    message.received_at, message.received_source = received, source
    verdict = classify(parsed, readings, settings, duplicate=duplicate)
    if overrides:
        # What a person decided stands over what the classifier reads (actions.assign_province,
        # actions.reclassify).
        changes: dict[str, Any] = {}
        if "classification" in overrides:
            changes["classification"] = overrides["classification"].value
            changes["reason"] = f"{overrides['classification'].by} 人工改为此类：{overrides['classification'].reason}"
        if "province" in overrides:
            changes["province"] = overrides["province"].value
            changes["province_source"] = "assigned"
        verdict = replace(verdict, **changes)
    message.classification = verdict.classification
    message.province_code = verdict.province
    message.intent = verdict.intent
    message.processed_at = datetime.now(UTC)
    message.parse_count = (message.parse_count or 0) + 1
    message.info = {
        "province_source": verdict.province_source,
        "reason": verdict.reason,
        "date_header": parsed.date.isoformat() if parsed.date else None,
        "to": parsed.to[:20],
        "headers": parsed.headers,
        "defects": parsed.defects[:20],
        "forwarded": [{"subject": f.subject, "from": f.from_addr} for f in parsed.forwarded[:10]],
        "reading": key,
    }

    by_reading = _store_attachments(repo, store, message, readings)
    if parsed.failure:
        _flag(repo, message, "parse_failed", parsed.failure)
    kept: dict[tuple[str, str], Nominee] = {}
    if verdict.classification == "submission":
        if not verdict.registered:
            _flag(
                repo,
                message,
                "sender_unregistered",
                f"发件地址 {parsed.from_addr or '（空）'} 未登记为任何省（区、市）的报送邮箱",
            )
        drafts, unmatched = assemble(readings)
        kinds_listed = listed_kinds(readings)
        if not drafts and not parsed.failure:
            _flag(repo, message, "nothing_recognised", _nothing_recognised_detail(readings))
        kept = {parsed_identity(n): n for n in message.nominees}
        corrections: dict[int, list[Correction]] = {}
        for c in corrections_found:
            corrections.setdefault(c.nominee_id or 0, []).append(c)
        for d in drafts:
            # The same nominee read again keeps its row and id; corrections and reviews hold on to it.
            nominee = kept.pop((d.kind, _compact(d.name[:200])), None)
            if nominee is None:
                nominee = Nominee(message_pk=message.id, kind=d.kind, name=d.name[:200])
                repo.add(nominee)
            nominee.kind, nominee.name = d.kind, d.name[:200]
            nominee.province_code = verdict.province
            nominee.rank = d.rank
            nominee.source = d.source
            nominee.fields = {**d.fields, "opinions": [o.__dict__ for o in d.opinions]}
            nominee.attachment_id = by_reading.get(id(d.reading)) if d.reading else None
            nominee.narrative_attachment_id = by_reading.get(id(d.narrative)) if d.narrative else None
            nominee.current = True
            files = [r.filename for r in d.attachments]
            if d.narrative is not None and d.narrative.filename not in files:
                files.append(d.narrative.filename)
            nominee.info = {
                "files": files,
                "listed": d.listed,
                "has_form": d.has_form,
                "parsed": {"kind": d.kind, "name": d.name[:200], "rank": d.rank},
            }
            wc = _words(d.narrative_text, d.narrative)
            nominee.narrative_chars = wc.words if wc else None
            nominee.narrative_chars_nospace = wc.chars_nospace if wc else None
            if nominee.id in corrections:
                apply_corrections(nominee, corrections[nominee.id])
            for code, detail in d.problems(kinds_listed):
                repo.add(
                    Flag(
                        scope="nominee",
                        origin="parse",
                        code=code,
                        detail=detail,
                        nominee=nominee,
                        province_code=verdict.province,
                    )
                )
        for r in unmatched:
            _flag(repo, message, "narrative_unmatched", f"{r.filename}：未能对应到推荐对象，请在文件名或标题中注明姓名")
    for gone in kept.values():
        repo.delete(gone)  # no longer read from the message
    if verdict.classification != "submission":
        for n in list(message.nominees):
            repo.delete(n)
    for note in parsed.skipped:
        _flag(repo, message, "attachment_skipped", note)
    for r in (x for root in readings for x in root.walk()):
        if r.limited:
            _flag(repo, message, "attachment_skipped", f"{r.filename}：{r.limited}")
        if r.status == "unreadable":
            _flag(repo, message, "attachment_unreadable", f"{r.filename}：{r.detail}")
        elif r.status == "scan_only":
            _flag(repo, message, "scan_only", f"{r.filename}：{r.detail}")


def _reading_key(
    outcome: ParseOutcome,
    settings: Settings,
    duplicate: bool,
    overrides: list[tuple[str, int, str]],
    corrections: list[tuple[int, int | None]],
) -> str:
    """Everything a message's recorded reading follows from: what was read, this code, the
    settings that classify and check it, and what people decided about it (its overrides as
    (field, id, value), its nominees' corrections as (id, nominee id) in the order made). The same
    key means reading it again would record the same; no key (an outcome without a digest) never
    matches."""
    if not outcome.digest:
        return ""
    h = hashlib.sha256()
    h.update(outcome.digest.encode())
    h.update(_code_and_settings(settings).encode())
    h.update(repr(duplicate).encode())
    h.update(repr(sorted(overrides)).encode())
    h.update(repr(corrections).encode())
    return h.hexdigest()


@dataclass(frozen=True)
class _Recorded:
    """What a processed message's reading was recorded against, read for all messages at once
    before a reprocess: the key of that reading and what goes into the key beside the reading."""

    key: str
    classification: str
    duplicate: bool
    overrides: list[tuple[str, int, str]]
    corrections: list[tuple[int, int | None]]


def _recorded(repo: Repo, messages: list[Message]) -> dict[int, _Recorded]:
    """For each processed message (``messages`` in id order) whose reading has a key, what it was
    recorded against (``_apply``'s checks, for every message in three queries)."""
    overrides, corrections = repo.decisions_by_message()
    out: dict[int, _Recorded] = {}
    seen_sha: set[str] = set()
    seen_id: set[str] = set()
    for m in messages:
        # ``Repo.earlier_duplicate``: an earlier message with the same bytes or Message-ID.
        duplicate = m.sha256 in seen_sha or bool(m.message_id and m.message_id in seen_id)
        seen_sha.add(m.sha256)
        if m.message_id:
            seen_id.add(m.message_id)
        key = (m.info or {}).get("reading")
        if m.state == "processed" and m.processed_at is not None and key:
            out[m.id] = _Recorded(
                key, m.classification or "", duplicate, overrides.get(m.id, []), corrections.get(m.id, [])
            )
    return out


def _code() -> str:
    """A digest of the code that turns a reading into records, read when this module is imported:
    a worker that runs on after an upgrade was installed (until the service restarts) still
    records under its own code's digest, so the next reprocess records those messages again."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for package in ("intake", "parsers"):
        for path in sorted((root / package).rglob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


_CODE = _code()
_SETTINGS: tuple[Settings, str] | None = None  # the last settings seen, and their digest


def _code_and_settings(settings: Settings) -> str:
    """A digest of the code that turns a reading into records and of the settings it consults: the
    campaign, provinces and limits, and our own sending address."""
    global _SETTINGS
    if _SETTINGS is None or _SETTINGS[0] is not settings:
        consulted = settings.model_dump(mode="json", include={"campaign", "limits", "provinces", "receipts"})
        consulted["sender"] = settings.smtp.sender
        text = json.dumps(consulted, sort_keys=True, default=str)
        _SETTINGS = (settings, hashlib.sha256(f"{_CODE}\n{text}".encode()).hexdigest())
    return _SETTINGS[1]


def _words(text: str, reading: Reading | None) -> WordCount | None:
    """The narrative's count, as the reader already made it when the text is the whole file's."""
    if not text:
        return None
    if reading is not None and reading.words is not None and text == (reading.narrative_text or reading.text):
        return reading.words
    return count_words(text)


def _compact(name: str) -> str:
    return "".join(name.split())


def _nothing_recognised_detail(readings: list[Reading]) -> str:
    if not readings:
        return "邮件没有附件（如以下载链接发送，请改为附件发送）"
    return "附件中未找到推荐表或推荐汇总表"


def _store_attachments(repo: Repo, store: Store, message: Message, readings: list[Reading]) -> dict[int, int]:
    """One row per file, numbered in reading order (a file, then what was inside it); rows are
    written a level at a time, so a message without archives takes one flush."""
    ids: dict[int, int] = {}
    positions: dict[int, int] = {}

    def number(r: Reading) -> None:
        positions[id(r)] = len(positions)
        for child in r.children:
            number(child)

    for r in readings:
        number(r)
    level: list[tuple[Reading, int | None]] = [(r, None) for r in readings]
    while level:
        rows = []
        for r, parent in level:
            digest = r.sha256 or store.blobs.put(r.payload)
            att = Attachment(
                message_pk=message.id,
                parent_id=parent,
                position=positions[id(r)],
                filename=r.filename[:1000],
                content_type=r.content_type[:255],
                sha256=digest,
                size=r.size or len(r.payload),
                type=r.type,
                role=r.role,
                status=r.status,
                detail=r.detail[:4000],
                info={
                    "records": len(r.records),
                    "words": r.words.words if r.words else None,
                    "chars_nospace": r.words.chars_nospace if r.words else None,
                    **({"technical": r.technical} if r.technical else {}),
                },
            )
            repo.add(att)
            rows.append((r, att))
        repo.flush()
        level = []
        for r, att in rows:
            ids[id(r)] = att.id
            level.extend((child, att.id) for child in r.children)
    return ids


def _flag(repo: Repo, message: Message, code: str, detail: str) -> None:
    repo.add(
        Flag(
            scope="message",
            origin="parse",
            code=code,
            detail=detail[:4000],
            message_pk=message.id,
            province_code=message.province_code,
        )
    )


def received_time(internaldate: datetime | None, parsed: ParsedMessage, now: datetime) -> tuple[datetime, str]:
    """When the server received the message: INTERNALDATE, else the topmost Received, else Date."""
    if internaldate is not None:
        return _aware(internaldate), "internaldate"
    if parsed.first_received is not None:
        return _aware(parsed.first_received), "received"
    if parsed.date is not None:
        return _aware(parsed.date), "date"
    return now.astimezone(UTC), "fetched"


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- after a run


def finish(
    store: Store,
    settings: Settings,
    now: datetime,
    result: RunResult,
    mailer: receipts.Mailer | None,
    stop: StopFlag | None = None,
) -> None:
    """Rules over everything (when anything was processed since they last ran), then the receipts
    that are due (after a stop they wait for the next run). An idle poll reads no message and no
    nominee."""
    with store.session() as repo:
        # A run that processed anything evaluates after its own commits, so whichever process
        # finishes last has seen everyone's (the timestamps alone can miss a commit in flight).
        if result.processed or repo.rules_stale():
            rules.apply(repo, settings, now)
            repo.mark_rules_applied(result.run_id)
    if mailer is not None and stop:
        mailer.close()
    elif mailer is not None:
        from intake.outbox import letters as outbox

        sent, failed = receipts.send_due(store, settings, mailer, now)
        result.receipts_sent += sent
        result.receipts_failed += failed
        try:
            outbox.send_queued(store, settings, mailer, now)  # reminders and returns a person let go
        finally:
            mailer.close()


def reprocess(store: Store, settings: Settings, now: datetime, stop: StopFlag | None = None) -> RunResult:
    """Parse every archived message again with the current code (a reading kept by the same
    parsers is taken as it is: ``parsing.ReadingCache``). Messages never read (new, or failed) are
    claimed first, as a worker would, and their receipts queued; messages already processed are
    read again where they stand and no receipt is queued twice. What is unchanged is found for the
    whole archive at once (``_recorded``)."""
    result = RunResult()
    with store.session() as repo:
        messages = repo.all_messages(with_children=False)
        items = [(m.id, m.sha256) for m in messages if m.state != "processing"]
        due = frozenset(m.id for m in messages if m.state in ("new", "failed"))
        recorded = _recorded(repo, messages)
    _process(store, settings, now, items, result, stop, claim=False, label="reprocessing", due=due, recorded=recorded)
    with store.session() as repo:
        rules.apply(repo, settings, now)
        repo.mark_rules_applied(None)
    return result
