"""File type by content, never by the name or the declared type."""

from __future__ import annotations

import io
import zipfile

from parsers.archives import ZIP_ERRORS
from parsers.ole import OLE2, ole_kind

DOCUMENT_TYPES = {"docx", "doc", "wps", "rtf", "html", "pdf", "txt"}
SHEET_TYPES = {"xlsx", "xls", "et"}
ARCHIVE_TYPES = {"zip", "7z", "rar"}
IMAGE_TYPES = {"jpeg", "png", "gif", "bmp", "tiff", "heic", "webp"}
TNEF = b"\x78\x9f\x3e\x22"  # Outlook's winmail.dat
PKCS7_OID = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07"  # 1.2.840.113549.1.7: an S/MIME .p7m


def sniff(payload: bytes, filename: str = "") -> str:
    """One of docx, xlsx, pptx, doc, wps, xls, et, msg, tnef, p7m, ole, encrypted, zip, 7z, rar, pdf,
    jpeg, png, gif, bmp, tiff, heic, webp, rtf, html, txt, eml, empty, unknown."""
    head = payload[:2048]
    ext = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if not payload:
        return "empty"
    if head.startswith(OLE2):
        return ole_kind(payload, ext)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        try:
            with zipfile.ZipFile(io.BytesIO(payload)) as zf:
                names = set(zf.namelist())
        except ZIP_ERRORS:
            return "zip"
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
        if any(n.startswith("ppt/") for n in names):
            return "pptx"
        return "zip"
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"BM") and len(payload) > 26 and ext == "bmp":
        return "bmp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc"):
        return "heic"  # a phone's photo (HEIF)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(TNEF):
        return "tnef"
    if head[:1] == b"\x30" and PKCS7_OID in head[:40]:
        return "p7m"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{\\rtf"):
        return "rtf"
    lower = stripped[:1024].lower()
    if lower.startswith((b"<!doctype html", b"<html", b"<?xml")) and (b"<html" in lower or b"w:wordDocument" in head):
        return "html"
    if b"<html" in lower or (b"mime-version:" in lower and b"text/html" in payload[:8192].lower()):
        return "html"
    if lower.startswith((b"received:", b"return-path:", b"from:", b"message-id:", b"mime-version:")):
        return "eml"
    if _looks_like_text(payload[:8192]):
        return "txt"
    return "unknown"


def _looks_like_text(data: bytes) -> bool:
    if b"\x00" in data:
        try:
            data.decode("utf-16")
            return data[:2] in (b"\xff\xfe", b"\xfe\xff")
        except UnicodeDecodeError:
            return False
    for codec in ("utf-8", "gb18030"):
        try:
            data.decode(codec)
            return True
        except UnicodeDecodeError as exc:
            if exc.start > len(data) - 4:  # cut in the middle of a character
                return True
    return False
