"""The documents the office issues from the review states: 审核名单.xlsx for the leading group,
公示名单.docx, and 通报表扬.docx in the layout of GB/T 9704-2012 (党政机关公文格式).

Provinces stand in the official order (GB/T 2260 code order, the order of the campaign's quota
table), units before individuals, each by rank. The notification's words are a template the
office edits for next year (``config/templates/tongbao.txt.j2``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from intake.campaign.standing import Standing
from intake.core.settings import Settings
from intake.core.templates import render_template
from intake.core.text import display_name
from intake.core.vocabulary import REVIEW_STATES, labels
from intake.reports import workbooks
from store.repo import Repo

# GB/T 9704-2012: A4; 37 mm top and 28 mm left margins, a type area of 156 × 225 mm; the title
# in 方正小标宋简体 二号 (22 pt), the body in 仿宋_GB2312 三号 (16 pt), 22 lines of 28 characters.
TITLE_FONT, BODY_FONT, HEI_FONT = "方正小标宋简体", "仿宋_GB2312", "黑体"
TITLE_PT, BODY_PT = 22, 16
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
LINE_PITCH_PT = 225 / 22 / 25.4 * 72  # 22 lines in 225 mm: 28.95 pt
CHAR_SPACING_PT = 156 / 28 / 25.4 * 72 - BODY_PT  # 28 characters in 156 mm


@dataclass
class Entry:
    id: int
    kind: str
    name: str
    rank: int | None
    workplace: str
    narrative_chars: int | None
    flags: list[str]
    state: str
    reason: str
    held: list[str] = field(default_factory=list)  # open problems that keep it out of the documents


@dataclass
class ProvinceEntries:
    code: str
    name: str
    units: list[Entry] = field(default_factory=list)
    individuals: list[Entry] = field(default_factory=list)


def collect(repo: Repo, settings: Settings, states: tuple[str, ...] | None = None) -> list[ProvinceEntries]:
    """Current nominees by province in the official order, units then individuals, by rank; each
    with its open problems (one a person checked is not one)."""
    reviews = repo.review_states()
    standing = Standing(repo, settings)
    out = {p.code: ProvinceEntries(p.code, p.name) for p in settings.provinces}
    for n in repo.nominees():
        if not n.current or n.province_code not in out:
            continue
        review = reviews.get(n.id)
        state = review.state if review else "pending"
        if states is not None and state not in states:
            continue
        problems = standing.open_problems(standing.of_nominee(n.id))
        entry = Entry(
            id=n.id,
            kind=n.kind,
            name=display_name(n.name),
            rank=n.rank,
            workplace=display_name(str((n.fields or {}).get("workplace", ""))),
            narrative_chars=n.narrative_chars,
            flags=[p.label for p in problems],
            state=state,
            reason=review.reason if review else "",
            held=[p.label for p in standing.of_nominee(n.id) if p.open and p.code in HELD_FROM_DOCUMENTS],
        )
        group = out[n.province_code]
        (group.units if n.kind == "unit" else group.individuals).append(entry)
    for group in out.values():
        for entries in (group.units, group.individuals):
            entries.sort(key=lambda e: (e.rank is None, e.rank or 0, e.id))
    return list(out.values())


# --------------------------------------------------------------------------- 审核名单.xlsx


def review_workbook(groups: list[ProvinceEntries], title: str, day: date) -> bytes:
    wb = workbooks.new_workbook()
    ws = wb.active
    ws.title = "审核名单"
    headers = [
        "序号",
        "省份",
        "类别",
        "姓名/单位名称",
        "排序",
        "工作单位及职务",
        "事迹字数",
        "问题",
        "审核状态",
        "理由",
    ]
    widths = [6, 12, 6, 26, 6, 30, 8, 20, 10, 24]
    rows: list[list[object]] = []
    for g in groups:
        for e in g.units + g.individuals:
            rows.append(
                [
                    len(rows) + 1,
                    g.name,
                    labels("kind", e.kind),
                    e.name,
                    e.rank,
                    e.workplace,
                    e.narrative_chars,
                    "、".join(e.flags),
                    REVIEW_STATES[e.state],
                    e.reason,
                ]
            )
    heading = f"{title}审核名单（{day.isoformat()}）"
    workbooks.table(ws, heading, headers, rows, widths, heading=heading)
    return workbooks.saved(wb)


# --------------------------------------------------------------------------- Word documents


def _document() -> Any:
    """A4 in the layout of GB/T 9704, with the named styles the office's Word knows them by."""

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
    section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])

    def style(name: str, font: str, size: int, bold: bool = False, center: bool = False) -> None:
        st = doc.styles.add_style(name, 1)  # a paragraph style
        st.base_style = doc.styles["Normal"]
        _fonts(st.font, st.element, font)
        st.font.size, st.font.bold = Pt(size), bold
        pf = st.paragraph_format
        pf.line_spacing_rule, pf.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(LINE_PITCH_PT)
        pf.space_before = pf.space_after = Pt(0)
        if center:
            pf.alignment = WD_ALIGN_PARAGRAPH.CENTER

    _fonts(doc.styles["Normal"].font, doc.styles["Normal"].element, BODY_FONT)
    doc.styles["Normal"].font.size = Pt(BODY_PT)
    style("公文标题", TITLE_FONT, TITLE_PT, center=True)
    style("公文正文", BODY_FONT, BODY_PT)
    style("公文一级标题", HEI_FONT, BODY_PT)
    return doc


