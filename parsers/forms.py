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
from functools import lru_cache

_BRACKETS = re.compile(r"[（(【\[][^）)】\]]*[）)】\]]")
_SPACE = re.compile(r"[\s\u3000\u00a0\u2002-\u200b]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")

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
    "unit_name": ("单位名称", "单位全称", "集体名称", "推荐单位名称", "被推荐单位", "被推荐单位名称"),
    # One column for both kinds, in lists that mix individuals and units.
    "subject": (
        "名称",
        "姓名/单位名称",
        "姓名或单位名称",
        "单位名称/姓名",
        "单位名称或姓名",
        "个人姓名/单位名称",
        "姓名/单位",
        "单位/姓名",
        "推荐对象",
        "推荐对象名称",
        "被推荐对象",
        "被推荐对象名称",
        "推荐对象姓名/单位名称",
        "被推荐人/单位",
        "被推荐人（单位）",
    ),
    "address": ("单位地址", "地址", "通讯地址", "通信地址"),
    "head": ("单位负责人", "负责人", "主要负责人", "单位主要负责人"),
    "contact": ("联系人",),
    "staff": ("职工人数", "人数", "干部职工人数", "在编人数"),
    "level": ("单位级别", "单位层级", "级别", "层级"),
    "kind": ("类别", "类型", "推荐类别", "推荐类型", "个人/单位"),
    "seq": ("序号", "编号"),
    "province": ("省份", "省(区、市)", "推荐省份", "地区", "省区市"),
    "remark": ("备注",),
    # Labels of the other tables inside a form (family, résumé, training): never the nominee's.
    "relation": ("称谓", "关系", "与本人关系", "家庭关系", "亲属关系", "与本人的关系"),
    "period": ("起止时间", "起止年月", "起讫时间", "起止日期", "时间", "起止时间及培训内容"),
    "training": ("培训内容", "培训项目", "培训单位", "学习培训内容", "培训机构"),
    "age": ("年龄",),
}

SUBTABLE_FIELDS = frozenset({"relation", "period", "training"})
NAME_FIELDS = frozenset({"name", "unit_name", "subject"})

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


@lru_cache(maxsize=8192)
def field_of(text: str) -> str | None:
    """The field a cell's text labels, if it is a label."""
    if not text or len(text) > 60 or not _CJK.search(text):
        return None  # every label is Chinese: numbers, dates and Latin text are values
    label = normalise_label(text)
    if not label:
        return None
    found = _LABEL_TO_FIELD.get(label) or _compound_label(label)
    if found:
        return found
    if label.endswith("意见") and len(label) <= 30:
        return OPINION
    return None


_LABEL_PREFIX = re.compile(r"^(被推荐人|被推荐对象|推荐对象|被推荐|推荐)")
_LABEL_SPLIT = re.compile(r"[/／、或]|及")


def _compound_label(label: str) -> str | None:
    """``被推荐人姓名/单位名称``, ``个人姓名或集体名称``: a prefix dropped, alternatives looked up."""
    bare = _LABEL_PREFIX.sub("", label)
    if bare != label and bare in _LABEL_TO_FIELD:
        return _LABEL_TO_FIELD[bare]
    parts = [p for p in _LABEL_SPLIT.split(bare) if p]
    if len(parts) < 2:
        return None
    found = {_LABEL_TO_FIELD.get(p) or _LABEL_TO_FIELD.get(_LABEL_PREFIX.sub("", p)) for p in parts}
    if {"name", "unit_name"} <= found or ("subject" in found and found & {"name", "unit_name"}):
        return "subject"
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
    source: str = "form"  # form | list | pdf (names, kinds and ranks from flattened text)


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
    """The header row of a list of nominees (never of a family or résumé table inside a form)."""
    cells = [c for c in row if c.strip()]
    if len(cells) < 2:
        return False
    labels = [c for c in cells if field_of(c) is not None]
    fields = {field_of(c) for c in labels}
    if fields & SUBTABLE_FIELDS:
        return False
    if not fields & NAME_FIELDS or len(labels) < 2:
        return False
    if len(labels) >= 0.8 * len(cells):
        return True
    # Wide lists carry columns of their own (任现职时间, 主要荣誉…): headings, not values.
    others = [c for c in cells if field_of(c) is None]
    return len(labels) >= 3 and all(_heading_like(c) for c in others)


def _heading_like(text: str) -> bool:
    compact = _SPACE.sub("", text)
    return len(compact) <= 12 and not re.search(r"\d", compact) and not compact.endswith(("。", "；", "，"))


def is_subtable_header(row: Row) -> bool:
    """A row that heads a table about other people or periods: 称谓/姓名/年龄…, 起止时间/培训内容…"""
    return any(field_of(c) in SUBTABLE_FIELDS for c in row if c.strip())


_UNIT_ENDING = re.compile(
    r"(局|分局|所|中心|委员会|工委|党委|党组|党支部|支部|总支|公司|协会|商会|队|站|科|办公室|办|处|院|厅|部|联合会|集团|市场|园区)$"
)


