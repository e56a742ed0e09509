"""Read one attachment: sniff its type, open it, find forms, lists and narratives in it.

``read_attachment`` never raises on bad input: a file that cannot be read comes back with
``status = "unreadable"`` and a specific reason; images and image-only PDFs come back
``scan_only``; archives come back with their members read as children.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from parsers.archives import Budget
from parsers.charsets import decode_bytes
from parsers.containers import read_archive, read_outlook, read_p7m
from parsers.conversion import NO_CONVERTER, ConversionError, Convert
from parsers.docx_reader import DocxContent, DocxError, picture_parts, read_docx
from parsers.forms import extract_from_table, is_header_row, is_subtable_header
from parsers.labels import NAME_FIELDS, FormRecord, field_of
from parsers.mime import html_to_text
from parsers.pdf import PdfUnreadable, pdf_text
from parsers.reading import EXTENSIONS, Context, Reading, ReadLimits
from parsers.scans import ScanBudget, read_scan
from parsers.sheets import SheetError, read_sheets
from parsers.sniff import ARCHIVE_TYPES, IMAGE_TYPES, sniff
from parsers.text_forms import extract_from_text
from parsers.wordcount import count_words

NARRATIVE_HINT = re.compile(r"事迹|材料|简介|先进")
FORM_HINT = re.compile(r"推荐表|登记表|审批表|申报表")
LIST_HINT = re.compile(r"汇总|名单|一览表|名册|排序")


def read_attachment(
    filename: str,
    content_type: str,
    payload: bytes,
    limits: ReadLimits | None = None,
    depth: int = 0,
    *,
    budget: Budget | None = None,
    keep: Callable[[Reading], None] | None = None,
    convert: Convert | None = None,
    announce: Callable[[float], None] | None = None,
) -> Reading:
    """Read one file. ``budget`` bounds what archives may unpack (one per message, shared by every
    level of nesting); ``keep``, when given, is called on each reading once it is read (to archive
    its bytes and let them go before the next member is unpacked); ``convert`` turns legacy files
    into ones these readers read (without it they are kept, flagged, unread); ``announce`` is told
    the seconds text recognition of a scan may take, before it starts."""
    limits = limits or ReadLimits()
    budget = budget or Budget(limits.archive.total_bytes)

    def read_member(name: str, data: bytes, level: int) -> Reading:
        return read_attachment(
            name, "", data, limits, level, budget=budget, keep=keep, convert=convert, announce=announce
        )

    ctx = Context(limits, budget, keep, convert, read_member, announce)
    kind = sniff(payload, filename)
    reading = Reading(
        filename=filename or _default_name(kind),
        content_type=content_type,
        payload=payload,
        type=kind,
        depth=depth,
        size=len(payload),
    )
    try:
        _read(reading, ctx)
    except RecursionError:
        reading.status, reading.detail = "unreadable", "文件嵌套层次过深，无法读取"
    except MemoryError:
        reading.status, reading.detail = "skipped", "文件过大，未读取"
        reading.limited = reading.detail
    if reading.status == "parsed" and reading.text and reading.words is None and reading.role == "narrative":
        reading.words = count_words(reading.narrative_text or reading.text)
    if keep is not None:
        keep(reading)
    return reading


def _default_name(kind: str) -> str:
    return f"未命名附件.{EXTENSIONS.get(kind, 'bin')}"


def _read(r: Reading, ctx: Context) -> None:
    kind, limits = r.type, ctx.limits
    if kind == "empty":
        r.status, r.detail = "unreadable", "文件为空（0字节）"
    elif kind == "docx":
        _read_docx_payload(r, r.payload, ctx)
    elif kind in ("doc", "wps", "rtf"):
        _convert_then(r, "docx", ctx, lambda rr, data: _read_docx_payload(rr, data, ctx))
    elif kind == "xlsx":
        _read_sheet_payload(r, r.payload, "xlsx")
    elif kind in ("xls", "et"):
        try:
            _read_sheet_payload(r, r.payload, "xls")
        except _Retry:
            _convert_then(r, "xlsx", ctx, lambda rr, data: _read_sheet_payload(rr, data, "xlsx"))
    elif kind == "pdf":
        _read_pdf(r, ctx)
    elif kind in IMAGE_TYPES:
        _recognise(r, ctx, [(r.payload, kind)], "图片")
    elif kind in ARCHIVE_TYPES:
        read_archive(r, ctx)
    elif kind in ("msg", "tnef"):
        read_outlook(r, ctx)
    elif kind == "p7m":
        read_p7m(r, ctx)
    elif kind == "encrypted":
        r.status, r.detail = "unreadable", "文件设有密码，请发送不加密的文件"
    elif kind == "html" and r.filename.lower().endswith((".doc", ".wps")) and ctx.convert is not None:
        # A Word file saved as a web page: keep its tables.
        _convert_then(r, "docx", ctx, lambda rr, data: _read_docx_payload(rr, data, ctx))
    elif kind == "html":
        text = html_to_text(decode_bytes(r.payload[: limits.max_text_chars]))
        _classify_text(r, text)
    elif kind == "txt":
        _classify_text(r, decode_bytes(r.payload[: limits.max_text_chars]))
    elif kind == "eml":
        r.status, r.detail = "skipped", "附带的邮件：已收存"
    elif kind in ("ole", "pptx"):
        r.status, r.detail = "unreadable", f"不支持的文件类型（{kind.upper()}）"
    else:
        r.status, r.detail = "unreadable", "无法识别的文件类型：不是Word、Excel、PDF、图片或压缩包"


def _unreadable(r: Reading, exc: Exception) -> None:
    """The reader's own words (Chinese, for people) as the detail; the cause kept for the office.
    A file left unread because of a limit is ``skipped`` rather than unreadable."""
    r.status, r.detail = "unreadable", str(exc)
    if getattr(exc, "limit", False):
        r.status = "skipped"
        r.limited = str(exc)
    cause = exc.__cause__
    if cause is not None:
        r.technical = f"{type(cause).__name__}: {cause}"[:2000]


class _Retry(Exception):
    pass


def _convert_then(r: Reading, target: str, ctx: Context, then: object) -> None:
    src_ext = {"doc": "doc", "wps": "wps", "rtf": "rtf", "xls": "xls", "et": "et", "html": "html"}[r.type]
    if ctx.convert is None:
        r.status, r.detail = "unreadable", NO_CONVERTER.format(kind=src_ext.upper())
        return
    try:
        converted = ctx.convert(r.payload, src_ext, target)
    except ConversionError as exc:
        _unreadable(r, exc)
        return
    then(r, converted)  # type: ignore[operator]


# --------------------------------------------------------------------------- Word


def _read_docx_payload(r: Reading, payload: bytes, ctx: Context) -> None:
    try:
        content = read_docx(payload)
    except DocxError as exc:
        _unreadable(r, exc)
        return
    _from_docx(r, content, ctx, payload)


def _from_docx(r: Reading, content: DocxContent, ctx: Context, payload: bytes) -> None:
    r.text = content.text if content.text.strip() else content.box_text
    if not r.text.strip() and content.pictures:
        # Nothing typed, only pictures: a form scanned or photographed and pasted into Word.
        images = picture_parts(payload, content.pictures, ctx.limits.archive.total_bytes)
        _recognise(r, ctx, [(data, sniff(data, name)) for name, data in images], "Word文件中的图片")
        return
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
    if content.boxes:
        records.extend(_box_records(content, "\n".join(recent), records))
    r.records = records + list_records
    if FORM_HINT.search(r.filename) or FORM_HINT.search(content.text[:500]) or FORM_HINT.search(content.box_text[:500]):
        # A form whose table was lost (flattened into paragraphs by a converter, or typed as
        # "姓名：…" lines): names, kinds and ranks from the paragraphs, as for a PDF.
        known = {(x.kind, x.name) for x in r.records}
        loose = extract_from_text("\n".join(content.paragraphs), r.filename, source="form")
        r.records.extend(x for x in loose if (x.kind, x.name) not in known)
    _assign_role(r, content)


def _box_records(content: DocxContent, context: str, found: list[FormRecord]) -> list[FormRecord]:
    """A form laid out in text boxes: the boxes' rows read as one table (a box holding a label
    alone paired with the box after it, which holds its value)."""
    rows: list[list[str]] = []
    for box in content.boxes:
        for row in box:
            if rows and len(rows[-1]) == 1 and field_of(rows[-1][0]) is not None and len(row) == 1:
                if field_of(row[0]) is None:
                    rows[-1] = [rows[-1][0], row[0]]
                    continue
            rows.append(row)
    shape, records = extract_from_table(rows, context)
    if shape == "form":
        return records
    if shape == "fields" and found:
        _merge_into(found[-1], records[0])
    return []


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
        r.detail = r.detail or "文件中没有文字"
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
        _unreadable(r, exc)
        return
    texts = []
    for title, rows in sheets:
        texts.append("\n".join("\t".join(c for c in row if c) for row in rows))
        r.records.extend(_records_in_sheet(rows, [r.filename, title]))
    r.text = "\n".join(texts)
    _assign_role(r, None)
    if r.role == "narrative":
        r.role = "other"  # a spreadsheet is never a 事迹材料


def _records_in_sheet(rows: list[list[str]], context: list[str]) -> list[FormRecord]:
    """A list (a header row, then a row each) wherever its header is, else the forms laid out in
    the sheet, each starting where a second name label appears. One pass over the rows."""
    for i, row in enumerate(rows):
        if is_header_row(row) and i + 1 < len(rows):
            shape, found = extract_from_table(rows[i:], "\n".join(context[-6:]))
            if shape == "list":
                return found
        line = " ".join(c for c in row if c)
        if line and i < 30:
            context.append(line)
    records: list[FormRecord] = []
    for segment in _form_segments(rows):
        shape, found = extract_from_table(segment, "\n".join(context[:8]))
        if shape == "form":
            records.extend(found)
        elif shape == "fields" and records:
            _merge_into(records[-1], found[0])
    return records


def _form_segments(rows: list[list[str]]) -> list[list[list[str]]]:
    segments: list[list[list[str]]] = [[]]
    seen_name = False
    for row in rows:
        labels = {field_of(c) for c in row if c}
        starts = bool(labels & NAME_FIELDS) and not is_subtable_header(row)
        title = any(FORM_HINT.search(c) for c in row if c and len(c) < 60)
        if seen_name and (starts or title):
            segments.append([])
            seen_name = False
        segments[-1].append(row)
        seen_name = seen_name or starts
    return [s for s in segments if s]


# --------------------------------------------------------------------------- PDF


def _read_pdf(r: Reading, ctx: Context) -> None:
    try:
        text = pdf_text(r.payload)
    except PdfUnreadable as exc:
        _unreadable(r, exc)
        return
    if len(re.sub(r"\s", "", text)) < 20:
        _recognise(r, ctx, [(r.payload, "pdf")], "PDF扫描件")
        return
    r.text = text
    if FORM_HINT.search(r.filename) or "推荐表" in text[:500]:
        r.records = extract_from_text(text, r.filename)
    if r.records:
        kinds = {x.kind for x in r.records}
        r.role = f"{kinds.pop()}_form" if len(kinds) == 1 else "forms"
        r.detail = "PDF推荐表：已识别姓名（名称）和排序，意见栏请以Word电子版为准"
        return
    _classify_text(r, text)


# --------------------------------------------------------------------------- scans and photos


def _recognise(r: Reading, ctx: Context, items: list[tuple[bytes, str]], what: str) -> None:
    """Scans and photos read by text recognition, within one budget for the file: a form, a
    narrative, or (nothing found) a scan kept as it is. What is read here waits for a person."""
    limits = ctx.limits
    started, pages_read = time.monotonic(), 0
    records, texts, limited, failed = [], [], [], ""
    for data, kind in items:
        left = ScanBudget(limits.ocr_seconds - (time.monotonic() - started), limits.ocr_pages - pages_read)
        if left.seconds <= 0 or left.pages <= 0:
            limited.append("文字识别超出每个文件的上限，其余图片未识别")
            break
        result = read_scan(data, kind, left, ctx.announce)
        pages_read += result.pages_read
        records += result.records
        texts.append(result.text)
        failed = failed or result.failed
        if result.limited:
            limited.append(result.limited)
    text = "\n".join(t for t in texts if t)
    r.limited = "；".join(limited)
    if failed and not pages_read:
        r.status, r.detail = "unreadable", failed
        return
    r.recognised = True
    r.text = text[: limits.max_text_chars]
    r.records = records
    if records:
        kinds = {x.kind for x in records}
        r.role = f"{kinds.pop()}_form" if len(kinds) == 1 else "forms"
        r.detail = f"{what}：已用文字识别读出，待人工核对"
        return
    body = re.sub(r"\s", "", text)
    if len(body) >= 150 and not FORM_HINT.search(r.filename):
        _classify_text(r, text)
        r.detail = f"{what}：已用文字识别读出文字，待人工核对"
        return
    r.status, r.role = "scan_only", "scan"
    r.detail = f"{what}：文字识别未找到推荐表、汇总表或事迹材料，已收存"
