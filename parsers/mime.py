"""MIME: raw message bytes in, :class:`ParsedMessage` out.

The only module that imports ``mailparser`` (and ``inscriptis``, for HTML bodies). mail-parser
builds the message tree (guarded against runaway nesting) and reads dates and ``Received``
headers; the Chinese-mail repairs are ours: ``gb2312``/``gbk`` labels decoded as GB18030, encoded
words inside quoted ``filename="…"``, RFC 2231 parameters in the wrong charset, raw 8-bit header
bytes, characters split across encoded words, forwarded ``message/rfc822`` parts unpacked
recursively, inline (cid) images left out.
"""

from __future__ import annotations

import email
import email.utils
import html as htmlmod
import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser

import mailparser
from inscriptis import get_text

from parsers.charsets import decode_bytes, decode_header_text, decode_rfc2231, one_line, undo_surrogates
from parsers.mime_limits import DETACHED_HEADER, HEADER_END, cap_header_fields, detach_large_parts
from parsers.smime import OPAQUE_TYPES, SMIME_TYPES, Verdict, canonical, cms_kind, signed_content, verify

log = logging.getLogger(__name__)

MAX_FORWARD_DEPTH = 30
MAX_PARTS = 5000


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    payload: bytes
    origin: str = ""  # "" for the message itself, else the path of forwarded messages it came from


@dataclass(frozen=True)
class Forwarded:
    subject: str
    from_addr: str
    from_name: str
    date: datetime | None


@dataclass
class ParsedMessage:
    message_id: str
    subject: str
    from_addr: str
    from_name: str
    reply_to: str
    to: list[str]
    date: datetime | None
    first_received: datetime | None
    content_type: str
    headers: dict[str, str]
    text: str
    html: str
    attachments: list[Attachment] = field(default_factory=list)
    forwarded: list[Forwarded] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    report_parts: list[str] = field(default_factory=list)  # content types of report parts, anywhere
    failure: str | None = None  # why the body could not be read at all (the headers still were)
    skipped: list[str] = field(default_factory=list)  # parts left unread because of a limit (Chinese)
    signatures: list[Verdict] = field(default_factory=list)  # S/MIME signatures, each checked

    @property
    def body_text(self) -> str:
        """Plain text if any, else the HTML with its tags removed."""
        if self.text.strip():
            return self.text
        return html_to_text(self.html)

    @property
    def own_text(self) -> str:
        """The body in the sender's own words: what a reply quotes of an earlier mail left out."""
        return own_words(self.body_text)


# Headers kept for classification and replies.
KEPT_HEADERS = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "return-path",
    "in-reply-to",
    "references",
    "x-failed-recipients",
    "x-mailer",
)


