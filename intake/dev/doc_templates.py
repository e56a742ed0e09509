"""The shipped .docx templates of 通报表扬 and 公示名单, made here in the layout of GB/T 9704-2012
(党政机关公文格式) and kept in ``intake/defaults/templates``; ``init`` copies them beside the
configuration, where the office edits them in Word or WPS like any document. Their fields
(``{{ units }}``, ``{{ publicity.end }}``…) and the loops over the lists (``{%p for … %}``) are
filled by ``reports.documents`` with docxtpl.

A4; margins 37 mm top, 28 mm left, a type area of 156 × 225 mm; 22 lines of 28 characters; the
title in 方正小标宋简体 二号, the body in 仿宋_GB2312 三号, first-level headings in 黑体; in the
通报, the 版头 (发文机关标志 in red, 发文字号, a red line the width of the type area), the 版记
(抄送, 印发机关和印发日期 between lines), page numbers in 宋体 四号 as "— 1 —", odd pages at the
right and even pages at the left, one character in from the edge.

    python -m intake.dev.doc_templates        # writes both into intake/defaults/templates
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from intake.core.settings import DEFAULTS_DIR

TITLE_FONT, BODY_FONT, HEI_FONT, SONG_FONT = "方正小标宋简体", "仿宋_GB2312", "黑体", "宋体"
TITLE_PT, BODY_PT, ISSUER_PT, PAGE_NUMBER_PT, RECORD_PT = 22, 16, 26, 14, 14
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
LINE_PITCH_PT = 225 / 22 / 25.4 * 72  # 22 lines in 225 mm: 28.95 pt
CHAR_SPACING_PT = round(156 / 28 / 25.4 * 72 - BODY_PT, 1)  # 28 characters in 156 mm
RED = RGBColor(0xFF, 0x00, 0x00)
STYLES = ("公文标题", "公文正文", "公文一级标题", "发文机关标志", "发文字号", "版记", "页码")


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


def _document() -> Any:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
    section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
    section.footer_distance = Mm(20)

    def style(name: str, font: str, size: float, *, center: bool = False, red: bool = False) -> None:
        st = doc.styles.add_style(name, 1)  # a paragraph style
        st.base_style = doc.styles["Normal"]
        _fonts(st.font, st.element, font)
        st.font.size = Pt(size)
        if red:
            st.font.color.rgb = RED
        pf = st.paragraph_format
        pf.line_spacing_rule, pf.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(max(LINE_PITCH_PT, size * 1.3))
        pf.space_before = pf.space_after = Pt(0)
        if center:
            pf.alignment = WD_ALIGN_PARAGRAPH.CENTER

    _fonts(doc.styles["Normal"].font, doc.styles["Normal"].element, BODY_FONT)
    doc.styles["Normal"].font.size = Pt(BODY_PT)
    style("公文标题", TITLE_FONT, TITLE_PT, center=True)
    style("公文正文", BODY_FONT, BODY_PT)
    style("公文一级标题", HEI_FONT, BODY_PT)
    style("发文机关标志", TITLE_FONT, ISSUER_PT, center=True, red=True)
    style("发文字号", BODY_FONT, BODY_PT, center=True)
    style("版记", BODY_FONT, RECORD_PT)
    style("页码", SONG_FONT, PAGE_NUMBER_PT)
    return doc


def _para(doc: Any, text: str, style: str = "公文正文", *, indent: bool = True, align: str | None = None) -> Any:
    p = doc.add_paragraph(style=style)
    if text:
        run = p.add_run(text)
        if style == "公文正文":
            run.font.spacing = Pt(CHAR_SPACING_PT)
    if indent and style == "公文正文":
        p.paragraph_format.first_line_indent = Pt(BODY_PT * 2)
    if align == "right":
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        p.paragraph_format.right_indent = Pt(BODY_PT * 4)  # 落款: 右空四字
    elif align == "center":
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    return p


def _border(paragraph: Any, side: str, size_eighths: int, color: str = "000000", space: int = 1) -> None:
    """A line along one side of a paragraph, as wide as the type area (w:pBdr)."""
    ppr = paragraph._p.get_or_add_pPr()
    borders = ppr.find(qn("w:pBdr"))
    if borders is None:
        borders = OxmlElement("w:pBdr")
        ppr.append(borders)
    line = OxmlElement(f"w:{side}")
    line.set(qn("w:val"), "single")
    line.set(qn("w:sz"), str(size_eighths))
    line.set(qn("w:space"), str(space))
    line.set(qn("w:color"), color)
    borders.append(line)


def _page_number(paragraph: Any) -> None:
    """ "— PAGE —": a page field between two 一字线."""
    paragraph.add_run("— ")
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)
    paragraph.add_run(" —")


def _footers(doc: Any) -> None:
    """Odd pages' numbers at the right, even pages' at the left, one character in (GB/T 9704 7.5)."""
    doc.settings.odd_and_even_pages_header_footer = True
    section = doc.sections[0]
    for footer, align in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        footer.is_linked_to_previous = False
        p = footer.paragraphs[0]
        p.style = doc.styles["页码"]
        p.alignment = align
        if align == WD_ALIGN_PARAGRAPH.RIGHT:
            p.paragraph_format.right_indent = Pt(PAGE_NUMBER_PT)
        else:
            p.paragraph_format.left_indent = Pt(PAGE_NUMBER_PT)
        _page_number(p)


def _lists(doc: Any) -> None:
    """The lists, by province in the official order: units, then individuals."""
    _para(doc, "一、表现突出单位（{{ units }}个）", "公文一级标题")
    _para(doc, "{%p for g in unit_groups %}", indent=False)
    _para(doc, "{{ g.province }}：{{ g.names }}")
    _para(doc, "{%p endfor %}", indent=False)
    _para(doc, "二、表现突出个人（{{ individuals }}名）", "公文一级标题")
    _para(doc, "{%p for g in people_groups %}", indent=False)
    _para(doc, "{{ g.province }}：{{ g.names }}")
    _para(doc, "{%p endfor %}", indent=False)


def commendation_template() -> Any:
    """通报表扬: 版头, title, 主送, body, 附件, 落款; the list on a page of its own; 版记."""
    doc = _document()
    _footers(doc)
    _para(doc, "{{ issuer }}文件", "发文机关标志", indent=False)
    _para(doc, "", indent=False)
    number = _para(doc, "{{ number }}", "发文字号", indent=False)
    _border(number, "bottom", 12, "FF0000", space=10)  # the red line, 4 mm below 发文字号
    _para(doc, "", indent=False)
    _para(doc, "{{ issuer }}关于对", "公文标题", indent=False)
    _para(doc, "工商和市场监管部门在推进非公党建工作中", "公文标题", indent=False)
    _para(doc, "表现突出的单位和个人给予通报表扬的决定", "公文标题", indent=False)
    _para(doc, "", indent=False)
    _para(doc, "{{ recipients }}：", indent=False)
    _para(
        doc,
        "近年来，各级工商和市场监管部门认真贯彻落实中央关于加强非公有制经济组织党建工作的部署要求，"
        "立足职能积极推进“小个专”党建工作，涌现出一批表现突出的单位和个人。",
    )
    _para(
        doc,
        "为表扬先进，进一步调动各级工商和市场监管部门及广大干部的工作积极性，经各地推荐、"
        "总局推进非公党建工作领导小组讨论和总局党组审定，决定对{{ units }}个表现突出的单位和"
        "{{ individuals }}名表现突出的个人予以通报表扬。",
    )
    _para(
        doc,
        "希望受到表扬的单位和个人珍惜荣誉，再接再厉，在推进非公党建工作中发挥示范带头作用。"
        "各级工商和市场监管部门要以先进为榜样，扎实推进非公党建工作，为促进非公有制经济健康发展作出新的贡献。",
    )
    _para(doc, "", indent=False)
    _para(doc, "附件：{{ list_title }}")
    _para(doc, "", indent=False)
    _para(doc, "", indent=False)
    _para(doc, "{{ signer }}", align="right", indent=False)
    _para(doc, "{{ date }}", align="right", indent=False)
    doc.paragraphs[-1].add_run().add_break(WD_BREAK.PAGE)
    _para(doc, "附件", "公文一级标题", indent=False)
    _para(doc, "", indent=False)
    _para(doc, "{{ list_title }}", "公文标题", indent=False)
    _para(doc, "", indent=False)
    _lists(doc)
    _para(doc, "", indent=False)
    # 版记: 抄送, then 印发机关和印发日期, between a thick first line, a thin one and a thick last line.
    copy_to = _para(doc, "抄送：{{ copy_to }}。", "版记", indent=False)
    copy_to.paragraph_format.left_indent = copy_to.paragraph_format.right_indent = Pt(RECORD_PT)
    _border(copy_to, "top", 8)
    printed = _para(doc, "{{ printed_by }}\t{{ printed_on }}印发", "版记", indent=False)
    printed.paragraph_format.left_indent = printed.paragraph_format.right_indent = Pt(RECORD_PT)
    printed.paragraph_format.tab_stops.add_tab_stop(Mm(156) - Pt(RECORD_PT * 2), alignment=2)  # right
    _border(printed, "top", 4)
    _border(printed, "bottom", 8)
    return doc


def publicity_template() -> Any:
    """公示名单: title, opening, 公示期, where objections go, the lists, 落款."""
    doc = _document()
    _footers(doc)
    _para(doc, "{{ list_title }}公示", "公文标题", indent=False)
    _para(doc, "", indent=False)
    _para(
        doc,
        "根据{{ campaign_title }}工作安排，经各省（区、市）工商（市场监管）部门推荐、总局非公党建办初步审定、"
        "总局推进非公党建工作领导小组讨论，拟对以下{{ units }}个单位和{{ individuals }}名个人予以通报表扬，"
        "现予公示。",
    )
    _para(doc, "公示期：{{ publicity.start }}至{{ publicity.end }}（{{ publicity.days }}个工作日）。")
    _para(
        doc,
        "公示期间，对公示对象有异议的，请以书面形式向{{ objection.unit }}反映{{ objection.ways }}。"
        "反映情况应实事求是，以单位名义反映的须加盖公章，以个人名义反映的须署真实姓名并留联系方式。",
    )
    _para(doc, "", indent=False)
    _lists(doc)
    _para(doc, "", indent=False)
    _para(doc, "{{ publicity_by }}", align="right", indent=False)
    _para(doc, "{{ date }}", align="right", indent=False)
    return doc


TEMPLATES = {"tongbao.docx": commendation_template, "gongshi.docx": publicity_template}


def write(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, make in TEMPLATES.items():
        target = folder / name
        make().save(str(target))
        out.append(target)
    return out


if __name__ == "__main__":
    for path in write(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULTS_DIR / "templates"):
        print(f"wrote {path}")
