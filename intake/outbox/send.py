"""The one send loop: receipts, reminders, returns and summaries alike.

Every mail we send is delivered at least once. A row is ``sending`` (its bytes kept) before the
SMTP transaction begins and ``sent`` once the server has accepted it. A row left ``sending`` by a
crash is resolved at the next run before anything new goes: found in the Sent folder, it is
``sent``; not found (or where there is no Sent folder: a Maildir mailbox, or the outbox folder,
whose file is its own record) it is sent again as the identical mail, same Message-ID, with no
backoff and no attempt counted against it. A second copy is thus possible only for a mail cut off
after the server accepted it, and it is the same mail.

Rows are claimed a batch at a time under a lock shared by every process on the database, within
each address's hourly cap (the rest wait an hour, never dropped); a temporary refusal backs off
(doubling), a row still refused after its last attempt is failed for a person to see; an SMTP
server that cannot be reached leaves everything for the next run, no attempt counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from intake.campaign.standing import Standing
from intake.core.errors import ReplyAuthError, ReplyError, SmtpUnavailable, TemporaryReplyError
from intake.core.process import owner
from intake.core.retry import backoff_seconds
from intake.core.settings import Settings
from intake.mail.smtp import Mailer
from intake.outbox.compose import compose
from store.repo import Message, OutgoingMail, Repo, Store

log = logging.getLogger(__name__)

# Rows are claimed, and their messages read, this many at a time: one commit and a few queries
# for the lot; each send is still recorded on its own.
BATCH = 50


@dataclass
class Sent:
    sent: int = 0
    failed: int = 0
    stopped: bool = False  # the server went away: the rest wait for the next run


def send_due(store: Store, settings: Settings, mailer: Mailer, now: datetime) -> tuple[int, int]:
    """Resolve what a crash left ``sending``, then send everything due. (sent, failed)."""
    result = Sent()
    try:
        _resolve(store, settings, mailer, now, result)
        if result.stopped:
            return result.sent, result.failed
        with store.session() as repo:
            due = repo.due_mail(now)
        for start in range(0, len(due), BATCH):
            _send_batch(store, settings, mailer, now, due[start : start + BATCH], result)
            if result.stopped:
                break
    finally:
        mailer.close()
    return result.sent, result.failed


def _resolve(store: Store, settings: Settings, mailer: Mailer, now: datetime, result: Sent) -> None:
    lease = timedelta(minutes=settings.limits.claim_lease_minutes)
    with store.session() as repo:
        left = [(m.id, m.claimed_by) for m in repo.stale_sending(owner(), lease)]
    for pk, claimed_by in left:
        with store.session() as repo:
            if not repo.take_over(pk, claimed_by, owner()):
                continue  # another process resolves it
            mail = repo.outgoing(pk)
            assert mail is not None
            found = mailer.already_sent(mail.rfc_message_id)
            if found is None:
                continue  # cannot tell now (the mailbox is away): left for the next run
            if found:
                mail.state, mail.sent_at, mail.claimed_by = "sent", mail.sent_at or datetime.now(UTC), None
                log.info("%s %s went out before a crash: marked sent", mail.kind, mail.rfc_message_id)
                continue
            # Not found: sent again, the same mail; the attempt the crash took is not counted.
            mail.attempts = max(0, mail.attempts - 1) + 1
            repo.commit()
            message, standing = _context(repo, settings, [mail])
            _deliver(repo, mail, message.get(mail.message_pk or 0), settings, mailer, now, standing, result)
            if result.stopped:
                return


def _context(repo: Repo, settings: Settings, mails: list[OutgoingMail]) -> tuple[dict[int, Message], Standing | None]:
    """What composing ``mails`` reads: the messages receipts answer, and the standing."""
    wanted = [m.message_pk for m in mails if m.kind == "receipt" and m.raw is None and m.message_pk]
    if not wanted:
        return {}, None
    return repo.messages_for_reports(wanted), Standing(repo, settings)


def _claim_within_cap(repo: Repo, settings: Settings, now: datetime, pks: list[int]) -> list[OutgoingMail]:
    """Claim the rows of ``pks`` still queued, none beyond the hourly cap of what one address is
    sent: those wait an hour; a mail is never dropped. Counted and claimed under the lock."""
    repo.lock_sending()
    waiting = [m for m in repo.outgoing_by_id(pks) if m.state == "queued"]
    counts = repo.mail_sent_counts_since([m.to_addr for m in waiting], now - timedelta(hours=1))
    take = []
    for m in waiting:
        if counts.get(m.to_addr, 0) >= settings.receipts.per_sender_per_hour:
            m.next_attempt_at = now + timedelta(hours=1)
            log.info("%s to %s waits an hour: per-address cap reached", m.kind, mask(m.to_addr))
            continue
        counts[m.to_addr] = counts.get(m.to_addr, 0) + 1
        take.append(m.id)
    return repo.claim_mail(take, owner())  # commits the waits with the claims


def _send_batch(store: Store, settings: Settings, mailer: Mailer, now: datetime, pks: list[int], result: Sent) -> None:
    """Send one batch; rows claimed but not tried when it ends early go back to the queue."""
    with store.session() as repo:
        claimed = _claim_within_cap(repo, settings, now, pks)
        messages, standing = _context(repo, settings, claimed)
        tried = 0
        try:
            for mail in claimed:
                tried += 1
                _deliver(repo, mail, messages.get(mail.message_pk or 0), settings, mailer, now, standing, result)
                if result.stopped:
                    return
        finally:
            if tried < len(claimed):
                # In a session of its own: nothing half-done in this one is committed with it.
                with store.session() as other:
                    other.release_mail_claims([m.id for m in claimed[tried:]], owner())


def _deliver(
    repo: Repo,
    mail: OutgoingMail,
    message: Message | None,
    settings: Settings,
    mailer: Mailer,
    now: datetime,
    standing: Standing | None,
    result: Sent,
) -> None:
    """Compose (once: the bytes are kept before the send), send, record what the server said."""
    if mail.raw is None:
        try:
            raw, subject, body = compose(repo, mail, message, settings, now, standing or Standing(repo, settings))
        except Exception as exc:  # one mail that cannot be written never holds up the others
            mail.state, mail.last_error = "failed", f"无法生成邮件：{type(exc).__name__}: {exc}"[:2000]
            repo.commit()
            result.failed += 1
            log.exception("%s %s could not be composed", mail.kind, mail.id)
            return
        mail.raw, mail.subject, mail.body = raw, subject[:1000], body
        repo.commit()
    assert mail.raw is not None
    try:
        mailer.send(mail.raw, mail.to_addr, mail.rfc_message_id)
    except ReplyAuthError:
        # Not this mail's fault: it waits, and the run stops with the reason.
        _requeue(mail, "")
        repo.commit()
        raise
    except SmtpUnavailable as exc:
        _requeue(mail, str(exc))  # an outage is nobody's attempt: this one and the rest wait
        repo.commit()
        result.stopped = True
        log.warning("SMTP unavailable (%s): the mail due waits for the next run", exc)
        return
    except TemporaryReplyError as exc:
        _defer(mail, settings, now, str(exc))
        result.failed += mail.state == "failed"
        repo.commit()
        log.warning("%s to %s deferred: %s", mail.kind, mask(mail.to_addr), exc)
        return
    except ReplyError as exc:
        mail.state, mail.last_error, mail.claimed_by = "failed", str(exc)[:2000], None
        repo.commit()
        result.failed += 1
        log.error("%s to %s failed: %s", mail.kind, mask(mail.to_addr), exc)
        return
    mail.state, mail.sent_at, mail.last_error, mail.claimed_by = "sent", datetime.now(UTC), "", None
    repo.commit()
    result.sent += 1
    mailer.keep_copy(mail.raw)


def _requeue(mail: OutgoingMail, error: str) -> None:
    mail.state, mail.claimed_by, mail.attempts = "queued", None, max(0, mail.attempts - 1)
    if error:
        mail.last_error = error[:2000]


def _defer(mail: OutgoingMail, settings: Settings, now: datetime, error: str) -> None:
    """A temporary refusal: tried again later (doubling), failed after the last attempt."""
    mail.last_error, mail.claimed_by = error[:2000], None
    if mail.attempts >= settings.receipts.max_attempts:
        mail.state = "failed"
        return
    mail.state = "queued"
    first = settings.receipts.retry_minutes * 60
    mail.next_attempt_at = now + timedelta(seconds=backoff_seconds(mail.attempts, first, first * 64))


def mask(addr: str) -> str:
    local_part, _, domain = addr.partition("@")
    return f"{local_part[:2]}…@{domain}"
