"""Read one attachment: sniff its type, open it, find forms, lists and narratives in it.

``read_attachment`` never raises on bad input: a file that cannot be read comes back with
``status = "unreadable"`` and a specific reason; images and image-only PDFs come back
``scan_only``; archives come back with their members read as children.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from parsers import legacy
from parsers.archives import ArchiveLimits, expand
from parsers.charsets import decode_bytes
from parsers.docx_reader import DocxContent, DocxError, read_docx
from parsers.forms import FormRecord, extract_from_table, extract_from_text
from parsers.mime import html_to_text
from parsers.sheets import SheetError, read_sheets
from parsers.sniff import ARCHIVE_TYPES, IMAGE_TYPES, sniff
from parsers.wordcount import WordCount, count_words

NARRATIVE_HINT = re.compile(r"事迹|材料|简介|先进")
FORM_HINT = re.compile(r"推荐表|登记表|审批表|申报表")
LIST_HINT = re.compile(r"汇总|名单|一览表|名册|排序")

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
}


@dataclass(frozen=True)
class ReadLimits:
    archive: ArchiveLimits = field(default_factory=ArchiveLimits)
    convert_timeout: float = 120.0
    max_text_chars: int = 2_000_000


@dataclass
class Reading:
    filename: str
    content_type: str
    payload: bytes
    type: str = "unknown"
    role: str = "other"  # individual_form | unit_form | forms | nominee_list | narrative | archive | scan | other
    status: str = "parsed"  # parsed | unreadable | scan_only | expanded | skipped
    detail: str = ""
    records: list[FormRecord] = field(default_factory=list)
    text: str = ""
    narrative_text: str = ""
    words: WordCount | None = None
    children: list[Reading] = field(default_factory=list)
    depth: int = 0

    def walk(self) -> list[Reading]:
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out


def read_attachment(
    filename: str, content_type: str, payload: bytes, limits: ReadLimits | None = None, depth: int = 0
) -> Reading:
    limits = limits or ReadLimits()
    kind = sniff(payload, filename)
    reading = Reading(
        filename=filename or _default_name(kind), content_type=content_type, payload=payload, type=kind, depth=depth
    )
    try:
        _read(reading, limits)
    except RecursionError:
        reading.status, reading.detail = "unreadable", "document nested too deeply to read"
    except MemoryError:
        reading.status, reading.detail = "unreadable", "document too large to read in memory"
    if reading.status == "parsed" and reading.text and reading.words is None and reading.role == "narrative":
        reading.words = count_words(reading.narrative_text or reading.text)
    return reading


def _default_name(kind: str) -> str:
    return f"未命名附件.{EXTENSIONS.get(kind, 'bin')}"


def _read(r: Reading, limits: ReadLimits) -> None:
    kind = r.type
    if kind == "empty":
        r.status, r.detail = "unreadable", "the file is empty (0 bytes)"
    elif kind == "docx":
        _read_docx_payload(r, r.payload)
    elif kind in ("doc", "wps", "rtf"):
        _convert_then(r, "docx", limits, _read_docx_payload)
    elif kind == "xlsx":
        _read_sheet_payload(r, r.payload, "xlsx")
    elif kind in ("xls", "et"):
        try:
            _read_sheet_payload(r, r.payload, "xls")
        except _Retry:
            _convert_then(r, "xlsx", limits, lambda rr, data: _read_sheet_payload(rr, data, "xlsx"))
    elif kind == "pdf":
        _read_pdf(r)
    elif kind in IMAGE_TYPES:
        r.status, r.role, r.detail = "scan_only", "scan", "image: kept and listed, not read"
    elif kind in ARCHIVE_TYPES:
        _read_archive(r, limits)
    elif kind == "encrypted":
        r.status, r.detail = "unreadable", "the Office file is password-protected: send it without a password"
    elif kind == "html" and r.filename.lower().endswith((".doc", ".wps")) and legacy.office_binary():
        _convert_then(r, "docx", limits, _read_docx_payload)  # a Word file saved as a web page: keep its tables
    elif kind == "html":
        text = html_to_text(decode_bytes(r.payload[: limits.max_text_chars]))
        _classify_text(r, text)
    elif kind == "txt":
        _classify_text(r, decode_bytes(r.payload[: limits.max_text_chars]))
    elif kind == "eml":
        r.status, r.detail = "skipped", "an attached e-mail message: kept in the archive"
    elif kind in ("ole", "pptx"):
        r.status, r.detail = "unreadable", f"unsupported document type ({kind})"
    else:
        r.status, r.detail = "unreadable", "unknown file type: not a Word, Excel, PDF, image or archive file"


class _Retry(Exception):
    pass


def _convert_then(r: Reading, target: str, limits: ReadLimits, then: object) -> None:
    src_ext = {"doc": "doc", "wps": "wps", "rtf": "rtf", "xls": "xls", "et": "et", "html": "html"}[r.type]
    try:
        converted = legacy.convert(r.payload, src_ext, target, timeout=limits.convert_timeout)
    except legacy.ConversionError as exc:
        r.status, r.detail = "unreadable", str(exc)
        return
    then(r, converted)  # type: ignore[operator]


# --------------------------------------------------------------------------- Word


def _read_docx_payload(r: Reading, payload: bytes) -> None:
    try:
        content = read_docx(payload)
    except DocxError as exc:
        r.status, r.detail = "unreadable", str(exc)
        return
    _from_docx(r, content)


def _from_docx(r: Reading, content: DocxContent) -> None:
    r.text = content.text
    records: list[FormRecord] = []
    list_records: list[FormRecord] = []
    recent: list[str] = [r.filename]
    for block, index in content.blocks:
        if block == "p":
            text = content.paragraphs[index].strip()
            if text:
                recent = [*recent[-3:], text]
            continue
        table_ids = [index] + [i for i, t in enumerate(content.tables) if _nested_under(content, i, index)]
        for ti in table_ids:
            rows = [[c.text for c in row if not c.merged_from_above] for row in content.tables[ti].rows]
            shape, found = extract_from_table(rows, "\n".join(recent))
            if shape == "list":
                list_records.extend(found)
            elif shape == "form":
                records.extend(found)
            elif shape == "fields" and records:
                _merge_into(records[-1], found[0])
    r.records = records + list_records
    _assign_role(r, content)


def _nested_under(content: DocxContent, i: int, root: int) -> bool:
    parent = content.tables[i].nested_in
    while parent is not None:
        if parent == root:
            return True
        parent = content.tables[parent].nested_in
    return False


def _merge_into(target: FormRecord, extra: FormRecord) -> None:
    for k, v in extra.fields.items():
        target.fields.setdefault(k, v)
    target.opinions.extend(extra.opinions)
    if target.rank is None and extra.rank is not None:
        target.rank = extra.rank


def _assign_role(r: Reading, content: DocxContent | None) -> None:
    forms = [x for x in r.records if x.source == "form"]
    lists = [x for x in r.records if x.source == "list"]
    if forms:
        kinds = {x.kind for x in forms}
        r.role = f"{kinds.pop()}_form" if len(kinds) == 1 else "forms"
        # A narrative written after the form in the same file ("事迹材料" heading, then text).
        if content is not None:
            r.narrative_text = _narrative_after_heading(content.paragraphs)
    elif lists:
        r.role = "nominee_list"
    else:
        _classify_text(r, r.text)


def _narrative_after_heading(paragraphs: list[str]) -> str:
    for i, p in enumerate(paragraphs):
        if len(p.strip()) <= 40 and "事迹" in p:
            rest = "\n".join(paragraphs[i:]).strip()
            if len(rest) > 100:
                return rest
    return ""


def _classify_text(r: Reading, text: str) -> None:
    r.text = text
    body = text.strip()
    if not body:
        r.role, r.status = "other", "parsed"
        r.detail = r.detail or "no text in the document"
        return
    # No form or list was found in it: a 事迹/材料 file, or any long text not named as a form.
    if NARRATIVE_HINT.search(r.filename) or (len(re.sub(r"\s", "", body)) >= 150 and not FORM_HINT.search(r.filename)):
        r.role = "narrative"
    else:
        r.role = "other"
    if r.role == "narrative":
        r.narrative_text = body
        r.words = count_words(body)


# --------------------------------------------------------------------------- Excel


def _read_sheet_payload(r: Reading, payload: bytes, fmt: str) -> None:
    try:
        sheets = read_sheets(payload, fmt)
    except SheetError as exc:
        if fmt == "xls" and exc.retry_with_conversion:
            raise _Retry() from exc
        r.status, r.detail = "unreadable", str(exc)
        return
    texts = []
    for title, rows in sheets:
        texts.append("\n".join("\t".join(c for c in row if c) for row in rows))
        context = [r.filename, title]
        for i, row in enumerate(rows):
            shape, found = extract_from_table(rows[i:], "\n".join(context))
            if shape == "list":
                r.records.extend(found)
                break
            line = " ".join(c for c in row if c)
            if line:
                context.append(line)
            if i > 30:
                break
        else:
            shape, found = extract_from_table(rows, "\n".join(context))
            if shape == "form":
                r.records.extend(found)
    r.text = "\n".join(texts)
    _assign_role(r, None)
    if r.role == "narrative":
        r.role = "other"  # a spreadsheet is never a 事迹材料


# --------------------------------------------------------------------------- PDF


def _read_pdf(r: Reading) -> None:
    from parsers.pdf import PdfUnreadable, pdf_text

    try:
        text = pdf_text(r.payload)
    except PdfUnreadable as exc:
        r.status, r.detail = "unreadable", str(exc)
        return
    if len(re.sub(r"\s", "", text)) < 20:
        r.status, r.role, r.detail = "scan_only", "scan", "PDF holds only images (a scan): kept and listed, not read"
        return
    r.text = text
    if FORM_HINT.search(r.filename) or "推荐表" in text[:500]:
        r.records = extract_from_text(text, r.filename)
    if r.records:
        kinds = {x.kind for x in r.records}
        r.role = f"{kinds.pop()}_form" if len(kinds) == 1 else "forms"
        r.detail = "PDF form: names, kinds and ranks read from its text; opinions need the Word file"
        return
    _classify_text(r, text)


# --------------------------------------------------------------------------- archives


def _read_archive(r: Reading, limits: ReadLimits) -> None:
    r.role = "archive"
    if r.depth >= limits.archive.depth:
        r.status, r.detail = "unreadable", f"archive nested deeper than {limits.archive.depth} levels: not opened"
        return
    result = expand(r.payload, r.type, limits.archive)
    if result.failed:
        r.status, r.detail = "unreadable", result.failed
        return
    r.status = "expanded"
    r.detail = "; ".join(result.problems)
    for member in result.members:
        child = read_attachment(member.name.rsplit("/", 1)[-1], "", member.payload, limits, r.depth + 1)
        child.filename = member.name
        r.children.append(child)
