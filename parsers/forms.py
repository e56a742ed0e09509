"""Nomination forms (推荐表) and summary lists, found by their labels, never by position.

A label is normalised by removing all white space (U+3000 and line breaks too, so ``姓　　名`` and
a vertical ``主\\n要\\n事\\n迹`` are plain labels), a trailing colon and bracketed notes such as
``（限300字）``; synonyms map to one field. In a form the value is the next distinct cell in the
row, or the text after ``：`` when label and value share a cell. In a list the labels form a
header row and each following row is a nominee.
"""

from __future__ import annotations

import re

from parsers.labels import (
    INDIVIDUAL_HINTS,
    NAME_FIELDS,
    NOTE_ROW,
    OPINION,
    SPACE,
    SUBTABLE_FIELDS,
    UNIT_HINTS,
    FormRecord,
    Opinion,
    clean_name,
    exact_label,
    field_of,
    guess_kind,
    kind_from_text,
    normalise_label,
    not_a_name,
    opinion_kind,
    parse_rank,
)

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
    compact = SPACE.sub("", text)
    return len(compact) <= 12 and not re.search(r"\d", compact) and not compact.endswith(("。", "；", "，"))


def is_subtable_header(row: Row) -> bool:
    """A row that heads a table about other people or periods: 称谓/姓名/年龄…, 起止时间/培训内容…"""
    return any(field_of(c) in SUBTABLE_FIELDS for c in row if c.strip())


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
        kind = kind_from_text(context) or ("individual" if "name" in keys else "unit" if "unit_name" in keys else "")
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
    # A column headed as the notice heads it (姓名) before one read by its ending (学生姓名).
    for exact in (True, False):
        for i, cell in enumerate(header):
            f = field_of(cell)
            if f and f not in columns and exact_label(cell) is exact:
                columns[f] = i
    # The columns decide when they can (姓名 → individuals, 单位名称 → units); the title otherwise.
    names = columns.keys() & NAME_FIELDS
    if names == {"name"}:
        default_kind: str | None = "individual"
    elif names == {"unit_name"} and kind_from_text(context) != "individual":
        default_kind = "unit"
    elif "subject" in names or names == {"name", "unit_name"}:
        default_kind = None  # a column or the name itself says, row by row
    else:
        default_kind = kind_from_text(context)
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
        if NOTE_ROW.match(SPACE.sub("", first)) and not re.fullmatch(r"\d+", first):
            continue
        name = clean_name(name)
        if not_a_name(name):
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
    t = SPACE.sub("", text)
    if len(t) > 20:
        return None
    if "单位" in t or "集体" in t:
        return "unit"
    if "个人" in t:
        return "individual"
    return None
