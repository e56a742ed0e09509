"""``intake poll``: fetch → archive → read → record → rules → send.

``run_once(source, store, settings, now, mailer)`` is what the CLI and the scheduler both call.
Each message is archived and its row committed before anything else is done with it; messages are
read while the rest are still being fetched; a message that fails to read is recorded with its
traceback and the run goes on.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from intake.campaign.rebuild import refresh
from intake.core.errors import MailboxError, MailboxUnavailable
from intake.core.process import StopFlag, owner
from intake.core.progress import Bar, bars
from intake.core.settings import Settings
from intake.ingest.reading import MessageReader, RunResult
from intake.mail.smtp import Mailer
from intake.mail.sources.base import FetchedMessage, MailSource
from intake.outbox.send import send_due
from parsers.mime import normalise_message_id
from store.repo import Message, Repo, Store

log = logging.getLogger(__name__)

__all__ = ["RunResult", "StopFlag", "finish", "run_once"]


def run_once(
    source: MailSource,
    store: Store,
    settings: Settings,
    now: datetime,
    mailer: Mailer | None = None,
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
                with MessageReader(store, settings, now, result, stop, processing, claim=True) as reading:
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
    reading: MessageReader,
    bar: Bar,
    reconnects: int,
) -> None:
    """The fetch, tried again on a new connection when one is lost midway (``reconnects`` times);
    a server that cannot be reached at all fails now, within its timeout."""

    def lost(exc: BaseException) -> bool:
        return isinstance(exc, MailboxError) and not isinstance(exc, MailboxUnavailable)

    def say(state: RetryCallState) -> None:
        log.warning("mailbox: %s; reconnecting (%d/%d)", state.outcome.exception(), state.attempt_number, reconnects)  # type: ignore[union-attr]

    for attempt in Retrying(
        retry=retry_if_exception(lost), stop=stop_after_attempt(reconnects + 1), before_sleep=say, reraise=True
    ):
        with attempt:
            _fetch_all(source, store, settings, result, stop, reading, bar)


def _fetch_all(
    source: MailSource,
    store: Store,
    settings: Settings,
    result: RunResult,
    stop: StopFlag | None,
    reading: MessageReader,
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
        claim_for=owner(),
    )
    if message is not None and is_new:
        result.new += 1
        return message
    return None


def _quick_message_id(raw: bytes) -> str:

    head = raw[:65536]
    end = re.search(rb"\r?\n\r?\n", head)  # the header ends at the first empty line
    try:
        headers = BytesHeaderParser().parsebytes(head[: end.end()] if end else head)
        return normalise_message_id(headers.get("Message-ID", ""))
    except Exception:
        return ""


def _pending(store: Store, settings: Settings) -> list[tuple[int, str]]:
    """Messages waiting to be read (left by a run that stopped or died), claims of workers that
    died released first."""
    with store.session() as repo:
        repo.release_stale_claims(owner(), timedelta(minutes=settings.limits.claim_lease_minutes))
        return [(m.id, m.sha256) for m in repo.pending_messages()]


def finish(
    store: Store,
    settings: Settings,
    now: datetime,
    result: RunResult,
    mailer: Mailer | None,
    stop: StopFlag | None = None,
) -> None:
    """Rules over everything (when anything was processed since they last ran), then the receipts
    that are due (after a stop they wait for the next run). An idle poll reads no message and no
    nominee."""
    with store.session() as repo:
        # A run that processed anything evaluates after its own commits, so whichever process
        # finishes last has seen everyone's (the timestamps alone can miss a commit in flight).
        if result.processed or repo.rules_stale():
            refresh(repo, settings, now)
            repo.mark_rules_applied(result.run_id)
    if mailer is not None and stop:
        mailer.close()
    elif mailer is not None:
        # Everything due goes: receipts, reminders and returns a person let go, summaries.
        sent, failed = send_due(store, settings, mailer, now)
        result.receipts_sent += sent
        result.receipts_failed += failed
