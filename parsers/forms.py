"""Nomination forms (推荐表) and summary lists, found by their labels, never by position.

A label is normalised by removing all white space (U+3000 and line breaks too, so ``姓　　名`` and
a vertical ``主\\n要\\n事\\n迹`` are plain labels), a trailing colon and bracketed notes such as
``（限300字）``; synonyms map to one field. In a form the value is the next distinct cell in the
row, or the text after ``：`` when label and value share a cell. In a list the labels form a
header row and each following row is a nominee.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_BRACKETS = re.compile(r"[（(【\[][^）)】\]]*[）)】\]]")
_SPACE = re.compile(r"[\s\u3000\u00a0\u2002-\u200b]+")

FIELD_LABELS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "被推荐人姓名", "推荐对象姓名", "推荐人选姓名", "候选人姓名"),
    "sex": ("性别",),
    "ethnicity": ("民族",),
    "birth": ("出生年月", "出生日期", "出生年月日", "出生时间", "出生年份"),
    "political": ("政治面貌", "党派", "政治面目"),
    "work_start": ("参加工作时间", "参加工作年月", "工作时间"),
    "party_date": ("入党时间", "入党年月"),
    "education": ("学历", "文化程度", "学历学位"),
    "workplace": (
        "工作单位及职务",
        "工作单位和职务",
        "单位及职务",
        "工作单位及职务职称",
        "所在单位及职务",
        "工作单位及现任职务",
        "单位和职务",
        "工作单位、职务",
        "工作单位职务",
        "工作单位",
    ),
    "post": ("职务", "现任职务", "职务职称", "职称", "行政职务"),
    "phone": ("联系电话", "电话", "手机", "手机号码", "联系方式", "办公电话"),
    "rank": ("推荐排序", "排序", "推荐顺序", "排名", "推荐次序", "排列顺序"),
    "deeds": (
        "主要事迹",
        "事迹",
        "主要事迹简介",
        "事迹简介",
        "简要事迹",
        "主要事迹摘要",
        "主要工作事迹",
        "先进事迹",
        "主要表现",
    ),
    "unit_name": ("单位名称", "单位全称", "集体名称", "推荐单位名称", "被推荐单位", "被推荐单位名称", "名称"),
    "address": ("单位地址", "地址", "通讯地址", "通信地址"),
    "head": ("单位负责人", "负责人", "主要负责人", "单位主要负责人"),
    "contact": ("联系人",),
    "staff": ("职工人数", "人数", "干部职工人数", "在编人数"),
    "level": ("单位级别", "单位层级", "级别", "层级"),
    "kind": ("类别", "类型", "推荐类别", "推荐类型", "个人/单位"),
    "seq": ("序号", "编号"),
    "province": ("省份", "省(区、市)", "推荐省份", "地区", "省区市"),
    "remark": ("备注",),
}

_LABEL_TO_FIELD: dict[str, str] = {}
for _field, _labels in FIELD_LABELS.items():
    for _label in _labels:
        _LABEL_TO_FIELD[_label] = _field

OPINION = "opinion"
INDIVIDUAL_HINTS = {"sex", "ethnicity", "birth", "political", "work_start", "workplace", "party_date"}
UNIT_HINTS = {"unit_name", "address", "head", "staff", "level", "contact"}


def normalise_label(text: str) -> str:
    text = _SPACE.sub("", text)
    text = text.strip("：:*＊·")
    without = _BRACKETS.sub("", text)
    return without.strip("：:") or text


def field_of(text: str) -> str | None:
    """The field a cell's text labels, if it is a label."""
    if not text or len(text) > 60:
        return None
    label = normalise_label(text)
    if not label:
        return None
    found = _LABEL_TO_FIELD.get(label)
    if found:
        return found
    if label.endswith("意见") and len(label) <= 30:
        return OPINION
    return None


def opinion_kind(label: str) -> str:
    """recommender (推荐单位/所在单位), organization (组织部门/两新工委), or other."""
    label = normalise_label(label)
    if "组织部" in label or "两新工委" in label or "两新组织工委" in label or "党委" in label:
        return "organization"
    if "推荐单位" in label or "所在单位" in label or "单位意见" in label:
        return "recommender"
    return "other"


@dataclass
class Opinion:
    label: str
    text: str
    kind: str


@dataclass
class FormRecord:
    kind: str  # individual | unit
    name: str
    rank: int | None
    fields: dict[str, str] = field(default_factory=dict)
    opinions: list[Opinion] = field(default_factory=list)
    source: str = "form"  # form | list


# --------------------------------------------------------------------------- tables