DETACH_ABOVE = 4 * 1024 * 1024
# A header field longer than this (a real Subject is well under 1 KB) is cut before parsing: the
# header decoders underneath take minutes over a field of a few megabytes. The archive keeps it whole.
MAX_HEADER_FIELD = 32 * 1024


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse a whole message. Never raises on malformed input: defects are listed instead.

    Leaf parts larger than a few megabytes are cut out of the bytes before the email parser sees
    them (it would hold several copies of each as text) and decoded straight from the raw bytes.
    """
    defects: list[str] = []
    raw = cap_header_fields(raw, MAX_HEADER_FIELD, defects)
    original = raw  # what a signature signed: the parts as sent, before large ones are cut out
    raw, detached = detach_large_parts(raw, DETACH_ABOVE)
    try:
        parser = mailparser.parse_from_bytes(raw)
        msg: Message = parser.message
        defects.extend(sorted(parser.defects_categories))
    except Exception as exc:  # mail-parser and the email package raise many kinds on bad mail
        defects.append(f"mail-parser: {type(exc).__name__}: {str(exc)[:200]}")
        msg = _stdlib_message(raw, defects)
    if msg is None:
        msg = _stdlib_message(raw, defects)
    failure = None
    if not msg.keys() and (head := _header_only(raw)).keys():
        # Neither parser could build the message (nesting past the interpreter's recursion limit,
        # say): the top-level headers are read from the raw bytes, the body is left in the archive.
        msg = head
        failure = "邮件结构过于复杂（多层嵌套），正文和附件未能读取，原邮件已收存"

    hint = _charset_hint(msg)

    def header(name: str) -> str:
        return decode_header_text(raw_header(msg, name, hint), hint)

    def header_all(name: str) -> list[str]:
        return [decode_header_text(v, hint) for v in raw_headers(msg, name, hint)]

    from_name, from_addr = _address(header("from"))
    _, reply_to = _address(header("reply-to"))
    to = [a.lower() for _, a in email.utils.getaddresses(header_all("to")) if a]
    headers = {name: header(name) for name in KEPT_HEADERS if raw_header(msg, name) is not None}

    walker = _Walker(hint, detached, original)
    try:
        if failure is None:  # a message read for its headers only has no body to walk
            walker.walk(msg, origin="", depth=0)
    except Exception as exc:  # a structure the email package cannot walk: keep what was read
        defects.append(f"MIME structure not readable past this point: {type(exc).__name__}")
    defects.extend(walker.defects)

    return ParsedMessage(
        message_id=normalise_message_id(header("message-id")),
        subject=header("subject"),
        from_addr=from_addr,
        from_name=from_name,
        reply_to=reply_to,
        to=to,
        date=parse_date(header("date")),
        first_received=first_received(header_all("received")),
        content_type=msg.get_content_type(),
        headers=headers,
        text="\n".join(walker.text),
        html="\n".join(walker.html),
        attachments=walker.attachments,
        forwarded=walker.forwarded,
        defects=defects,
        report_parts=walker.report_parts,
        failure=failure,
        skipped=walker.skipped,
        signatures=walker.signatures,
    )


def _signed_bytes(raw: bytes, boundary: str) -> bytes | None:
    """The first part of a multipart/signed as it stands in the raw message: from after its first
    delimiter line to the line break before the next (RFC 1847: exactly what was signed)."""
    if not boundary:
        return None
    mark = re.escape(b"--" + boundary.encode("ascii", "replace"))
    start = re.search(rb"(?:^|\n)" + mark + rb"[ \t]*\r?\n", raw)
    if start is None:
        return None
    end = re.search(rb"\r?\n" + mark, raw[start.end() :])
    if end is None:
        return None
    return raw[start.end() : start.end() + end.start()]


def _header_only(raw: bytes) -> Message:

    end = HEADER_END.search(raw, 0, 4 * 1024 * 1024)
    try:
        return BytesHeaderParser().parsebytes(raw[: end.end() if end else 4 * 1024 * 1024])
    except Exception:
        return Message()


@dataclass(frozen=True)
class TopHeaders:
    message_id: str
    subject: str
    from_addr: str
    from_name: str


def top_headers(head: bytes) -> TopHeaders:
    """The top-level headers from the first bytes of a raw message, without reading its body."""
    msg = _header_only(head)
    hint = msg.get_content_charset()

    def header(name: str) -> str:
        return decode_header_text(raw_header(msg, name, hint), hint)

    from_name, from_addr = _address(header("from"))
    return TopHeaders(normalise_message_id(header("message-id")), header("subject"), from_addr, from_name)


def _stdlib_message(raw: bytes, defects: list[str]) -> Message:
    """The standard library's reading, so the headers at least can be read; an empty message when
    even that fails (the raw bytes stay in the archive)."""
    try:
        return email.message_from_bytes(raw)
    except Exception as exc:
        defects.append(f"email: {type(exc).__name__}")
        return Message()


def normalise_message_id(value: object) -> str:
    text = decode_header_text(value).strip()
    m = re.search(r"<[^<>]+>", text)
    if m:
        return m.group(0)
    return f"<{text}>" if text else ""


def _address(text: str) -> tuple[str, str]:
    if not text:
        return "", ""
    name, addr = email.utils.parseaddr(text)
    if not addr and "@" in text:
        m = re.search(r"[\w.+'-]+@[\w.-]+", text)
        addr = m.group(0) if m else ""
    return name.strip().strip('"'), addr.strip().lower()


def parse_date(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return dt


def first_received(values: list[str]) -> datetime | None:
    """The time in the topmost ``Received`` header: when our server took the message."""
    for text in values:
        if ";" not in text:
            continue
        dt = parse_date(text.rsplit(";", 1)[1].strip())
        if dt is not None:
            return dt
    return None


# Where a reply's quotation of an earlier mail begins: Outlook, Foxmail, QQ and NetEase mail,
# Gmail and Apple Mail, in Chinese and English.
_QUOTE_START = re.compile(
    r"^\s*(-{2,}\s*(原始邮件|Original Message|Forwarded message|转发邮件)\s*-{2,}"
    r"|(发件人|From)\s*[:：].+|在\s*.{4,60}写道\s*[:：]?\s*$|On .{6,120} wrote:\s*$|_{10,})",
    re.I | re.M,
)


def own_words(body: str) -> str:
    """``body`` without what it quotes: lines quoted with ``>`` and everything from the first
    marker of a quoted earlier mail."""
    m = _QUOTE_START.search(body or "")
    text = body[: m.start()] if m else (body or "")
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))


_TAG = re.compile(r"<[^>]+>")


def html_to_text(html: str) -> str:
    """An HTML body or file as the text a reader sees (inscriptis lays out paragraphs, line breaks
    and tables; scripts and styles are dropped). Markup nested past what the HTML parser takes
    (a hostile body) is stripped of its tags instead, so its words are not lost."""
    try:
        text = get_text(html)
    except (ValueError, TypeError, RecursionError):
        text = ""
    if text.strip() or not html.strip():
        return text
    stripped = re.sub(r"(?is)<(script|style)[^>]*>.*?</\1>", " ", html)
    return htmlmod.unescape(_TAG.sub(" ", stripped))


def raw_headers(part: Message, name: str, hint: str | None = None) -> list[str]:
    """Every value of a header, raw 8-bit bytes decoded (the email package would replace them)."""
    out = []
    for key, value in part.raw_items():
        if key.lower() == name:
            text = value if isinstance(value, str) else str(value)
            raw = undo_surrogates(text)
            out.append(decode_bytes(raw, None, hint) if raw is not None else text)
    return out


def raw_header(part: Message, name: str, hint: str | None = None) -> str | None:
    values = raw_headers(part, name, hint)
    return values[0] if values else None


def _charset_hint(msg: Message) -> str | None:
    """The first charset the message declares: the best guess for unlabelled 8-bit header bytes."""
    for i, part in enumerate(msg.walk()):
        if i > 50:
            break
        charset = part.get_content_charset()
        if charset and charset.lower() not in ("us-ascii", "ascii", "utf-8", "utf8"):
            return charset
    return None


def part_filename(part: Message, hint: str | None = None) -> str:
    """The part's filename, repaired: RFC 2231, encoded words in quotes, raw 8-bit bytes."""
    for header in ("content-disposition", "content-type"):
        param = "filename" if header == "content-disposition" else "name"
        text = raw_header(part, header, hint)
        if text is None:
            continue
        view = Message()
        view[header] = text
        try:
            value = view.get_param(param, header=header)
        except (ValueError, TypeError, LookupError):
            value = None
        if value is None:
            continue
        if isinstance(value, tuple):
            decoded = decode_rfc2231(value)
        else:
            decoded = decode_header_text(value.strip('"'), hint)
        if decoded:
            return one_line(decoded).strip('"')[:1000]
    return ""


