"""Whom we answer, and how our answers are known: never a robot's pen pal (RFC 3834).

A receipt goes to the sender of a submission, never to an automated address, our own address or
a null sender; it carries a Message-ID fixed by the submission it answers, so a receipt cut off
by a crash is recognised where sent mail is kept. Recording a message queues its receipt here, in
the same transaction: a crash leaves both or neither.
"""

from __future__ import annotations

import hashlib
import re

from intake.core.settings import Settings
from intake.core.vocabulary import HELD_FOR_PROVINCE
from store.repo import Message, OutgoingMail, Repo

ROBOT = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?|auto-?reply|notifications?)"
    r"([+\-.].*)?$",
    re.I,
)


def is_robot(addr: str) -> bool:
    return bool(ROBOT.match(addr.split("@", 1)[0]))


def message_id_for(key: str, settings: Settings) -> str:
    """The Message-ID of an outgoing mail: fixed by its key, so a resend after a crash is the same."""
    domain = settings.smtp.sender_address.rsplit("@", 1)[-1] or "intake.local"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


def receipt_message_id(message: Message, settings: Settings) -> str:
    seed = f"{message.message_id}|{message.sha256}|{message.id}".encode()
    digest = hashlib.sha256(seed).hexdigest()[:32]
    domain = settings.smtp.sender_address.rsplit("@", 1)[-1] or "intake.local"
    return f"<receipt.{digest}@{domain}>"


def recipient(message: Message) -> str:
    return (message.reply_to or message.from_addr or "").strip().lower()


def suppression_reason(message: Message, to: str, settings: Settings) -> str:
    if message.classification != "submission":
        return f"不是报送材料（{message.classification}）"
    if not to or "@" not in to:
        return "没有发件地址"
    if to == settings.smtp.sender_address:
        return "本邮箱自己的地址"
    if is_robot(to):
        return "自动发信地址"
    headers = (message.info or {}).get("headers", {})
    if (headers.get("return-path", "x").strip() in ("<>", "")) and "return-path" in headers:
        return "空发件人（Return-Path: <>）"
    return ""


def queue_receipt(repo: Repo, message: Message, settings: Settings) -> OutgoingMail | None:
    """The submission's receipt, queued (or suppressed, with the reason); none when it has one."""
    to = recipient(message)
    reason = suppression_reason(message, to, settings)
    if not reason and message.province_code is None:
        reason = HELD_FOR_PROVINCE
    if not settings.receipts.enabled:
        reason = reason or "配置中已关闭回执"
    return repo.queue_mail(
        OutgoingMail(
            kind="receipt",
            key=f"receipt:{message.id}",
            province_code=message.province_code,
            message_pk=message.id,
            to_addr=to[:320],
            rfc_message_id=receipt_message_id(message, settings),
            state="suppressed" if reason else "queued",
            reason=reason,
            created_by="系统",
            detail={},
        )
    )


def message_ids(text: str) -> list[str]:
    """The ``<…>`` message ids in a header taken from mail, fit to be written again: printable
    ASCII only (anything else, line separators included, would break the header), each bounded."""
    return [m for m in re.findall(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>", text or "")]


def ours(message_id: str, settings: Settings) -> bool:
    """A Message-ID we made (a receipt, a reminder, a return, a summary): of our sender's domain."""
    domain = settings.smtp.sender_address.rsplit("@", 1)[-1]
    return bool(domain) and message_id.strip("<>").lower().endswith("@" + domain.lower())
