"""What reading one file gives (``Reading``), the limits it is read under, and what every level
of one attachment's reading shares (``Context``): the types the document readers and the container
readers both speak."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from parsers.archives import ArchiveLimits, Budget
from parsers.conversion import Convert
from parsers.labels import FormRecord
from parsers.wordcount import WordCount

EXTENSIONS = {
    "docx": "docx",
    "doc": "doc",
    "wps": "wps",
    "xlsx": "xlsx",
    "xls": "xls",
    "et": "et",
    "pdf": "pdf",
    "jpeg": "jpg",
    "png": "png",
    "gif": "gif",
    "bmp": "bmp",
    "tiff": "tif",
    "zip": "zip",
    "7z": "7z",
    "rar": "rar",
    "rtf": "rtf",
    "html": "html",
    "txt": "txt",
    "eml": "eml",
    "pptx": "pptx",
    "msg": "msg",
    "tnef": "dat",
    "heic": "heic",
    "webp": "webp",
}


@dataclass(frozen=True)
class ReadLimits:
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    convert_timeout: float = 120.0
    max_text_chars: int = 2_000_000
    ocr_seconds: float = 60.0  # text recognition of one file (its own budget, apart from the parse limit)
    ocr_pages: int = 30
    convert_cache: str | None = None  # where LibreOffice's conversions are kept, by input hash
    reading_cache: str | None = None  # where whole readings of messages are kept (intake.ingest.pool)


@dataclass
class Reading:
    filename: str
    content_type: str
    payload: bytes
    type: str = "unknown"
    # individual_form | unit_form | forms | nominee_list | narrative | archive | mail | scan | other
    role: str = "other"
    status: str = "parsed"  # parsed | unreadable | scan_only | expanded | skipped
    detail: str = ""
    limited: str = ""  # what a limit left unread (size, count, depth): flagged attachment_skipped
    sha256: str = ""  # set once the payload is in the archive (the payload is then dropped)
    size: int = 0
    records: list[FormRecord] = field(default_factory=list)
    text: str = ""
    narrative_text: str = ""
    words: WordCount | None = None
    children: list[Reading] = field(default_factory=list)
    depth: int = 0
    technical: str = ""  # the library's own words on a failure, for the office, never for the province
    recognised: bool = False  # read by text recognition (a scan or a photo): to be checked by a person

    def walk(self) -> list[Reading]:
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


@dataclass(frozen=True)
class Context:
    """What every level of one attachment's reading shares."""

    limits: ReadLimits
    budget: Budget
    keep: Callable[[Reading], None] | None
    convert: Convert | None
    # Reads a container's member (name, bytes, depth) with everything above shared.
    read: Callable[[str, bytes, int], Reading]
    # Told the seconds text recognition may take before it starts (the parse limit grows by them).
    announce: Callable[[float], None] | None = None
