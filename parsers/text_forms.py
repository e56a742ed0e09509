"""Forms whose table was flattened into text (a PDF, a converted file, ``姓名：…`` lines): the name,
the kind and the rank read from the words around the labels."""

from __future__ import annotations

import re

from parsers.labels import FIELD_LABELS, SPACE, FormRecord, clean_name, field_of, kind_from_text, parse_rank

_TEXT_NAME = re.compile(r"(?<![单位联系人])姓\s*名\s*[:：]?\s*([\u4e00-\u9fff·][\u4e00-\u9fff·\s]{0,16})")
_TEXT_UNIT = re.compile(r"单\s*位\s*名\s*称\s*[:：]?[ \t\u3000]*([^\n\t]{4,120})")
_TEXT_RANK = re.compile(r"推\s*荐\s*排\s*序\s*[:：]?\s*(第?[0-9０-９一二三四五六七八九十]+)")
_TEXT_TITLE = re.compile(r"(个人|单位)推荐表")


# Labels that end a value when a table was flattened into one line ("姓名王喆性别男…"): the long
# ones, and the short ones no name or unit name contains.
_CUT_LABELS = sorted(
    {lb for labels in FIELD_LABELS.values() for lb in labels if len(lb) >= 3 and "/" not in lb}
    | {"性别", "民族", "姓名", "排序", "电话", "职务", "职称", "学历", "手机"},
    key=len,
    reverse=True,
)
# Spread by spaces or not ("负 责 人", "负责人"): a label wherever it appears, converted text included.
_CUT = re.compile("|".join(r"\s*".join(map(re.escape, x)) for x in _CUT_LABELS) + r"|意\s*见")
_CELL_GAP = re.compile(r"\s{2,}|\t")


def _cut_at_label(value: str) -> str:
    m = _CUT.search(value)
    return value[: m.start()] if m else value


def _name_after_label(run: str) -> str:
    """The name in the text after 姓名: "王　喆　性　别" (spaced), "刘洋性　别男" (cut at a spaced
    label), "王喆\n男" (the next cell's value): joined when the first piece is one character or the
    joined text ends inside it, else the first piece alone."""
    joined = _cut_at_label(SPACE.sub("", run))
    first = _cut_at_label(run.split()[0]) if run.split() else ""
    if len(first) >= 2 and not first.startswith(joined):
        return first[:8]
    return joined[:8]


def extract_from_text(text: str, context: str = "", source: str = "pdf") -> list[FormRecord]:
    """Forms whose table was flattened to text (a PDF): one record per 姓名/单位名称 label with a value.

    Only the name, the kind and the rank are read; opinions and other fields need the table.
    """
    marks: list[tuple[int, str, str]] = []
    for m in _TEXT_NAME.finditer(text):
        value = _name_after_label(m.group(1))
        if len(value) >= 2 and field_of(value) is None:
            marks.append((m.start(), "individual", value))
    for m in _TEXT_UNIT.finditer(text):
        value = SPACE.sub("", _cut_at_label(_CELL_GAP.split(m.group(1).strip())[0]))
        if len(value) >= 4 and field_of(value) is None and not _TEXT_NAME.match(value):
            marks.append((m.start(), "unit", value))
    marks.sort()
    records = []
    for i, (start, kind, name) in enumerate(marks):
        end = marks[i + 1][0] if i + 1 < len(marks) else len(text)
        title = None
        for t in _TEXT_TITLE.finditer(text, 0, start):
            title = t
        if title is not None:
            kind = "unit" if title.group(1) == "单位" else "individual"
        elif kind_from_text(context):
            kind = kind_from_text(context) or kind
        rank = _TEXT_RANK.search(text, start, end)
        records.append(
            FormRecord(
                kind=kind,
                name=clean_name(name),
                rank=parse_rank(rank.group(1)) if rank else None,
                fields={},
                opinions=[],
                source=source,
            )
        )
    return records
