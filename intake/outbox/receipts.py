"""Receipts (回执): one per submission message, to people, never to robots, never twice.

Each submission queues one row (``queued`` → ``sending`` → ``sent`` | ``failed``, or
``suppressed`` with the reason). ``sent`` is committed before the SMTP server is given the final
``.`` of the message, so a crash can never leave a delivered receipt unrecorded. The receipt's
Message-ID is derived from the submission, and a row left in ``sending`` by a worker that died is
resolved by looking for that Message-ID where sent mail is kept (the Sent folder, or the outbox
folder) before anything is sent again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.header import Header
from email.message import Message as MailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from typing import TYPE_CHECKING, Protocol

from intake.core.errors import ReplyAuthError, ReplyError, SmtpUnavailable, TemporaryReplyError
from intake.core.settings import Settings
from intake.core.vocabulary import labels, render_template
from intake.mail import smtp as mailers
from store.repo import Message, Receipt, Repo, Store

if TYPE_CHECKING:
    from intake.campaign.standing import ProvinceFacts

log = logging.getLogger(__name__)

ROBOT = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|auto-?reply|notifications?)"
    r"([+\-.].*)?$",
    re.I,
)


class Mailer(Protocol):
    def send(self, msg: MailMessage, to: str, record: Callable[[], None] | None = None) -> None: ...

    def already_sent(self, rfc_message_id: str) -> bool | None: ...

    def keep_copy(self, msg: MailMessage) -> None: ...

    def close(self) -> None: ...


def receipt_message_id(message: Message, settings: Settings) -> str:
    seed = f"{message.message_id}|{message.sha256}|{message.id}".encode()
    digest = hashlib.sha256(seed).hexdigest()[:32]
    domain = settings.smtp.sender_address.rsplit("@", 1)[-1] or "intake.local"
    return f"<receipt.{digest}@{domain}>"


def recipient(message: Message) -> str:
    return (message.reply_to or message.from_addr or "").strip().lower()


def suppression_reason(message: Message, to: str, settings: Settings) -> str:
    if message.classification != "submission":
        return f"not a submission ({message.classification})"
    if not to or "@" not in to:
        return "no sender address"
    if to == settings.smtp.sender_address:
        return "our own address"
    if ROBOT.match(to.split("@", 1)[0]):
        return "an automated address"
    headers = (message.info or {}).get("headers", {})
    if (headers.get("return-path", "x").strip() in ("<>", "")) and "return-path" in headers:
        return "null sender (Return-Path: <>)"
    return ""


# A submission whose province nobody could tell waits for a person to name it (actions.assign_province).
HELD_FOR_PROVINCE = "报送省份未能确定，待人工指定后发送"


def queue(repo: Repo, message: Message, settings: Settings) -> Receipt | None:
    to = recipient(message)
    reason = suppression_reason(message, to, settings)
    if not reason and message.province_code is None:
        reason = HELD_FOR_PROVINCE
    if not settings.receipts.enabled:
        reason = reason or "receipts disabled in the configuration"
    return repo.queue_receipt(
        message,
        to_addr=to[:320],
        rfc_message_id=receipt_message_id(message, settings),
        state="suppressed" if reason else "queued",
        reason=reason,
    )


def resolve_sending(store: Store, mailer: Mailer, lease: timedelta) -> None:
    """Rows left in ``sending`` by a worker that died: sent if the copy is found, else queued again.
    A row another live worker is sending right now is left alone."""
    with store.session() as repo:
        for r in repo.stale_sending_receipts(owner(), lease):
            found = mailer.already_sent(r.rfc_message_id)
            if found:
                r.state, r.sent_at = "sent", r.sent_at or datetime.now(UTC)
                log.info("receipt %s was sent before a crash: marked sent", r.rfc_message_id)
            elif found is False:
                r.state = "queued"
            # None: cannot tell now (mailbox unreachable): leave it for the next cycle.


def send_due(store: Store, settings: Settings, mailer: Mailer, now: datetime) -> tuple[int, int]:
    try:
        return _send_due(store, settings, mailer, now)
    finally:
        mailer.close()


# Receipts are claimed, and their messages read, this many at a time: one commit and a few queries
# for the lot instead of several for each; the send itself is still recorded one by one.
BATCH = 50


def _send_due(store: Store, settings: Settings, mailer: Mailer, now: datetime) -> tuple[int, int]:
    resolve_sending(store, mailer, timedelta(minutes=settings.limits.claim_lease_minutes))
    sent = failed = 0
    with store.session() as repo:
        due = [r.id for r in repo.due_receipts(now)]
    for start in range(0, len(due), BATCH):
        s, f, go_on = _send_batch(store, settings, mailer, now, due[start : start + BATCH])
        sent, failed = sent + s, failed + f
        if not go_on:
            break
    return sent, failed


def _claim_within_cap(repo: Repo, settings: Settings, now: datetime, pks: list[int]) -> list[Receipt]:
    """Claim the receipts of ``pks`` still queued, but none beyond the hourly cap of what one
    address is sent: those wait an hour; a receipt is never dropped. Counted and claimed under a
    lock: two processes sending at once do not both find room under the cap."""
    repo.lock_sending()
    waiting = [r for r in repo.receipts_by_id(pks) if r.state == "queued"]
    counts = repo.mail_sent_counts_since([r.to_addr for r in waiting], now - timedelta(hours=1))
    take = []
    for r in waiting:
        if counts.get(r.to_addr, 0) >= settings.receipts.per_sender_per_hour:
            r.next_attempt_at = now + timedelta(hours=1)
            log.info("receipt to %s waits an hour: per-sender cap reached", _mask(r.to_addr))
            continue
        counts[r.to_addr] = counts.get(r.to_addr, 0) + 1
        take.append(r.id)
    return repo.claim_receipts(take, owner())  # commits the waits with the claims


def _send_batch(
    store: Store, settings: Settings, mailer: Mailer, now: datetime, pks: list[int]
) -> tuple[int, int, bool]:
    """Send one batch of due receipts: (sent, failed, whether to go on with the next batch).
    Receipts claimed but not tried when the batch ends early go back to the queue."""
    from intake.campaign.standing import ProvinceFacts

    sent = failed = 0
    with store.session() as repo:
        claimed = _claim_within_cap(repo, settings, now, pks)
        messages = repo.messages_for_reports([r.message_pk for r in claimed])
        facts = ProvinceFacts(repo, settings)
        tried = 0
        try:
            for r in claimed:
                tried += 1
                message = messages[r.message_pk]
                try:
                    email_msg = build_receipt(repo, message, r, settings, now, facts)
                except Exception as exc:  # one receipt that cannot be written never holds up the others
                    r.state, r.sent_at = "failed", None
                    r.last_error = f"receipt could not be built: {type(exc).__name__}: {exc}"[:2000]
                    repo.commit()
                    failed += 1
                    log.exception("receipt for message %s could not be built", r.message_pk)
                    continue

                def record(r: Receipt = r, text: str = plain_text(email_msg)) -> None:
                    # Committed before the server takes the message: see SmtpMailer.send.
                    r.state, r.sent_at, r.last_error, r.body = "sent", datetime.now(UTC), "", text
                    repo.commit()

                try:
                    mailer.send(email_msg, r.to_addr, record)
                except ReplyAuthError:
                    # Not this receipt's fault: it waits, and the run stops with the reason.
                    r.state, r.sent_at = "queued", None
                    repo.commit()
                    raise
                except SmtpUnavailable as exc:
                    # An outage is nobody's attempt: this receipt and the rest wait for the next run.
                    r.state, r.sent_at, r.last_error = "queued", None, str(exc)[:2000]
                    r.attempts = max(0, r.attempts - 1)
                    repo.commit()
                    log.warning("SMTP unavailable (%s): the receipts due wait for the next run", exc)
                    return sent, failed, False
                except TemporaryReplyError as exc:
                    r.last_error = str(exc)[:2000]
                    if r.attempts >= settings.receipts.max_attempts:
                        r.state = "failed"
                        failed += 1
                    else:
                        r.state = "queued"
                        delay = settings.receipts.retry_minutes * (2 ** min(r.attempts - 1, 6))
                        r.next_attempt_at = now + timedelta(minutes=delay)
                    r.sent_at = None
                    repo.commit()
                    log.warning("receipt to %s deferred: %s", _mask(r.to_addr), exc)
                    continue
                except ReplyError as exc:
                    r.state, r.last_error, r.sent_at = "failed", str(exc)[:2000], None
                    repo.commit()
                    failed += 1
                    log.error("receipt to %s failed: %s", _mask(r.to_addr), exc)
                    continue
                sent += 1
                mailer.keep_copy(email_msg)
        finally:
            if tried < len(claimed):
                # In a session of its own: nothing half-done in this one is committed with it.
                with store.session() as other:
                    other.release_receipt_claims([r.id for r in claimed[tried:]], owner())
    return sent, failed, True


def plain_text(msg: MailMessage) -> str:
    """The plain-text body of a message we wrote, as kept on record."""
    for part in msg.walk():
        if part.get_content_type() == "text/plain" and not part.get_filename():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return ""


def owner() -> str:
    """Who holds a claim: this host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _mask(addr: str) -> str:
    local, _, domain = addr.partition("@")
    return f"{local[:2]}…@{domain}"