Row = list[str]


def _split_inline(text: str) -> tuple[str, str] | None:
    """``姓名：张三`` → (label, value) when the part before the colon is a known label."""
    m = re.match(r"^\s*([^：:\n]{1,30})[：:]\s*(.*)$", text, re.S)
    if not m:
        return None
    if field_of(m.group(1)) is None:
        return None
    return m.group(1), m.group(2).strip()


def _distinct(row: Row) -> Row:
    out: Row = []
    for cell in row:
        if out and cell == out[-1] and cell:
            continue  # a horizontally merged cell seen twice
        out.append(cell)
    return out


def _label_pairs(row: Row) -> list[tuple[str, str, str | None]]:
    """(field, label text, value) for each label in a form row; value None when absent."""
    pairs: list[tuple[str, str, str | None]] = []
    i = 0
    while i < len(row):
        cell = row[i]
        f = field_of(cell)
        if f is not None:
            value: str | None = None
            if i + 1 < len(row) and field_of(row[i + 1]) is None:
                value = row[i + 1]
                i += 1
            elif i + 1 < len(row):
                value = ""
            pairs.append((f, cell, value))
        else:
            inline = _split_inline(cell)
            if inline:
                pairs.append((field_of(inline[0]) or "", inline[0], inline[1]))
        i += 1
    return pairs


def is_header_row(row: Row) -> bool:
    cells = [c for c in row if c.strip()]
    if len(cells) < 2:
        return False
    labels = [c for c in cells if field_of(c) is not None]
    fields = {field_of(c) for c in labels}
    has_name = bool(fields & {"name", "unit_name"})
    return has_name and len(labels) >= 2 and len(labels) >= 0.8 * len(cells)


