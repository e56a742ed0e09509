"""PDF text through pypdf."""

from __future__ import annotations

import io
import logging

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError, PyPdfError

MAX_PAGES = 200


class PdfUnreadable(Exception):
    pass


def pdf_text(payload: bytes) -> str:

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(payload), strict=False)
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise PdfUnreadable("PDF文件设有密码，请发送不加密的文件")
            except (FileNotDecryptedError, NotImplementedError) as exc:
                raise PdfUnreadable("PDF文件设有密码，请发送不加密的文件") from exc
        parts = []
        for i, page in enumerate(reader.pages):
            if i >= MAX_PAGES:
                break
            parts.append(page.extract_text() or "")
        return "\n".join(parts)
    except PdfUnreadable:
        raise
    except (
        PdfReadError,
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        AttributeError,
        OSError,
        RecursionError,
        ZeroDivisionError,
        AssertionError,
    ) as exc:
        raise PdfUnreadable("PDF文件已损坏") from exc
