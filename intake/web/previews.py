"""Pictures of an original document for the console: LibreOffice makes a PDF, pdftoppm a PNG of
each page asked for. Both are cached by the document's content hash in a folder beside the
archive (never inside its content-addressed blobs, whose hashes must keep checking); a backup may
leave the folder out."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from intake.ingest import convert as legacy

CONVERTIBLE = {"docx": "docx", "doc": "doc", "wps": "wps", "rtf": "rtf", "xlsx": "xlsx", "xls": "xls", "et": "et"}


def cache_dir(archive: Path) -> Path:
    return archive.parent / "previews"


def _private_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def pdf_for(archive: Path, sha256: str, kind: str, payload: bytes, timeout: float = 120) -> Path | None:
    """The document as a PDF (made once), or None when it cannot be shown."""
    target = cache_dir(archive) / f"{sha256}.pdf"
    if target.exists():
        return target
    if kind == "pdf":
        _private_write(target, payload)
        return target
    ext = CONVERTIBLE.get(kind)
    if ext is None:
        return None
    try:
        pdf = legacy.convert(payload, ext, "pdf", timeout=timeout)
    except legacy.ConversionError:
        return None
    _private_write(target, pdf)
    return target


def page_count(pdf: Path) -> int:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        return len(PdfReader(str(pdf)).pages)
    except (PyPdfError, OSError, ValueError, KeyError):
        return 0


def page_png(pdf: Path, page: int, timeout: float = 60) -> bytes | None:
    """Page ``page`` (from 1) as a PNG, made once."""
    target = pdf.with_name(f"{pdf.stem}-{page}.png")
    if target.exists():
        return target.read_bytes()
    binary = shutil.which("pdftoppm")
    if binary is None:
        return None
    with tempfile.TemporaryDirectory(prefix="intake-preview-") as tmp:
        out = Path(tmp) / "page"
        try:
            subprocess.run(
                [binary, "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile", str(pdf), str(out)],
                capture_output=True,
                timeout=timeout,
                check=True,
            )
        except (subprocess.SubprocessError, OSError):
            return None
        made = out.with_suffix(".png")
        if not made.exists():
            return None
        data = made.read_bytes()
    _private_write(target, data)
    return data
