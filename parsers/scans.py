"""Scans and photos read by text recognition (``parsers.ocr``): a form's cells paired label to
value by position with the same labels as the Word reader, a narrative's text, a seal found (or
not) on each opinion. Every field read this way carries its confidence and a picture of its cell,
so a person can check it at a glance; nothing read here stands until a person has.

Recognition has a budget of its own per file (pages and seconds, apart from the message's parse
limit): a long scan that runs out of it keeps what was read and says what was not."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from parsers.forms import extract_from_table
from parsers.labels import FIELD_LABELS, SPACE, FormRecord, field_of, kind_from_text
from parsers.ocr import OcrCell, OcrError, OcrPage, page_count, pages, read_page

# Every label of the notice's forms, for labels a recogniser got one character wrong.
_KNOWN_LABELS = sorted({lb for labels in FIELD_LABELS.values() for lb in labels if len(lb) >= 4})
_DATE = re.compile(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日|\d{4}[.\-/]\d{1,2}[.\-/]\d{1,2}")
_SIGNED = re.compile(r"同意|推荐|签字|签名|负责人")


@dataclass(frozen=True)
class ScanBudget:
    seconds: float = 60.0
    pages: int = 30


@dataclass
class ScanResult:
    records: list[FormRecord] = field(default_factory=list)
    text: str = ""
    pages_read: int = 0
    pages_total: int = 0
    limited: str = ""  # what the budget left unread
    failed: str = ""  # nothing could be decoded


def read_scan(
    payload: bytes, kind: str, budget: ScanBudget, announce: Callable[[float], None] | None = None
) -> ScanResult:
    """Recognise the pages of an image or an image-only PDF within ``budget``. ``announce`` is told
    the seconds recognition may take before it starts (the parse worker's time limit grows by
    them, so a long scan never costs the other files of its mail their reading)."""
    out = ScanResult()
    try:
        out.pages_total = page_count(payload, kind)
    except OcrError as exc:
        out.failed = str(exc)
        return out
    if announce is not None:
        announce(budget.seconds)
    started = time.monotonic()
    texts: list[str] = []
    try:
        for index, image in enumerate(pages(payload, kind)):
            if index >= budget.pages or time.monotonic() - started > budget.seconds:
                out.limited = (
                    f"文字识别超出每个文件 {budget.pages} 页、{budget.seconds:g} 秒的上限，"
                    f"已识别前 {index} 页，其余 {out.pages_total - index} 页未识别"
                )
                break
            page = read_page(image, index)
            del image
            out.pages_read += 1
            texts.append(page.text)
            out.records.extend(_records(page))
    except OcrError as exc:
        if not out.pages_read:
            out.failed = str(exc)
            return out
        out.limited = f"第 {out.pages_read + 1} 页无法识别：{exc}"
    out.text = "\n".join(texts)
    return out


def _records(page: OcrPage) -> list[FormRecord]:
    """The form on a page, its fields marked as recognised with their confidence and cell."""
    rows = [[_label(c.text) for c in row] for row in page.rows]
    if sum(len(r) for r in rows) < 4:
        return []
    context = "\n".join(page.loose)
    shape, found = extract_from_table(rows, context)
    if shape != "form":
        return []
    (record,) = found
    if not record.kind:
        record.kind = kind_from_text(context) or "individual"
    cells = [c for row in page.rows for c in row]
    for name, value in record.fields.items():
        cell = _cell_of(cells, value)
        if cell is not None:
            record.ocr[name] = {"confidence": cell.confidence, "crop": cell.crop}
    for opinion in record.opinions:
        cell = _cell_of(cells, opinion.text)
        if cell is None:
            continue
        if cell.seal:
            opinion.seal = "found"
        elif _DATE.search(opinion.text) or _SIGNED.search(opinion.text):
            opinion.seal = "missing"  # signed or dated, and no red seal on it
        record.ocr[f"opinion:{opinion.label}"] = {"confidence": cell.confidence, "crop": cell.crop}
    record.source = "ocr"
    return [record]


def _cell_of(cells: list[OcrCell], value: str) -> OcrCell | None:
    want = SPACE.sub("", value)
    if not want:
        return None
    for cell in cells:
        if SPACE.sub("", cell.text) == want:
            return cell
    return next((c for c in cells if want in SPACE.sub("", c.text)), None)


def _label(text: str) -> str:
    """A cell's text; a label the recogniser got one character wrong (主要重迹, 主要迹) read as
    the label it is."""
    compact = SPACE.sub("", text)
    if field_of(compact) is not None or not 3 <= len(compact) <= 12 or re.search(r"\d", compact):
        return text
    for label in _KNOWN_LABELS:
        if abs(len(label) - len(compact)) <= 1 and _one_edit(label, compact):
            return label
    return text


def _one_edit(a: str, b: str) -> bool:
    """Whether ``b`` is ``a`` with at most one character changed, dropped or added."""
    if a == b:
        return True
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    for i in range(len(long_)):
        if long_[:i] + long_[i + 1 :] == short:
            return True
    return False
