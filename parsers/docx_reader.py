"""Word (.docx) documents through python-docx's XML layer: the only module that imports ``docx``.

``paragraph.text`` drops tracked insertions, content controls, smart tags and symbol checkboxes;
this reader walks the XML itself: ``w:ins`` and ``w:sdt`` content is read, ``w:del`` is skipped,
``w:sym`` becomes its character (☑ □), field codes are left out. Text boxes (``w:txbxContent``,
DrawingML or VML) are read as paragraphs and tables of their own after the paragraph that anchors
them, each once: of ``mc:AlternateContent`` only the first choice is read, never its fallback (Word
and LibreOffice write the same box twice there); they stay out of ``text``, the narrative's count,
as Word's status bar count leaves them out. A merged cell is read once (python-docx repeats it in
``row.cells``). The pictures the body shows are listed, so a form pasted as a picture can go the
way of a scan.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field

from docx.oxml.parser import parse_xml

from parsers.archives import OFFICE_XML_BYTES, ZIP_ERRORS, oversized_part

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
V = "{urn:schemas-microsoft-com:vml}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"

# Wingdings / Symbol code points used for checkboxes in Chinese forms.
_SYMBOLS = {
    "F0FE": "☑",
    "F0FD": "☒",
    "F0A8": "□",
    "F06F": "□",
    "F0FC": "✓",
    "F0FB": "✗",
    "F078": "☒",
    "F052": "☑",
    "F0A3": "□",
    "F053": "☒",
    "F0A4": "●",
    "F09F": "•",
    "F06C": "●",
    "F0B7": "•",
}

_SKIP = {
    f"{W}del",
    f"{W}delText",
    f"{W}instrText",
    f"{W}delInstrText",
    f"{W}txbxContent",
    f"{W}footnoteReference",
    f"{W}endnoteReference",
    f"{MC}Fallback",
    f"{W}rPr",
    f"{W}pPr",
    f"{W}sdtPr",
    f"{W}sdtEndPr",
    f"{W}moveFrom",
}


@dataclass
class Cell:
    text: str
    merged_from_above: bool = False  # a vMerge continuation: the value is the cell above


@dataclass
class Table:
    rows: list[list[Cell]]
    nested_in: int | None = None  # index of the table that holds this one


@dataclass
class DocxContent:
    paragraphs: list[str] = field(default_factory=list)  # body paragraphs outside tables
    tables: list[Table] = field(default_factory=list)
    blocks: list[tuple[str, int]] = field(default_factory=list)  # ("p", i) / ("t", i) in order
    text: str = ""  # all text in reading order, tables included (Word's count covers them)
    box_text: str = ""  # the text of text boxes, in reading order
    boxes: list[list[list[str]]] = field(default_factory=list)  # each text box as rows of cells
    pictures: list[str] = field(default_factory=list)  # relationship ids of pictures in the body


class DocxError(Exception):
    def __init__(self, message: str, limit: bool = False) -> None:
        super().__init__(message)
        self.limit = limit  # left unread because of a size limit, not because it is damaged


def read_docx(payload: bytes) -> DocxContent:
    """Read the main document part only, with python-docx's own XML parser (entities are not
    resolved, so an entity bomb stays a few bytes); styles, themes and media are not loaded."""

    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as zf:
            big = oversized_part(zf)
            if big is not None:
                raise DocxError(
                    f"Word文件内部的 {big.filename} 解压后为 {big.file_size / 1048576:.0f} MB，"
                    f"超过 {OFFICE_XML_BYTES // 1048576} MB 的上限，未读取",
                    limit=True,
                )
            name = _main_part(zf)
            xml = zf.read(zf.getinfo(name))
    except DocxError:
        raise
    except KeyError as exc:
        raise DocxError("不是Word文件（缺少正文部分）") from exc
    except ZIP_ERRORS as exc:
        raise DocxError("Word文件已损坏") from exc
    try:
        root = parse_xml(xml)
    except Exception as exc:  # lxml's XMLSyntaxError, without importing lxml here
        raise DocxError("Word文件已损坏") from exc
    body = root.find(f"{W}body")
    if body is None:
        raise DocxError("Word文件已损坏（没有正文）")
    content = DocxContent()
    texts: list[str] = []
    boxes: list[str] = []
    _walk_blocks(body, content, texts, None, boxes)
    content.text = "\n".join(texts)
    content.box_text = "\n".join(t for t in boxes if t)
    content.pictures = [
        rid for blip in body.iter(f"{A}blip", f"{V}imagedata") if (rid := blip.get(f"{R}embed") or blip.get(f"{R}id"))
    ]
    return content


def picture_parts(payload: bytes, ids: list[str], limit: int) -> list[tuple[str, bytes]]:
    """The pictures ``ids`` name (relationship ids of the main part), as (name, bytes), in order,
    at most ``limit`` bytes in all."""
    out: list[tuple[str, bytes]] = []
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as zf:
            main = _main_part(zf)
            rels_name = f"{main.rsplit('/', 1)[0]}/_rels/{main.rsplit('/', 1)[-1]}.rels"
            rels = parse_xml(zf.read(rels_name))
            targets = {r.get("Id"): r.get("Target") or "" for r in rels}
            left = limit
            seen: set[str] = set()
            for rid in dict.fromkeys(ids):
                target = targets.get(rid, "")
                if not target or "://" in target:
                    continue
                name = posixpath.normpath(posixpath.join(posixpath.dirname(main), target)).lstrip("/")
                if name in seen:
                    continue  # the same picture as a DrawingML blip and its VML fallback
                seen.add(name)
                info = zf.getinfo(name)
                if info.file_size > left:
                    break
                left -= info.file_size
                out.append((name.rsplit("/", 1)[-1], zf.read(info)))
    except (KeyError, *ZIP_ERRORS):
        return out
    except Exception:  # lxml's XMLSyntaxError on a damaged relationships part
        return out
    return out


def _main_part(zf: zipfile.ZipFile) -> str:
    """The main document part named in [Content_Types].xml (almost always word/document.xml)."""
    names = set(zf.namelist())
    if "word/document.xml" in names:
        return "word/document.xml"
    try:
        types = zf.read("[Content_Types].xml").decode("utf-8", "replace")
    except KeyError:
        raise KeyError("word/document.xml") from None

    m = re.search(
        r'PartName="/([^"]+)"[^>]*ContentType="application/vnd\.openxmlformats-officedocument\.'
        r'wordprocessingml\.document\.main\+xml"',
        types,
    )
    if m and m.group(1) in names:
        return m.group(1)
    raise KeyError("word/document.xml")


def _walk_blocks(
    parent: object, content: DocxContent, texts: list[str], nested_in: int | None, boxes: list[str]
) -> None:
    for child in list(parent):  # type: ignore[call-overload]
        tag = child.tag
        if tag == f"{W}p":
            text = paragraph_text(child)
            texts.append(text)
            if nested_in is None:
                content.blocks.append(("p", len(content.paragraphs)))
                content.paragraphs.append(text)
            for box in _text_boxes(child):
                content.boxes.append(_box_rows(box, boxes))
        elif tag == f"{W}tbl":
            _read_table(child, content, texts, nested_in)
        elif tag in (
            f"{W}sdt",
            f"{W}sdtContent",
            f"{W}customXml",
            f"{W}ins",
            f"{MC}AlternateContent",
            f"{MC}Choice",
            f"{W}smartTag",
        ):
            _walk_blocks(child, content, texts, nested_in, boxes)


def _box_rows(box: object, texts: list[str]) -> list[list[str]]:
    """A text box as rows: a paragraph is a row of one cell, a table its rows (boxes inside it
    read in their place)."""
    rows: list[list[str]] = []
    for child in box:  # type: ignore[attr-defined]
        if child.tag == f"{W}p":
            text = paragraph_text(child)
            texts.append(text)
            if text.strip():
                rows.append([text])
            for inner in _text_boxes(child):
                rows.extend(_box_rows(inner, texts))
        elif child.tag == f"{W}tbl":
            table = DocxContent()
            _read_table(child, table, texts, None)
            for t in table.tables:
                rows.extend([c.text for c in row if not c.merged_from_above] for row in t.rows)
    return rows


def _text_boxes(element: object) -> list[object]:
    """The text boxes anchored in a paragraph, each once: the first choice of an
    ``mc:AlternateContent`` is read and its fallback (the same box in VML) is not; a box inside a
    box is found when the outer one is read."""
    out: list[object] = []
    for child in element:  # type: ignore[attr-defined]
        tag = child.tag
        if not isinstance(tag, str) or tag == f"{MC}Fallback":
            continue
        if tag == f"{W}txbxContent":
            out.append(child)
        elif tag == f"{MC}AlternateContent":
            choices = [c for c in child if c.tag == f"{MC}Choice"]
            out.extend(_text_boxes(choices[0]) if choices else [])
        else:
            out.extend(_text_boxes(child))
    return out


def _read_table(tbl: object, content: DocxContent, texts: list[str], nested_in: int | None) -> None:
    index = len(content.tables)
    table = Table(rows=[], nested_in=nested_in)
    content.tables.append(table)
    if nested_in is None:
        content.blocks.append(("t", index))
    nested: list[object] = []
    for tr in _children(tbl, f"{W}tr"):
        row: list[Cell] = []
        for tc in _children(tr, f"{W}tc"):
            parts: list[str] = []
            for block in tc:
                if block.tag == f"{W}p":
                    parts.append(paragraph_text(block))
                elif block.tag == f"{W}tbl":
                    nested.append(block)
                elif block.tag in (f"{W}sdt", f"{W}customXml"):
                    for p in block.iter(f"{W}p"):
                        parts.append(paragraph_text(p))
            text = "\n".join(parts).strip()
            texts.append(text)
            vmerge = tc.find(f"{W}tcPr/{W}vMerge")
            continuation = vmerge is not None and vmerge.get(f"{W}val") in (None, "continue")
            row.append(Cell(text=text, merged_from_above=continuation))
        table.rows.append(row)
    for sub in nested:
        _read_table(sub, content, texts, index)


def _children(element: object, tag: str) -> list[object]:
    """Direct children with ``tag``, looking through content controls and custom XML wrappers."""
    out = []
    for child in element:  # type: ignore[attr-defined]
        if child.tag == tag:
            out.append(child)
        elif child.tag in (f"{W}sdt", f"{W}customXml", f"{W}sdtContent", f"{W}ins"):
            out.extend(_children(child, tag))
    return out


def paragraph_text(p: object) -> str:
    out: list[str] = []
    _collect(p, out)
    return "".join(out)


def _collect(element: object, out: list[str]) -> None:
    for child in element:  # type: ignore[attr-defined]
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIP:
            continue
        if tag == f"{W}t":
            out.append(child.text or "")
        elif tag == f"{W}tab":
            out.append("\t")
        elif tag in (f"{W}br", f"{W}cr"):
            out.append("\n")
        elif tag == f"{W}noBreakHyphen":
            out.append("-")
        elif tag == f"{W}sym":
            code = (child.get(f"{W}char") or "").upper()
            out.append(_SYMBOLS.get(code, _sym_char(code)))
        elif tag == f"{W}tbl":
            continue  # nested tables are read as tables of their own
        else:
            _collect(child, out)


def _sym_char(code: str) -> str:
    try:
        value = int(code, 16)
    except ValueError:
        return ""
    if 0xF000 <= value <= 0xF0FF:
        return ""
    return chr(value)
