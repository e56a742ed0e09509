"""Outlook's own containers: TNEF (``winmail.dat``, tnefparse) and saved messages (``.msg``,
python-oxmsg). Each is unpacked into the files it carries, read like any attachment, and the text
it says (subject, body) so a narrative typed into the mail is not lost. The only module that
imports either library."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import tnefparse
from oxmsg import Message as OutlookMessage
from tnefparse import properties as mapi_properties

from parsers.archives import Budget, Member, safe_name
from parsers.charsets import decode_bytes
from parsers.mime import html_to_text

# tnefparse logs every attribute it does not know at WARNING: Outlook writes many.
logging.getLogger("tnefparse").setLevel(logging.ERROR)


@dataclass
class Unpacked:
    members: list[Member] = field(default_factory=list)
    text: str = ""  # subject and body, for the office and for a narrative typed into the mail
    skipped: list[str] = field(default_factory=list)
    failed: str | None = None
    technical: str = ""
    limit: bool = False


def _mib(n: int) -> str:
    return f"{n / 1048576:.0f} MB"


def _take(out: Unpacked, budget: Budget, name: str, data: bytes, members: int) -> bool:
    if len(out.members) >= members:
        out.skipped.append(f"邮件内附件超过 {members} 个，{name} 及其后的附件未读取")
        return False
    if not budget.take(len(data)):
        out.skipped.append(f"解压后超过每封邮件 {_mib(budget.total)} 的上限，{name} 及其后的附件未读取")
        return False
    out.members.append(Member(safe_name(name), data))
    return True


def unpack_tnef(payload: bytes, budget: Budget, members: int = 500) -> Unpacked:
    """The files inside a ``winmail.dat``: each attachment's long name (or its title, in the
    message's ANSI code page), its bytes; an embedded message comes back as a TNEF of its own."""
    out = Unpacked()
    try:
        tnef = tnefparse.TNEF(payload, do_checksum=False)
    except Exception as exc:  # tnefparse's many shapes of a damaged stream (struct, index, value)
        out.failed = "Outlook邮件附件winmail.dat已损坏，无法读取"
        out.technical = f"{type(exc).__name__}: {exc}"[:2000]
        return out
    body = tnef.body if isinstance(tnef.body, str) else decode_bytes(tnef.body or b"")
    html = tnef.htmlbody if isinstance(tnef.htmlbody, str) else decode_bytes(tnef.htmlbody or b"")
    out.text = body.strip("\0") or html_to_text(html)
    cut = _cut_attachment(payload)
    for index, attachment in enumerate(tnef.attachments):
        name = _tnef_name(attachment) or f"附件{index + 1}"
        data = attachment.data if isinstance(attachment.data, bytes) else b""
        if cut and index == len(tnef.attachments) - 1:
            out.members.append(Member(safe_name(name), b"", "winmail.dat不完整，这个附件只收到一部分，无法读取"))
            break
        if not _take(out, budget, name, data, members):
            break
    return out


def _cut_attachment(payload: bytes) -> bool:
    """Whether the stream ends inside an attachment's data (a mail cut short in transit): tnefparse
    takes what is there without a word."""
    offset = 6
    while offset + 9 <= len(payload):
        ident = int.from_bytes(payload[offset + 1 : offset + 3], "little")
        length = int.from_bytes(payload[offset + 5 : offset + 9], "little")
        end = offset + 9 + length + 2
        if end > len(payload):
            return payload[offset] == 2 and ident in (0x800F, 0x9005)  # attAttachData, attAttachment
        offset = end
    return False


def _tnef_name(attachment: object) -> str:
    long_names = [
        a.data for a in getattr(attachment, "mapi_attrs", []) if a.name == mapi_properties.MAPI_ATTACH_LONG_FILENAME
    ]
    for value in long_names:
        text = value if isinstance(value, str) else decode_bytes(value)
        if text.strip("\0"):
            return text.strip("\0")
    raw = getattr(attachment, "_name", b"")
    return (raw if isinstance(raw, str) else decode_bytes(raw)).strip("\0").strip()


def unpack_msg(payload: bytes, budget: Budget, members: int = 500) -> Unpacked:
    """The files attached to a saved Outlook message, and its subject, sender and body."""
    out = Unpacked()
    try:
        message = OutlookMessage.load(payload)
        subject, sender = message.subject, message.sender or ""
        body = message.body or html_to_text(message.html_body or "")
        attachments = message.attachments
    except Exception as exc:  # olefile's and the reader's many shapes of a damaged file
        out.failed = "Outlook邮件文件已损坏，无法读取"
        out.technical = f"{type(exc).__name__}: {exc}"[:2000]
        return out
    said = (f"主题：{subject}" if subject else "", f"发件人：{sender}" if sender else "", body)
    out.text = "\n".join(x for x in said if x)
    for index, attachment in enumerate(attachments):
        try:
            name = attachment.file_name or f"附件{index + 1}"
            data = attachment.file_bytes if attachment.attached_by_value else None
        except Exception as exc:  # one damaged attachment: the others are still read
            out.technical = f"{type(exc).__name__}: {exc}"[:2000]
            out.members.append(Member(f"附件{index + 1}", b"", "Outlook邮件中的这个附件已损坏，无法读取"))
            continue
        if data is None:
            unread = "Outlook邮件中附带的是另一封邮件或链接，未读取，请直接发送文件"
            out.members.append(Member(safe_name(name), b"", unread))
            continue
        if not _take(out, budget, name, data, members):
            break
    return out