def build_receipt(
    repo: Repo,
    message: Message,
    receipt: Receipt,
    settings: Settings,
    now: datetime,
    facts: ProvinceFacts | None = None,
) -> MIMEMultipart:
    from intake.campaign.standing import message_report

    report = message_report(repo, message, settings, facts)
    context = {
        **report,
        "reference": receipt_reference(receipt, settings),
        "now": now.astimezone(settings.campaign.tz),
        "labels": labels,
    }
    text = render_template(settings, "receipt.txt.j2", context)
    html = render_template(settings, "receipt.html.j2", context)
    # Written with the email package's classic classes: several times cheaper than its newer
    # header objects, which parse each header we set and fold it again (most of a receipt's cost).
    msg = MIMEMultipart("alternative")
    msg["Subject"] = Header(f"回执：{_header_text(report['subject'], 200)}", "utf-8")
    msg["From"] = formataddr(parseaddr(settings.smtp.sender), charset="utf-8")
    msg["To"] = receipt.to_addr
    msg["Date"] = format_datetime(now.astimezone(settings.campaign.tz))
    msg["Message-ID"] = receipt.rfc_message_id
    own_id = message_ids(message.message_id)[-1:]
    if own_id:
        msg["In-Reply-To"] = own_id[0]
        refs = message_ids((message.info or {}).get("headers", {}).get("references", ""))
        msg["References"] = " ".join([*refs[-10:], *own_id])
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Precedence"] = "auto_reply"
    msg.attach(MIMEText(text, "plain", "utf-8"))  # base64
    msg.attach(MIMEText(html, "html", "utf-8"))
    return msg


def receipt_reference(receipt: Receipt, settings: Settings) -> str:
    """HZ, the day the receipt was made in the campaign's time zone (Beijing), the message's number."""
    created = (receipt.created_at or datetime.now(UTC)).astimezone(settings.campaign.tz)
    return f"HZ{created:%Y%m%d}-{receipt.message_pk:05d}"


def message_ids(text: str) -> list[str]:
    """The ``<…>`` message ids in a header taken from mail, fit to be written again: printable
    ASCII only (anything else, line separators included, would break the header), each bounded."""
    return [m for m in re.findall(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>", text or "")]


def _header_text(text: str, limit: int) -> str:
    """Text from mail made fit for a header we write: as shown to people (one line, no control or
    bidi characters), and cut."""
    from intake.campaign.standing import display_name

    clean = display_name(text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def make_mailer(settings: Settings) -> Mailer:
    return mailers.make_mailer(settings)