def guess_kind(name: str) -> str:
    """个人 or 单位 from the name alone, where no column or title says: a unit's name says what it is."""
    compact = _SPACE.sub("", name)
    if _UNIT_ENDING.search(compact) or len(compact) > 6:
        return "unit"
    return "individual"


# Rows under a list that are not nominees: notes, who filled it in, dates, seals.
_NOTE_ROW = re.compile(
    r"^(注|说明|备注|填报人|填表人|制表人|审核人|经办人|联系人|联系电话|填报单位|报送单位|填报日期|填表日期|日期|盖章|"
    r"单位（盖章）|单位\(盖章\)|负责人|签字|合计|总计|小计)"
)


def _not_a_name(name: str) -> bool:
    compact = _SPACE.sub("", name)
    return (
        not compact
        or bool(_NOTE_ROW.match(compact))
        or "：" in compact
        or ":" in compact
        or bool(re.search(r"\d{2,4}年", compact))
        or field_of(compact) is not None
        or not re.search(r"[\u4e00-\u9fffA-Za-z]", compact)
    )


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
    rows = [r for r in rows if any(c.strip() for c in r)]
    for idx, row in enumerate(rows):
        if is_header_row(row):
            following = rows[idx + 1 :]
            if following and not is_header_row(following[0]) and _values_row(following[0]):
                # Columns stay where they are: two equal neighbours in a list row are two values.
                return "list", _read_list(row, following, context)
            break
    record = _read_form([_distinct(r) for r in rows], context)
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
    sub_fields: set[str] = set()
    for row in rows:
        if is_subtable_header(row):
            sub_fields = {f for c in row if (f := field_of(c))}
            continue
        pairs = _label_pairs(row)
        if sub_fields:
            # Inside a family or résumé table: its rows are values; a label it does not have ends it.
            if not any(f not in sub_fields for f, _, _ in pairs if f):
                continue
            sub_fields = set()
        for f, label, value in pairs:
            if f == OPINION:
                opinions.append(Opinion(normalise_label(label), (value or "").strip(), opinion_kind(label)))
            elif f and f not in fields:
                fields[f] = (value or "").strip()
    fields = {k: v for k, v in fields.items() if k not in SUBTABLE_FIELDS and k != "age"}
    if not fields and not opinions:
        return None
    subject = fields.pop("subject", "")
    if subject and "name" not in fields and "unit_name" not in fields:
        fields["unit_name" if guess_kind(subject) == "unit" else "name"] = subject
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
    names = columns.keys() & NAME_FIELDS
    if names == {"name"}:
        default_kind: str | None = "individual"
    elif names == {"unit_name"} and _kind_from_text(context) != "individual":
        default_kind = "unit"
    elif "subject" in names or names == {"name", "unit_name"}:
        default_kind = None  # a column or the name itself says, row by row
    else:
        default_kind = _kind_from_text(context)
    records: list[FormRecord] = []
    section_kind = default_kind
    name_columns = [i for f, i in columns.items() if f in NAME_FIELDS]
    for row in rows:
        # A header repeated (a list printed over pages) or a family table under the list: the
        # name column holds a label. Looking there first keeps a long list one pass.
        if any(i < len(row) and field_of(row[i]) for i in name_columns):
            if is_header_row(row):
                columns = {f: i for i, c in enumerate(row) if (f := field_of(c))}
                name_columns = [i for f, i in columns.items() if f in NAME_FIELDS]
                continue
            if is_subtable_header(row):
                break
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
            name = get("unit_name") or get("subject") or get("name")
        elif kind == "individual":
            name = get("name") or get("subject") or get("unit_name")
        elif get("name") and not get("unit_name"):
            name, kind = get("name"), "individual"
        elif get("unit_name") and not get("name"):
            name, kind = get("unit_name"), "unit"
        else:
            name = get("subject") or get("name") or get("unit_name")
            kind = guess_kind(name) if name else ""
        first = nonempty[0] if nonempty else ""
        if _NOTE_ROW.match(_SPACE.sub("", first)) and not re.fullmatch(r"\d+", first):
            continue
        name = clean_name(name)
        if _not_a_name(name):
            continue
        fields = {f: get(f) for f in columns if get(f) and f != "subject"}
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

_TEXT_NAME = re.compile(r"(?<![单位联系人])姓\s*名\s*[:：]?\s*([\u4e00-\u9fff·][\u4e00-\u9fff·\s]{0,16})")
_TEXT_UNIT = re.compile(r"单\s*位\s*名\s*称\s*[:：]?\s*(\S{4,60})")
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
_CUT = re.compile("|".join(re.escape(x) for x in _CUT_LABELS) + r"|意见")


def _cut_at_label(value: str) -> str:
    m = _CUT.search(value)
    return value[: m.start()] if m else value


def _name_after_label(run: str) -> str:
    """The name in the text after 姓名: "王　喆　性　别" (spaced), "刘洋性　别男" (cut at a spaced
    label), "王喆\n男" (the next cell's value): joined when the first piece is one character or the
    joined text ends inside it, else the first piece alone."""
    joined = _cut_at_label(_SPACE.sub("", run))
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
        value = _cut_at_label(m.group(1))
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
                source=source,
            )
        )
    return records
