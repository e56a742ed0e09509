"""Whole readings of messages kept beside the archive, so a message read before by the same code
is not read again (a reprocess of an unchanged archive, a redelivered message, the console's
actions)."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import zlib
from dataclasses import replace
from pathlib import Path

from intake.ingest.outcome import ParseOutcome
from intake.ingest.private import keep_entry
from intake.ingest.soffice import office_binary
from parsers.documents import ReadLimits
from store.blobs import BlobStore

log = logging.getLogger(__name__)


class ReadingCache:
    """Whole readings of messages, by the hash of the message's bytes and a version: this module's
    and the parsers' code, every installed library, Python, LibreOffice, and the read limits
    (``_code_version``). Only a complete reading is kept: one stopped, failed, or with a file that
    could not be read (a conversion that timed out may work next time) is read again every time.
    A reading whose files are no longer all in the archive is read again (which puts them back).
    Beside the archive and outside it, like LibreOffice's conversions (written the same way): a
    backup may leave it out."""

    def __init__(self, root: Path, limits: ReadLimits) -> None:
        self.root = root
        self.version = _reader_version(limits)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.{self.version[:16]}"

    def get(self, key: str, blobs: BlobStore) -> ParseOutcome | None:
        try:
            outcome = pickle.loads(zlib.decompress(self.path(key).read_bytes()))
        except FileNotFoundError:
            return None
        except Exception as error:  # a damaged entry is no error: the message is read again
            log.warning("reading cache entry %s unusable (%s): read again", key[:12], type(error).__name__)
            return None
        if not isinstance(outcome, ParseOutcome) or not outcome.digest:
            return None
        for reading in (r for root in outcome.readings for r in root.walk()):
            if reading.sha256 and not blobs.path_for(reading.sha256).exists():
                return None
        return outcome

    def put(self, key: str, outcome: ParseOutcome) -> None:
        if outcome.parsed is None or outcome.stopped or not outcome.digest:
            return
        if any(r.status == "unreadable" for root in outcome.readings for r in root.walk()):
            return
        why = keep_entry(self.path(key), zlib.compress(pickle.dumps(outcome), 1))
        if why is not None:
            log.warning("reading cache not written (%s)", why)


def _code_version() -> str:
    """The parsers' code as this process loaded it (read when this module is imported, so a worker
    started after an upgrade was installed but before the service restarted does not file old
    readings under the new version), Python, the installed distributions (their ``dist-info``
    names carry their versions) and the LibreOffice installed (its files' sizes and times)."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    here = Path(__file__).resolve().parent
    for path in [*sorted((root / "parsers").rglob("*.py")), here / "pool.py", here / "convert.py"]:
        h.update(path.relative_to(root).as_posix().encode())
        h.update(path.read_bytes())
    h.update(sys.version.encode())
    for folder in sys.path:
        if folder and os.path.isdir(folder):
            h.update(repr(sorted(n for n in os.listdir(folder) if n.endswith((".dist-info", ".egg-info")))).encode())
    binary = office_binary()
    if binary is not None:
        program = Path(os.path.realpath(binary)).parent
        for name in ("versionrc", "soffice.bin", Path(binary).name):
            try:
                st = (program / name).stat()
            except OSError:
                continue
            h.update(f"{program / name}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()


_CODE_VERSION = _code_version()


def _reader_version(limits: ReadLimits) -> str:
    """What a reading follows from beside the message's bytes: the code and libraries, and the
    read limits (where the caches are kept aside)."""
    bounds = replace(limits, convert_cache=None, reading_cache=None)
    return hashlib.sha256(f"{_CODE_VERSION}{bounds!r}".encode()).hexdigest()