def parse_rank(text: str | None) -> int | None:
    if not text:
        return None
    text = text.strip()
    m = re.search(r"\d+", text.translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    if m:
        return int(m.group(0))
    cn = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
    m2 = re.search(r"第?([一二三四五六七八九十]+)", text)
    if m2:
        s = m2.group(1)
        if s == "十":
            return 10
        if s.startswith("十"):
            return 10 + cn.get(s[1:], 0)
        if s.endswith("十"):
            return cn.get(s[0], 0) * 10
        if "十" in s:
            a, b = s.split("十", 1)
            return cn.get(a, 0) * 10 + cn.get(b, 0)
        return cn.get(s)
    return None


def _kind_from_text(text: str) -> str | None:
    """个人 or 单位 from a title, a file or sheet name: 附件2/附件3, 个人推荐表, 推荐单位汇总表…"""
    if "附件3" in text or "单位推荐" in text or "单位）推荐" in text or "集体" in text:
        return "unit"
    if "附件2" in text or "个人推荐" in text or "个人）推荐" in text:
        return "individual"
    has_unit, has_person = "单位" in text, "个人" in text
    if has_unit != has_person:
        return "unit" if has_unit else "individual"
    return None


def clean_name(text: str) -> str:
    text = _SPACE.sub("", text) if re.fullmatch(r"[\u4e00-\u9fff\s\u3000·]+", text) else text.strip()
    return text.strip("：: \u3000").splitlines()[0].strip() if text else ""


def extract_from_table(rows: list[Row], context: str = "") -> tuple[str, list[FormRecord]]:
    """Read one table: ('list', records) for a summary list, ('form', [record]) for a form,
    ('fields', [partial]) for a table of fields with no name (a continuation), ('none', [])."""
    rows = [_distinct(r) for r in rows if any(c.strip() for c in r)]
    for idx, row in enumerate(rows):
        if is_header_row(row):
            following = rows[idx + 1 :]
            if following and not is_header_row(following[0]) and _values_row(following[0]):
                return "list", _read_list(row, following, context)
            break
    record = _read_form(rows, context)
    if record is None:
        return "none", []
    if record.name:
        return "form", [record]
    return "fields", [record]


def _values_row(row: Row) -> bool:
    cells = [c for c in row if c.strip()]
    return len(cells) >= 2 and sum(1 for c in cells if field_of(c) is not None) <= len(cells) // 3


def _read_form(rows: list[Row], context: str) -> FormRecord | None:
    fields: dict[str, str] = {}
    opinions: list[Opinion] = []
    for row in rows:
        for f, label, value in _label_pairs(row):
            if f == OPINION:
                opinions.append(Opinion(normalise_label(label), (value or "").strip(), opinion_kind(label)))
            elif f and f not in fields:
                fields[f] = (value or "").strip()
    if not fields and not opinions:
        return None
    keys = set(fields)
    # The fields decide when they can; the title around the table only when they cannot.
    if "name" in keys and keys & INDIVIDUAL_HINTS:
        kind = "individual"
    elif "unit_name" in keys and ("name" not in keys or keys & (UNIT_HINTS - {"unit_name"})):
        kind = "unit"
    else:
        kind = _kind_from_text(context) or ("individual" if "name" in keys else "unit" if "unit_name" in keys else "")
    name = fields.get("unit_name" if kind == "unit" else "name", "")
    if kind == "unit" and not name:
        name = fields.get("name", "")
    if kind == "individual" and not name:
        name = ""
    return FormRecord(
        kind=kind,
        name=clean_name(name),
        rank=parse_rank(fields.get("rank")),
        fields=fields,
        opinions=opinions,
        source="form",
    )


def _read_list(header: Row, rows: list[Row], context: str) -> list[FormRecord]:
    columns: dict[str, int] = {}
    for i, cell in enumerate(header):
        f = field_of(cell)
        if f and f not in columns:
            columns[f] = i
    # The columns decide when they can (姓名 → individuals, 单位名称 → units); the title otherwise.
    if "name" in columns and "unit_name" not in columns:
        default_kind: str | None = "individual"
    elif "unit_name" in columns and "name" not in columns and _kind_from_text(context) != "individual":
        default_kind = "unit"
    else:
        default_kind = _kind_from_text(context)
    records: list[FormRecord] = []
    section_kind = default_kind
    for row in rows:
        if is_header_row(row):
            columns = {f: i for i, c in enumerate(row) if (f := field_of(c))}
            continue
        cells = [c.strip() for c in row]
        nonempty = [c for c in cells if c]
        if len(nonempty) == 1:
            # A section line inside the list: "一、个人" / "二、单位"
            k = _section_kind(nonempty[0])
            if k:
                section_kind = k
            continue

        def get(f: str, cells: list[str] = cells, columns: dict[str, int] = columns) -> str:
            i = columns.get(f)
            return cells[i] if i is not None and i < len(cells) else ""

        kind = _row_kind(get("kind")) or section_kind or ""
        if kind == "unit":
            name = get("unit_name") or get("name")
        else:
            name = get("name") or get("unit_name")
            if not kind:
                kind = "unit" if not get("name") else "individual"
        name = clean_name(name)
        if not name or name in ("合计", "总计", "小计") or field_of(name):
            continue
        fields = {f: get(f) for f in columns if get(f)}
        records.append(FormRecord(kind=kind, name=name, rank=parse_rank(get("rank")), fields=fields, source="list"))
    return records


def _row_kind(text: str) -> str | None:
    if not text:
        return None
    if "单位" in text or "集体" in text:
        return "unit"
    if "个人" in text:
        return "individual"
    return None


def _section_kind(text: str) -> str | None:
    t = _SPACE.sub("", text)
    if len(t) > 20:
        return None
    if "单位" in t or "集体" in t:
        return "unit"
    if "个人" in t:
        return "individual"
    return None


# --------------------------------------------------------------------------- forms as plain text (PDF)

_TEXT_NAME = re.compile(r"(?<![单位联系人])姓\s*名\s*[:：]?\s*([\u4e00-\u9fff·]{2,8})")
_TEXT_UNIT = re.compile(r"单\s*位\s*名\s*称\s*[:：]?\s*(\S{4,60})")
_TEXT_RANK = re.compile(r"推\s*荐\s*排\s*序\s*[:：]?\s*(第?[0-9０-９一二三四五六七八九十]+)")
_TEXT_TITLE = re.compile(r"(个人|单位)推荐表")


def extract_from_text(text: str, context: str = "") -> list[FormRecord]:
    """Forms whose table was flattened to text (a PDF): one record per 姓名/单位名称 label with a value.

    Only the name, the kind and the rank are read; opinions and other fields need the table.
    """
    marks: list[tuple[int, str, str]] = []
    for m in _TEXT_NAME.finditer(text):
        if field_of(m.group(1)) is None:
            marks.append((m.start(), "individual", m.group(1)))
    for m in _TEXT_UNIT.finditer(text):
        value = m.group(1)
        if field_of(value) is None and not _TEXT_NAME.match(value):
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
        elif _kind_from_text(context):
            kind = _kind_from_text(context) or kind
        rank = _TEXT_RANK.search(text, start, end)
        records.append(
            FormRecord(
                kind=kind,
                name=clean_name(name),
                rank=parse_rank(rank.group(1)) if rank else None,
                fields={},
                opinions=[],
                source="form",
            )
        )
    return records
