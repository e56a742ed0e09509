"""OLE compound files (Word 97, Excel 97, WPS, Outlook .msg, encrypted Office files): what one
holds, by its streams (olefile) and whether it is encrypted (msoffcrypto-tool), never by
searching its bytes. The only module that imports either."""

from __future__ import annotations

import io

import msoffcrypto
import olefile
from msoffcrypto import exceptions as crypto_errors

OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def ole_kind(payload: bytes, ext: str = "") -> str:
    """One of doc, wps, xls, et, msg, encrypted, ole (a compound file of another kind, or damaged)."""
    try:
        with olefile.OleFileIO(io.BytesIO(payload)) as ole:
            top = {entry[0] for entry in ole.listdir(streams=True, storages=True)}
    except (OSError, ValueError, IndexError, KeyError, TypeError, AttributeError):
        # Not a compound file olefile can walk: a damaged one, taken for what its name says
        # (the converter then says it cannot open it).
        return ext if ext in ("doc", "wps", "xls", "et") else "ole"
    if "EncryptedPackage" in top or "EncryptionInfo" in top:
        return "encrypted"  # an encrypted .docx/.xlsx: an OLE wrapper round the real file
    if any(name.startswith("__substg1.0_") for name in top) or "__properties_version1.0" in top:
        return "msg"
    kind = _office_kind(top, ext)
    if kind in ("doc", "wps", "xls", "et") and is_encrypted(payload):
        return "encrypted"
    return kind


def _office_kind(top: set[str], ext: str) -> str:
    if "WordDocument" in top:
        return "wps" if ext == "wps" else "doc"
    if "Workbook" in top or "Book" in top:
        return "et" if ext == "et" else "xls"
    if ext in ("wps", "et"):
        return ext  # Kingsoft's own streams: LibreOffice reads them
    return "ole"


def is_encrypted(payload: bytes) -> bool:
    """Whether a Word 97/Excel 97 file (or an OOXML one) is protected by a password to open."""
    try:
        return bool(msoffcrypto.OfficeFile(io.BytesIO(payload)).is_encrypted())
    except (
        crypto_errors.FileFormatError,
        crypto_errors.ParseError,
        OSError,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
    ):
        return False
    except Exception:  # the library's many shapes of a damaged file: not known to be encrypted
        return False
