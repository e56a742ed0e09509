"""Reading one message: the MIME tree, then each attachment (archives unpacked, legacy files
converted), its files put in the archive as soon as each is read."""

from __future__ import annotations

import hashlib
import pickle
import traceback
from collections.abc import Callable
from pathlib import Path

from intake.ingest.caches import ReadingCache
from intake.ingest.convert import converter
from intake.ingest.outcome import ParseOutcome
from parsers.archives import Budget
from parsers.documents import Reading, ReadLimits, read_attachment
from parsers.mime import parse_message
from store.blobs import BlobStore


def parse_raw(
    raw: bytes, limits: ReadLimits, blobs: BlobStore | None = None, announce: Callable[[float], None] | None = None
) -> ParseOutcome:
    """Read a message and its attachments. With ``blobs``, each file's bytes go to the archive as
    soon as it is read and are dropped from the reading (only its hash and size come back), so a
    message's files are never all in memory at once, nor copied back to the main process.
    ``announce`` is told the seconds text recognition of a scan may take, before it starts."""
    budget = Budget(limits.archive.total_bytes)
    keep = _keeper(blobs) if blobs is not None else None
    convert = converter(limits.convert_timeout, Path(limits.convert_cache) if limits.convert_cache else None)
    try:
        parsed = parse_message(raw)
        del raw
        readings = []
        while parsed.attachments:
            a = parsed.attachments.pop(0)
            readings.append(
                read_attachment(
                    a.filename,
                    a.content_type,
                    a.payload,
                    limits,
                    budget=budget,
                    keep=keep,
                    convert=convert,
                    announce=announce,
                )
            )
        return ParseOutcome(parsed, readings)
    except Exception:
        return ParseOutcome(None, [], traceback.format_exc()[-8000:])


def _keeper(blobs: BlobStore) -> Callable[[Reading], None]:
    def keep(r: Reading) -> None:
        r.sha256, r.size = blobs.put(r.payload), len(r.payload)
        r.payload = b""
        for record in r.records:
            for seen in record.ocr.values():
                if isinstance(seen.get("crop"), bytes):
                    # The picture of a recognised cell, kept for the person who checks it.
                    seen["crop"] = blobs.put(seen["crop"]) if seen["crop"] else ""

    return keep


def parse_file(
    path: str, limits: ReadLimits, blob_root: str | None = None, announce: Callable[[float], None] | None = None
) -> ParseOutcome:
    """Read the message at ``path``, its files kept in the archive at ``blob_root``; with
    ``limits.reading_cache`` (and an archive), a message read before by the same code and libraries
    under the same limits is taken from there."""
    try:
        raw = Path(path).read_bytes()
    except OSError:
        return ParseOutcome(None, [], traceback.format_exc()[-8000:])
    blobs = BlobStore(Path(blob_root)) if blob_root else None
    cache = ReadingCache(Path(limits.reading_cache), limits) if limits.reading_cache and blobs else None
    key = ""
    if cache is not None and blobs is not None:
        key = hashlib.sha256(raw).hexdigest()
        kept = cache.get(key, blobs)
        if kept is not None:
            return kept
    outcome = parse_raw(raw, limits, blobs, announce)
    del raw
    if outcome.parsed is not None:
        try:
            outcome.digest = hashlib.sha256(pickle.dumps((outcome.parsed, outcome.readings))).hexdigest()
        except Exception:  # what was read cannot be pickled (nor sent back): say so rather than vanish
            return ParseOutcome(None, [], traceback.format_exc()[-8000:])
    if cache is not None:
        cache.put(key, outcome)
    return outcome
