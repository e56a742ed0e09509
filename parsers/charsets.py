"""Decoding text whose declared charset cannot be trusted.

Chinese mail labels GBK and GB18030 text as ``gb2312`` (names like 王喆 and 李堃 are not in
GB 2312), splits a character across two encoded words, and puts raw 8-bit bytes or RFC 2047
encoded words where the standards say they may not go. Everything here is pure.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from email.header import decode_header

# Labels whose text is decoded with their superset.
_SUPERSETS = {
    "gb2312": "gb18030",
    "gb_2312": "gb18030",
    "gb_2312-80": "gb18030",
    "gb2312-80": "gb18030",
    "csgb2312": "gb18030",
    "euc-cn": "gb18030",
    "euccn": "gb18030",
    "x-euc-cn": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "chinese": "gb18030",
    "iso-ir-58": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}


def codec_for(label: str | None) -> str | None:
    """The Python codec to decode text labelled ``label`` with, or None when unknown."""
    if not label:
        return None
    name = label.strip().strip('"').lower()
    name = _SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError, TypeError):  # unknown, or a label with a NUL in it
        return None


def decode_bytes(data: bytes, label: str | None = None, hint: str | None = None) -> str:
    """Decode ``data``: the (widened) declared charset, then UTF-8, the hint, then GB18030.

    ``hint`` is a charset seen elsewhere in the same message, for bytes that carry no label.
    """
    tried: list[str] = []
    for codec in (codec_for(label), "utf-8", codec_for(hint), "gb18030"):
        if codec and codec not in tried:
            tried.append(codec)
            try:
                return data.decode(codec)
            except (UnicodeDecodeError, LookupError):
                continue
    # A label we trust nothing of, and bytes no codec takes whole: keep what decodes.
    first = tried[0]
    best = data.decode(first, errors="replace")
    alt = data.decode("gb18030", errors="replace")
    return best if best.count("\ufffd") <= alt.count("\ufffd") else alt


def undo_surrogates(value: str) -> bytes | None:
    """The raw bytes behind a header that the email package decoded with surrogateescape."""
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        return value.encode("ascii", "surrogateescape")
    return None


_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")
_ADJACENT_WS = re.compile(r"\A[ \t\r\n]*\Z")


def _decode_word(enc: str, text: str) -> bytes:

    if enc.lower() == "b":
        padded = text + "=" * (-len(text) % 4)
        try:
            return base64.b64decode(padded)
        except (binascii.Error, ValueError):
            clean = re.sub(r"[^A-Za-z0-9+/]", "", text)
            if len(clean) % 4 == 1:  # a stray character: no whole byte in it
                clean = clean[:-1]
            return base64.b64decode(clean + "=" * (-len(clean) % 4))
    return quopri.decodestring(text.replace("_", " ").encode("ascii", "replace"), header=True)


def decode_header_text(value: object, hint: str | None = None) -> str:
    """Decode a header value: raw 8-bit bytes, RFC 2047 words anywhere (quotes included).

    Adjacent encoded words in the same charset are joined as bytes before decoding, so a
    character split across two words comes out whole.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        # email.header.Header or similar: rebuild the raw text from its chunks.
        try:
            parts = decode_header(value)  # type: ignore[arg-type]
            return "".join(decode_bytes(p, c) if isinstance(p, bytes) else p for p, c in parts).strip()
        except Exception:
            value = str(value)
    raw = undo_surrogates(value)
    text = decode_bytes(raw, None, hint) if raw is not None else value

    out: list[str] = []
    pos = 0
    pending: tuple[str, bytearray] | None = None  # (codec label, bytes) of joined words

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            out.append(decode_bytes(bytes(pending[1]), pending[0]))
            pending = None

    for m in _ENCODED_WORD.finditer(text):
        between = text[pos : m.start()]
        label = m.group(1).split("*", 1)[0]  # RFC 2231 language suffix
        data = _decode_word(m.group(2), m.group(3))
        if pending is not None and _ADJACENT_WS.match(between) and pending[0].lower() == label.lower():
            pending[1].extend(data)
        else:
            flush()
            if between and not (_ADJACENT_WS.match(between) and out and pos > 0):
                out.append(between)
            pending = (label, bytearray(data))
        pos = m.end()
    flush()
    out.append(text[pos:])
    result = "".join(out)
    return re.sub(r"[\r\n]+[ \t]*", " ", result).strip()


def decode_rfc2231(value: object) -> str | None:
    """Decode an RFC 2231 parameter as returned by ``Message.get_param`` (a 3-tuple)."""
    if isinstance(value, tuple) and len(value) == 3:
        charset, _lang, text = value
        data = (text or "").encode("latin-1", "surrogateescape") if isinstance(text, str) else bytes(text)
        return decode_bytes(data, charset or None)
    return None


_INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def one_line(text: str) -> str:
    """Text from mail as shown to people or written into a header: one line, no control, line
    separator or bidi-override characters, runs of space made one."""
    text = _INVISIBLE.sub("", text or "")
    return " ".join(text.split())