def part_payload(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except (ValueError, TypeError, LookupError, AssertionError):
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


class _Walker:
    def __init__(self, hint: str | None, detached: dict[int, bytes] | None = None, original: bytes = b"") -> None:
        self.hint = hint
        self.detached = detached or {}
        self.original = original
        self.signatures: list[Verdict] = []
        self.text: list[str] = []
        self.html: list[str] = []
        self.attachments: list[Attachment] = []
        self.forwarded: list[Forwarded] = []
        self.defects: list[str] = []
        self.report_parts: list[str] = []
        self.skipped: list[str] = []
        self.parts = 0

    def walk(self, part: Message, origin: str, depth: int) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            if self.parts == MAX_PARTS + 1:
                self.defects.append(f"more than {MAX_PARTS} MIME parts: the rest is kept in the archive only")
                self.skipped.append(f"邮件超过 {MAX_PARTS} 个部分，其余部分未读取（原邮件已收存）")
            return
        ctype = part.get_content_type()
        if part.is_multipart():
            children = part.get_payload()
            if ctype == "multipart/report":
                self.report_parts.extend(c.get_content_type() for c in children if isinstance(c, Message))
            if ctype == "message/rfc822" or (ctype.startswith("message/") and ctype != "message/delivery-status"):
                self._forwarded(part, children, origin, depth)
                return
            if ctype == "multipart/signed" and isinstance(children, list):
                self._signed(part, children, origin, depth)
                return
            for child in children if isinstance(children, list) else []:
                if isinstance(child, Message):
                    self.walk(child, origin, depth)
            return
        if ctype in ("message/rfc822", "message/global"):
            # A forwarded message that the parser left as text (e.g. base64-encoded).
            inner = email.message_from_bytes(part_payload(part))
            self._forwarded(part, [inner], origin, depth)
            return
        self._leaf(part, ctype, origin, depth)

    def _forwarded(self, part: Message, children: object, origin: str, depth: int) -> None:
        if depth + 1 > MAX_FORWARD_DEPTH:
            self.defects.append(f"forwarded messages nested deeper than {MAX_FORWARD_DEPTH}: inner ones not read")
            self.skipped.append(f"转发邮件嵌套超过 {MAX_FORWARD_DEPTH} 层，内层邮件未读取（原邮件已收存）")
            return
        for child in children if isinstance(children, list) else []:
            if not isinstance(child, Message):
                continue
            name, addr = _address(decode_header_text(raw_header(child, "from", self.hint), self.hint))
            subject = decode_header_text(raw_header(child, "subject", self.hint), self.hint)
            date = parse_date(raw_header(child, "date"))
            self.forwarded.append(Forwarded(subject, addr, name, date))
            label = subject or part_filename(part, self.hint) or "forwarded"
            self.walk(child, f"{origin}/{label}" if origin else label, depth + 1)

    def _signed(self, part: Message, children: list, origin: str, depth: int) -> None:
        """multipart/signed: the content is walked as the mail's own; the signature is checked
        against the content's bytes as sent, and is not an attachment."""
        content = _signed_bytes(self.original, part.get_boundary() or "")
        for child in children:
            if not isinstance(child, Message):
                continue
            if child.get_content_type() in SMIME_TYPES:
                if content is None:
                    self.signatures.append(Verdict("unchecked", "未能取得签名的原文"))
                else:
                    verdict = verify(content, part_payload(child))
                    if verdict.state == "invalid" and canonical(content) != content:
                        verdict = verify(canonical(content), part_payload(child))
                    self.signatures.append(verdict)
            else:
                self.walk(child, origin, depth)

    def _opaque(self, part: Message, origin: str, depth: int) -> bool:
        """An opaque signed message (smime.p7m): its content walked as the mail's own, its
        signature checked. False for anything else (an encrypted one is kept as an attachment)."""
        payload = part_payload(part)
        if depth + 1 > MAX_FORWARD_DEPTH or cms_kind(payload) != "signed":
            return False
        inner = signed_content(payload)
        if inner is None:
            return False
        self.signatures.append(verify(None, payload))
        self.walk(email.message_from_bytes(inner), origin, depth + 1)
        return True

    def _leaf(self, part: Message, ctype: str, origin: str, depth: int) -> None:
        filename = part_filename(part, self.hint)
        if ctype in SMIME_TYPES or filename.lower().endswith(".p7s"):
            return  # a signature outside multipart/signed: nothing to read, nothing to check against
        if (ctype in OPAQUE_TYPES or filename.lower() == "smime.p7m") and self._opaque(part, origin, depth):
            return
        disposition = (part.get_content_disposition() or "").lower()
        cid = (part.get("Content-ID") or "").strip()
        if not filename and ctype in ("text/plain", "text/html") and disposition != "attachment":
            text = decode_bytes(part_payload(part), part.get_content_charset(), self.hint)
            (self.html if ctype == "text/html" else self.text).append(text)
            return
        if ctype == "message/delivery-status" or ctype == "message/disposition-notification":
            self.report_parts.append(ctype)
            self.text.append(decode_bytes(part_payload(part)))
            return
        if cid and disposition != "attachment" and ctype.startswith("image/"):
            # An inline image shown in the HTML body (a logo, a signature): not an attachment.
            return
        if not filename:
            if ctype in ("text/plain", "text/html"):
                filename = "attachment.txt" if ctype == "text/plain" else "attachment.html"
            else:
                filename = ""
        marker = part.get(DETACHED_HEADER)
        if marker is not None and marker.strip().isdigit():
            payload = self.detached.get(int(marker.strip()), b"")
        else:
            payload = part_payload(part)
        self.attachments.append(Attachment(filename, ctype, payload, origin))
