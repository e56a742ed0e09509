"""The labels of nomination forms and lists, and the values under them.

A label is normalised by removing all white space (U+3000 and line breaks too, so ``姓　　名`` and
a vertical ``主\\n要\\n事\\n迹`` are plain labels), a trailing colon and bracketed notes such as
``（限300字）``; synonyms map to one field. What a form or a list gives is a ``FormRecord``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

_BRACKETS = re.compile(r"[（(【\[][^）)】\]]*[）)】\]]")
SPACE = re.compile(r"[\s\u3000\u00a0\u2002-\u200b]+")
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
    text = SPACE.sub("", text)
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
    return suffix_field(label)


# Labels read by the field they end with: 学生姓名, 毕业生主要事迹, 本人出生年月. Not every field: a
# short ending (名称, 时间, 人数) says too little about what stands before it.
_SUFFIX_FIELDS = ("name", "birth", "sex", "ethnicity", "political", "deeds", "workplace", "party_date", "phone")
_SUFFIXES = sorted(
    ((lb, f) for f in _SUFFIX_FIELDS for lb in FIELD_LABELS[f] if len(lb) >= 2 and lb not in ("事迹", "电话", "手机")),
    key=lambda x: -len(x[0]),
)
# Whose name or telephone a label may give that is not the nominee's: a unit's people, a form's
# filler, a family table.
_OTHER_PEOPLE = {
    "联系人": "contact",
    "负责人": "head",
    "单位负责人": "head",
    "主要负责人": "head",
    "单位主要负责人": "head",
}
_NOT_NOMINEE = re.compile(r"(填表|经办|审核|推荐|联络|家长|配偶|父亲|母亲|子女|亲属|介绍|证明)人?$|^(家庭成员|成员)")


def suffix_field(label: str) -> str | None:
    """The field of a label that ends with one (a prefix of at most six characters before it),
    None when the prefix names someone other than the nominee."""
    for suffix, f in _SUFFIXES:
        if label.endswith(suffix) and label != suffix:
            prefix = label[: -len(suffix)]
            if len(prefix) > 6 or not _CJK.search(prefix):
                return None
            if prefix in _OTHER_PEOPLE:
                return _OTHER_PEOPLE[prefix] if f == "name" else None
            if _NOT_NOMINEE.search(prefix):
                return None
            return f
    return None


def exact_label(text: str) -> bool:
    """Whether ``text`` is a label as written on the notice's forms (not read by its ending)."""
    label = normalise_label(text)
    return label in _LABEL_TO_FIELD or _compound_label(label) is not None


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
    seal: str = ""  # on a scan: "found" (red seal on the cell), "missing" (signed or dated, no seal), "" unknown


@dataclass
class FormRecord:
    kind: str  # individual | unit
    name: str
    rank: int | None
    fields: dict[str, str] = field(default_factory=dict)
    opinions: list[Opinion] = field(default_factory=list)
    source: str = "form"  # form | list | pdf (names, kinds and ranks from flattened text) | ocr
    # Fields read by text recognition: {field: {"confidence": 0–1, "crop": PNG of the cell}}; the
    # archive replaces each crop by its hash once it is kept.
    ocr: dict[str, dict[str, Any]] = field(default_factory=dict)


_UNIT_ENDING = re.compile(
    r"(局|分局|所|中心|委员会|工委|党委|党组|党支部|支部|总支|公司|协会|商会|队|站|科|办公室|办|处|院|厅|部|联合会|集团|市场|园区)$"
)


def guess_kind(name: str) -> str:
    """个人 or 单位 from the name alone, where no column or title says: a unit's name says what it is."""
    compact = SPACE.sub("", name)
    if _UNIT_ENDING.search(compact) or len(compact) > 6:
        return "unit"
    return "individual"


# Rows under a list that are not nominees: notes, who filled it in, dates, seals.
NOTE_ROW = re.compile(
    r"^(注|说明|备注|填报人|填表人|制表人|审核人|经办人|联系人|联系电话|填报单位|报送单位|填报日期|填表日期|日期|盖章|"
    r"单位（盖章）|单位\(盖章\)|负责人|签字|合计|总计|小计)"
)


FORMULA_START = ("=", "+", "-", "@", "\t")


def formula_like(text: str) -> bool:
    """Text that a spreadsheet would take for a formula (=HYPERLINK(…), +cmd|…, @SUM(…))."""
    return text.startswith(FORMULA_START) and len(text.strip()) >= 2


def not_a_name(name: str) -> bool:
    compact = SPACE.sub("", name)
    if formula_like(name.strip(" \u3000")):
        return False  # kept as text and flagged: never dropped without a word
    return (
        not compact
        or bool(NOTE_ROW.match(compact))
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


def kind_from_text(text: str) -> str | None:
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
    text = SPACE.sub("", text) if re.fullmatch(r"[\u4e00-\u9fff\s\u3000·]+", text) else text.strip()
    return text.strip("：: \u3000").splitlines()[0].strip() if text else ""
