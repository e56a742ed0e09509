"""Pictures of an original document for the console: LibreOffice makes a PDF, pdftoppm a PNG of
each page asked for. Both are cached by the document's content hash in a folder beside the
archive (never inside its content-addressed blobs, whose hashes must keep checking); a document
that could not be shown is remembered too, so a page view never tries again what failed.

Mailed bytes are hostile: they are converted and drawn in a small pool of threads of their own
(never the threads that serve pages, never the event loop), each step a process of its own under
the pipeline's conversion timeout, with a memory limit and a clean environment (no password of the
service's reaches it)."""

from __future__ import annotations

import asyncio
import re
import resource
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from intake.ingest.convert import convert
from intake.ingest.private import keep_entry
from intake.web.console import Console
from parsers.conversion import ConversionError

CONVERTIBLE = {"docx": "docx", "doc": "doc", "wps": "wps", "rtf": "rtf", "xlsx": "xlsx", "xls": "xls", "et": "et"}
POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="intake-preview")
MEMORY_LIMIT = 1 << 30  # bytes of address space for pdftoppm and pdfinfo
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}


def cache_dir(archive: Path) -> Path:
    return archive.parent / "previews"


def cached(archive: Path, sha256: str) -> tuple[Path, Path]:
    """Where a document's PDF is kept, and where its failure is remembered."""
    folder = cache_dir(archive) / sha256[:2]
    return folder / f"{sha256}.pdf", folder / f"{sha256}.failed"


def pdf_for(archive: Path, sha256: str, kind: str, payload: bytes, timeout: float = 120) -> Path | None:
    """The document as a PDF (made once), or None when it cannot be shown (remembered)."""
    target, failed = cached(archive, sha256)
    if target.exists():
        return target
    if failed.exists():
        return None
    if kind == "pdf":
        keep_entry(target, payload)
        return target
    ext = CONVERTIBLE.get(kind)
    if ext is None:
        return None
    try:
        pdf = convert(payload, ext, "pdf", timeout=timeout)
    except ConversionError as exc:
        keep_entry(failed, str(exc).encode())
        return None
    keep_entry(target, pdf)
    return target


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _run(args: list[str], timeout: float) -> subprocess.CompletedProcess[bytes] | None:
    try:
        return subprocess.run(
            args, capture_output=True, timeout=timeout, check=True, env=CLEAN_ENV, preexec_fn=_limited
        )
    except (subprocess.SubprocessError, OSError):
        return None


def page_count(pdf: Path, timeout: float = 60) -> int:
    """The PDF's pages, as poppler's pdfinfo counts them in a process of its own; 0 if unknown."""
    binary = shutil.which("pdfinfo")
    done = _run([binary, str(pdf)], timeout) if binary else None
    m = re.search(rb"^Pages:\s+(\d+)", done.stdout, re.M) if done else None
    return int(m.group(1)) if m else 0


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
        args = [binary, "-png", "-r", "80", "-f", str(page), "-l", str(page), "-singlefile", str(pdf), str(out)]
        made = out.with_suffix(".png")
        if _run(args, timeout) is None or not made.exists():
            return None
        data = made.read_bytes()
    keep_entry(target, data)
    return data


def _document(c: Console, message_pk: int, att_id: int) -> tuple[str, str] | None:
    """(content hash, type) of a message's attachment; None when it is not that message's."""
    with c.store.session() as repo:
        a = repo.attachment(att_id)
        return (a.sha256, a.type) if a is not None and a.message_pk == message_pk else None


_MAKING: dict[str, Future[Path | None]] = {}
_MAKING_LOCK = threading.Lock()


def _made(c: Console, sha: str, kind: str) -> Future[Path | None]:
    """The PDF of one document, made once in the pool: a second view while it is being made
    waits for the same conversion instead of starting another."""
    with _MAKING_LOCK:
        running = _MAKING.get(sha)
        if running is not None:
            return running
        timeout = c.settings.limits.convert_timeout_seconds
        future = POOL.submit(lambda: pdf_for(c.settings.archive.path, sha, kind, c.store.blobs.get(sha), timeout))
        _MAKING[sha] = future

    def done(_: Future[Path | None]) -> None:
        with _MAKING_LOCK:
            _MAKING.pop(sha, None)

    future.add_done_callback(done)
    return future


async def page_links(c: Console, message_pk: int, att_id: int) -> list[str]:
    """The addresses of the document's first pages (``web.preview_pages``). A page never waits
    for a conversion: one not made yet is started in the pool and its first page linked (the
    picture follows when it is ready); the next view links every page."""
    loop = asyncio.get_running_loop()
    found = await loop.run_in_executor(None, _document, c, message_pk, att_id)
    if found is None:
        return []
    sha, kind = found
    base = f"/messages/{message_pk}/attachments/{att_id}/pages"
    pdf, failed = cached(c.settings.archive.path, sha)
    if failed.exists() or (kind != "pdf" and kind not in CONVERTIBLE):
        return []
    if not pdf.exists():
        _made(c, sha, kind)
        return [f"{base}/1"]
    n = await loop.run_in_executor(POOL, page_count, pdf)
    return [f"{base}/{i}" for i in range(1, min(n, c.settings.web.preview_pages) + 1)]


async def page_png_of(c: Console, message_pk: int, att_id: int, page: int) -> bytes | None:
    loop = asyncio.get_running_loop()
    found = await loop.run_in_executor(None, _document, c, message_pk, att_id)
    if found is None or page < 1:
        return None
    pdf = await asyncio.wrap_future(_made(c, *found))
    if pdf is None:
        return None
    return await loop.run_in_executor(POOL, page_png, pdf, page)
