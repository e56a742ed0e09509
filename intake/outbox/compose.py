"""A row of the outbox made into the mail that goes out, as bytes. A receipt is written from the
standing at that moment; a reminder or a return from the words a person approved; a summary was
written whole when it was queued (it carries its workbook)."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import format_datetime, formataddr, parseaddr

from intake.campaign.standing import Standing
from intake.core.settings import Settings
from intake.core.text import display_name, header_text
from intake.outbox.receipts import build_receipt
from store.repo import Message as StoredMessage
from store.repo import OutgoingMail, Repo


def wire_bytes(msg: Message) -> bytes:
    """The mail as it is sent and kept: CRLF line ends."""
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def plain_text(msg: Message) -> str:
    """The plain-text body of a mail we wrote, as kept on record."""
    for part in msg.walk():
        if part.get_content_type() == "text/plain" and not part.get_filename():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", "replace")
    return ""


def letter(mail: OutgoingMail, settings: Settings, now: datetime) -> EmailMessage:
    """A reminder or a return, from its stored subject and body."""
    msg = EmailMessage()
    name, addr = parseaddr(settings.smtp.sender)
    msg["Subject"] = mail.subject
    msg["From"] = formataddr((name, addr))
    msg["To"] = mail.to_addr
    msg["Date"] = format_datetime(now.astimezone(settings.campaign.tz))
    msg["Message-ID"] = mail.rfc_message_id
    if mail.in_reply_to:
        msg["In-Reply-To"] = mail.in_reply_to
        msg["References"] = mail.references or mail.in_reply_to
    if mail.kind == "reminder":
        msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(mail.body, charset="utf-8")
    return msg


def compose(
    repo: Repo,
    mail: OutgoingMail,
    message: StoredMessage | None,
    settings: Settings,
    now: datetime,
    standing: Standing,
) -> tuple[bytes, str, str]:
    """(the bytes that go out, the subject, the plain text kept on record)."""
    if mail.raw is not None:
        return mail.raw, mail.subject, mail.body
    if mail.kind == "receipt":
        assert message is not None
        built: Message = build_receipt(repo, message, mail, settings, now, standing)
        subject = f"回执：{header_text(display_name(message.subject or '') or '（无主题）', 200)}"
        return wire_bytes(built), subject, plain_text(built)
    built = letter(mail, settings, now)
    return wire_bytes(built), mail.subject, mail.body