def _fonts(font: Any, element: Any, name: str) -> None:
    """The font named for Latin and East Asian text alike (Word reads w:eastAsia for 汉字)."""

    font.name = name
    rpr = element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        rfonts.set(qn(attr), name)


def _para(doc: Any, text: str, style: str = "公文正文", indent: bool = True, align: str | None = None) -> Any:

    p = doc.add_paragraph(style=style)
    run = p.add_run(text)
    run.font.spacing = Pt(round(CHAR_SPACING_PT, 1)) if style == "公文正文" else None
    if indent:
        p.paragraph_format.first_line_indent = Pt(BODY_PT * 2)
    if align == "right":
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    elif align == "center":
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    return p


def _names(entries: list[Entry], with_post: bool) -> str:
    if with_post:
        return "；".join(f"{e.name}（{e.workplace}）" if e.workplace else e.name for e in entries)
    return "；".join(e.name for e in entries)


def _list_body(doc: Any, groups: list[ProvinceEntries]) -> None:
    units = [(g, g.units) for g in groups if g.units]
    people = [(g, g.individuals) for g in groups if g.individuals]
    n_units, n_people = sum(len(u) for _, u in units), sum(len(p) for _, p in people)
    _para(doc, f"一、表现突出单位（{n_units}个）", style="公文一级标题")
    for g, entries in units:
        _para(doc, f"{g.name}：{_names(entries, False)}")
    _para(doc, f"二、表现突出个人（{n_people}名）", style="公文一级标题")
    for g, entries in people:
        _para(doc, f"{g.name}：{_names(entries, True)}")


def publicity_docx(groups: list[ProvinceEntries], settings: Settings, day: date) -> bytes:
    """公示名单: the approved units and individuals, by province in the official order."""
    doc = _document()
    _para(doc, f"{settings.campaign.title.removesuffix('推荐')}拟表扬名单", style="公文标题", indent=False)
    _para(doc, "")
    _list_body(doc, groups)
    _para(doc, "")
    _para(doc, "总局非公党建办", indent=False, align="right")
    _para(doc, f"{day.year}年{day.month}月{day.day}日", indent=False, align="right")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def commendation_docx(groups: list[ProvinceEntries], settings: Settings, day: date) -> bytes:
    """通报表扬: the notification from the office's template, then its list as the attachment."""

    context = {
        "campaign": settings.campaign,
        "day": day,
        "units": sum(len(g.units) for g in groups),
        "individuals": sum(len(g.individuals) for g in groups),
    }
    text = render_template(settings, "tongbao.txt.j2", context)
    blocks = [b.strip("\n") for b in text.split("\n\n") if b.strip()]
    doc = _document()
    title, *rest = blocks
    for line in title.splitlines():
        _para(doc, line.strip(), style="公文标题", indent=False)
    _para(doc, "")
    for block in rest:
        first = block.splitlines()[0]
        if first.startswith("[主送]"):
            _para(doc, first.removeprefix("[主送]").strip(), indent=False)
        elif first.startswith("[落款]"):
            _para(doc, "")
            for line in block.splitlines():
                _para(doc, line.removeprefix("[落款]").strip(), indent=False, align="right")
        elif first.startswith("[附件]"):
            _para(doc, "")
            _para(doc, first.removeprefix("[附件]").strip())
        else:
            _para(doc, " ".join(x.strip() for x in block.splitlines()))
    doc.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
    _para(doc, "附件", style="公文一级标题", indent=False)
    _para(doc, f"{settings.campaign.title.removesuffix('推荐')}名单", style="公文标题", indent=False)
    _para(doc, "")
    _list_body(doc, groups)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- all three

NAMES = ("审核名单.xlsx", "公示名单.docx", "通报表扬.docx")
# What no document prints until a person has confirmed it: text that looks like a formula, fields
# read from a scan by text recognition.
HELD_FROM_DOCUMENTS = frozenset({"suspicious_text", "read_by_ocr"})


def withheld(groups: list[ProvinceEntries]) -> list[tuple[str, Entry]]:
    """(province name, entry) of every approved nominee kept out of 公示 and 通报 until confirmed."""
    return [(g.name, e) for g in groups for e in (*g.units, *g.individuals) if e.held]


def _without_held(groups: list[ProvinceEntries]) -> list[ProvinceEntries]:
    return [
        ProvinceEntries(g.code, g.name, [e for e in g.units if not e.held], [e for e in g.individuals if not e.held])
        for g in groups
    ]


def build(repo: Repo, settings: Settings, now: datetime) -> dict[str, bytes]:
    """The three documents, by file name."""
    day = now.astimezone(settings.campaign.tz).date()
    everyone = collect(repo, settings)
    approved = _without_held(collect(repo, settings, ("approved",)))
    return {
        "审核名单.xlsx": review_workbook(everyone, settings.campaign.title, day),
        "公示名单.docx": publicity_docx(approved, settings, day),
        "通报表扬.docx": commendation_docx(approved, settings, day),
    }


def write(documents: dict[str, bytes], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, data in documents.items():
        path = folder / name
        path.write_bytes(data)
        out.append(path)
    return out
