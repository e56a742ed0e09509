"""Keeping a hostile message's size out of the MIME parser: header fields cut to a bound, and leaf
bodies of several megabytes cut out of the bytes (decoded straight from them) before the parser
sees them."""

from __future__ import annotations

import binascii
import itertools
import quopri
import re

HEADER_END = re.compile(rb"\r?\n\r?\n")
DETACHED_HEADER = "X-Intake-Detached"


def cap_header_fields(raw: bytes, limit: int, defects: list[str]) -> bytes:
    """The message with each top-level header field cut to ``limit`` bytes (at a folded line where
    there is one). One pass over the header block."""
    end = HEADER_END.search(raw)
    head_end = end.start() if end else len(raw)
    if head_end <= limit:
        return raw
    fields = re.split(rb"\n(?=[^ \t])", raw[:head_end])
    if all(len(f) <= limit for f in fields):
        return raw
    kept = []
    for f in fields:
        if len(f) > limit:
            name = f.split(b":", 1)[0][:60].decode("ascii", "replace")
            defects.append(f"header {name} of {len(f)} bytes cut to {limit} for reading")
            cut = f.rfind(b"\n", 0, limit)
            f = f[: cut if cut > 0 else limit]
        kept.append(f)
    return b"\n".join(kept) + raw[head_end:]


_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"\r\n]+)"|([^\s;"]+))', re.I)
_DELIMITER = re.compile(rb"(?m)^--([^\r\n]{0,200})\r?(?:\n|\Z)")


def detach_large_parts(raw: bytes, threshold: int) -> tuple[bytes, dict[int, bytes]]:
    """Cut leaf bodies over ``threshold`` bytes out of ``raw``; return the smaller message (each cut
    part marked with an ``X-Intake-Detached: n`` header) and the decoded bodies by ``n``."""
    if len(raw) <= threshold:
        return raw, {}
    boundaries = {m.group(1) or m.group(2) for m in _BOUNDARY.finditer(raw)}
    # One pass over the lines that start with "--", each looked up among the declared boundaries:
    # linear in the size of the message however many boundaries it declares.
    marks: list[tuple[int, int]] = []  # (start of the delimiter line, end of it)
    for m in _DELIMITER.finditer(raw):
        token = m.group(1).rstrip(b" \t")
        if token in boundaries or (token.endswith(b"--") and token[:-2] in boundaries):
            start = m.start() - 1 if m.start() > 0 else 0  # the line break before it belongs to it
            marks.append((start, m.end()))
    pieces: list[bytes] = []
    detached: dict[int, bytes] = {}
    pos = 0
    for (_, seg_start), (next_start, _) in itertools.pairwise(marks):
        if next_start - seg_start <= threshold:
            continue
        head_end = HEADER_END.search(raw, seg_start, next_start)
        if head_end is None:
            continue
        head = raw[seg_start : head_end.start()]
        ctype = re.search(rb"(?im)^content-type:\s*([^;\s]+)", head)
        if ctype and ctype.group(1).lower().startswith((b"multipart/", b"message/")):
            continue
        body = memoryview(raw)[head_end.end() : next_start]
        encoding = re.search(rb"(?im)^content-transfer-encoding:\s*([\w-]+)", head)
        detached[len(detached)] = _decode_body(body, encoding.group(1).lower() if encoding else b"7bit")
        eol = b"\r\n" if b"\r\n" in head[:200] else b"\n"
        pieces.append(raw[pos : head_end.start()])
        pieces.append(eol + f"{DETACHED_HEADER}: {len(detached) - 1}".encode() + eol + eol)
        pos = next_start
    if not detached:
        return raw, {}
    pieces.append(raw[pos:])
    return b"".join(pieces), detached


def _decode_body(body: memoryview, encoding: bytes) -> bytes:

    if encoding == b"base64":
        try:
            return binascii.a2b_base64(body)
        except binascii.Error:
            return binascii.a2b_base64(re.sub(rb"[^A-Za-z0-9+/=]", b"", bytes(body)) + b"==")
    if encoding == b"quoted-printable":
        return quopri.decodestring(bytes(body))
    return bytes(body)
