"""The documents the office issues: read back from their XML (page, margins, fonts, order, names)
and converted by LibreOffice."""

from __future__ import annotations

import io
import random
import re
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import pypdfium2
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Mm, RGBColor

from intake.core.settings import load_settings
from intake.dev.doc_templates import STYLES
from intake.dev.samples import Person, Submission, Unit, build_message
from intake.office import nominees
from intake.reports.documents import build
from store.repo import Store
from tests.conftest import embedded_config, run_intake


def _campaign(tmp_path: Path) -> tuple[Path, Store]:
    rng = random.Random(9)
    folder = tmp_path / "mail"
    folder.mkdir()
    # Sent in the reverse of the official order, to see the documents put them right.
    subs = [
        Submission(
            "新疆维吾尔自治区",
            "fgdj-xj@aic.example.cn",
            people=[Person("阿依古丽", "女", "乌鲁木齐市市场监督管理局科长", rank=1)],
        ),
        Submission(
            "浙江省",
            "fgdj-zj@aic.example.cn",
            people=[
                Person(n, "男", f"杭州市{n}所在市场监督管理局科长", rank=i)
                for i, n in enumerate(("周杰", "吴静", "郑强"), 1)
            ],
            units=[Unit("杭州市西湖区市场监督管理局", "李堃", rank=1)],
        ),
        Submission(
            "北京市", "fgdj-bj@aic.example.cn", people=[Person("张伟", "男", "北京市海淀区市场监督管理局科长", rank=1)]
        ),
    ]
    for i, sub in enumerate(subs):
        (folder / f"{i}.eml").write_bytes(build_message(sub, rng))
    cfg = embedded_config(
        tmp_path,
        documents={
            # 端午节 2017: 5月28日至30日 off, Saturday 27 worked.
            "publicity_start": date(2017, 5, 26),
            "holidays": [date(2017, 5, 29), date(2017, 5, 30)],
            "workdays": [date(2017, 5, 27)],
            "objection_phone": "010-88650000",
            "objection_mail": "fgdj@saic.example.cn",
            "objection_address": "北京市西城区三里河东路8号",
        },
        provinces=[
            {"code": "bj", "name": "北京市", "individuals": 6, "units": 2, "senders": ["fgdj-bj@aic.example.cn"]},
            {"code": "zj", "name": "浙江省", "individuals": 2, "units": 2, "senders": ["fgdj-zj@aic.example.cn"]},
            {
                "code": "xj",
                "name": "新疆维吾尔自治区",
                "individuals": 2,
                "units": 1,
                "senders": ["fgdj-xj@aic.example.cn"],
            },
        ],
    )
    assert run_intake("ingest", str(folder), config=cfg, cwd=tmp_path).returncode == 0
    return cfg, Store(load_settings(cfg).database.url, load_settings(cfg).archive.path)


def test_documents_follow_the_review_states(tmp_path: Path) -> None:
    cfg, store = _campaign(tmp_path)
    settings = load_settings(cfg)
    for code in ("bj", "zj", "xj"):
        nominees.review_province(store, settings, code, by="测试")  # 浙江: 周杰, 吴静 approved; 郑强 备选
    with store.session() as repo:
        ids = {n.name: n.id for n in repo.nominees()}
    nominees.review_nominee(store, settings, ids["张伟"], "rejected", by="测试", reason="不符合条件")
    with store.session() as repo:
        docs = build(repo, settings, datetime(2017, 6, 1, tzinfo=UTC))
    approved = ["杭州市西湖区市场监督管理局", "周杰", "吴静", "阿依古丽"]

    # 审核名单: every current nominee whatever its state, official order, units first.
    ws = openpyxl.load_workbook(io.BytesIO(docs["审核名单.xlsx"])).active
    rows = [r for r in ws.iter_rows(min_row=3, values_only=True)]
    assert [(r[1], r[3], r[8]) for r in rows] == [
        ("北京市", "张伟", "不予推荐"),
        ("浙江省", "杭州市西湖区市场监督管理局", "初审通过"),
        ("浙江省", "周杰", "初审通过"),
        ("浙江省", "吴静", "初审通过"),
        ("浙江省", "郑强", "备选"),
        ("新疆维吾尔自治区", "阿依古丽", "初审通过"),
    ]
    assert ws.print_title_rows == "$1:$2" and ws.page_setup.paperSize == 9

    for name in ("公示名单.docx", "通报表扬.docx"):
        doc = Document(io.BytesIO(docs[name]))
        section = doc.sections[0]
        assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
        assert abs(section.top_margin - Mm(37)) < Mm(0.1) and abs(section.left_margin - Mm(28)) < Mm(0.1)
        text = "\n".join(p.text for p in doc.paragraphs)
        # Every approved name, in the official order, and no other nominee.
        positions = [text.index(n) for n in approved]
        assert positions[1:3] == sorted(positions[1:3]) and positions[1] < positions[3]
        assert "张伟" not in text and "郑强" not in text
        title = doc.styles["公文标题"]
        body = doc.styles["公文正文"]
        assert title.font.size.pt == 22 and body.font.size.pt == 16
        fonts = {
            s: s_el.find(qn("w:rPr")).find(qn("w:rFonts")).get(qn("w:eastAsia"))
            for s, s_el in (("title", title.element), ("body", body.element))
        }
        assert fonts == {"title": "方正小标宋简体", "body": "仿宋_GB2312"}
        assert all(p.style.name in STYLES for p in doc.paragraphs), {p.style.name for p in doc.paragraphs}
        # Page numbers as GB/T 9704 places them: "— 1 —", odd pages right, even pages left.
        assert doc.settings.odd_and_even_pages_header_footer
        odd, even = section.footer.paragraphs[0], section.even_page_footer.paragraphs[0]
        for footer in (odd, even):
            assert footer.text == "—  —" and footer._p.find(qn("w:fldSimple")).get(qn("w:instr")) == "PAGE"
        assert odd.alignment == WD_ALIGN_PARAGRAPH.RIGHT and even.alignment == WD_ALIGN_PARAGRAPH.LEFT
        assert "{{" not in text and "{%" not in text  # every field filled

    notice = Document(io.BytesIO(docs["通报表扬.docx"]))
    paragraphs = [p for p in notice.paragraphs if p.text.strip()]
    text = "\n".join(p.text for p in paragraphs)
    # 版头: 发文机关标志 in red, 发文字号, the red line under it; then the title.
    head, number = paragraphs[0], paragraphs[1]
    assert head.text == "中共国家工商行政管理总局党组文件" and head.style.name == "发文机关标志"
    assert head.style.font.color.rgb == RGBColor(0xFF, 0, 0)
    assert number.text == "工商党字〔2017〕　号"
    line = number._p.find(qn("w:pPr")).find(qn("w:pBdr")).find(qn("w:bottom"))
    assert line.get(qn("w:color")) == "FF0000"
    assert "决定对1个表现突出的单位和3名表现突出的个人予以通报表扬" in text
    assert "主送" not in text and text.count("各省、自治区、直辖市工商行政管理局") == 1
    # 落款 in the name of 总局党组, as the notice says, dated; 版记 at the end between lines.
    assert "\n总局党组\n2017年6月1日\n" in text and "工商总局\n" not in text
    copy_to, printed = paragraphs[-2], paragraphs[-1]
    assert copy_to.text == "抄送：各省、自治区、直辖市党委组织部。" and copy_to.style.name == "版记"
    assert printed.text == "国家工商行政管理总局办公厅\t2017年6月1日印发"
    assert printed._p.find(qn("w:pPr")).find(qn("w:pBdr")).find(qn("w:bottom")) is not None

    publicity = "\n".join(p.text for p in Document(io.BytesIO(docs["公示名单.docx"])).paragraphs)
    assert "拟对以下1个单位和3名个人予以通报表扬，现予公示" in publicity
    # Five working days from Friday 26 May: the worked Saturday counts, the holidays do not.
    assert "公示期：2017年5月26日至2017年6月2日（5个工作日）。" in publicity
    assert (
        "请以书面形式向总局非公党建办反映（电话：010-88650000；电子邮箱：fgdj@saic.example.cn；"
        "地址：北京市西城区三里河东路8号）" in publicity
    )
    assert "\n总局非公党建办\n2017年6月1日" in publicity
    # The documents open in LibreOffice (as in Word and WPS).
    from intake.ingest.convert import office_binary
    from tests.servers import require

    require(office_binary() is not None, "LibreOffice is not installed")
    assert zipfile.is_zipfile(io.BytesIO(docs["审核名单.xlsx"]))
    out = run_intake("documents", "--out", str(tmp_path / "docs"), config=cfg)
    pdfs = ["公示名单.pdf", "通报表扬.pdf"]
    assert out.returncode == 0 and sorted(p.name for p in (tmp_path / "docs").iterdir()) == sorted([*docs, *pdfs])
    # As printed: the page numbers LibreOffice lays out, the 版头 and the 版记 on their pages.
    pages = [
        pypdfium2.PdfDocument(tmp_path / "docs" / name).get_page(i).get_textpage().get_text_range()
        for name in pdfs
        for i in range(len(pypdfium2.PdfDocument(tmp_path / "docs" / name)))
    ]
    printed_text = re.sub(r"\s+", "", "\n".join(pages))  # the PDF spaces characters out as laid
    assert "中共国家工商行政管理总局党组文件" in printed_text and "国家工商行政管理总局办公厅" in printed_text
    assert "—1—" in printed_text and "—2—" in printed_text and "—3—" in printed_text
    assert "公示期：2017年5月26日至2017年6月2日" in printed_text


def test_formula_looking_names_are_flagged_kept_and_held_until_confirmed(tmp_path: Path) -> None:
    """A list whose names start like spreadsheet formulas: each kept as text and flagged, none
    dropped; the documents leave them out (saying so, exit 0) until a reviewer confirms."""
    from email.message import EmailMessage

    from intake.dev.samples import individual_form, summary_list

    people = [
        Person('=HYPERLINK("http://x.example","张三")', "男", "某市市场监督管理局科长", rank=1),
        Person("@SUM(1+1)", "男", "某县市场监督管理局所长", rank=2),
        Person("王喆", "男", "+cmd|' /C calc'!A0", rank=3),
        Person("李堃", "女", "某区市场监督管理局科长", rank=4),
    ]
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "fgdj-bj@aic.example.cn", "gsfgdj@126.com", "北京市推荐材料"
    mail["Date"] = "Tue, 18 Apr 2017 10:00:00 +0800"
    mail.set_content("见附件。")
    mail.add_attachment(
        summary_list("北京市", people, []), maintype="application", subtype="octet-stream", filename="推荐汇总表.xlsx"
    )
    mail.add_attachment(
        individual_form(people, "北京市"), maintype="application", subtype="octet-stream", filename="推荐表.docx"
    )
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "0.eml").write_bytes(bytes(mail))
    cfg = embedded_config(
        tmp_path,
        provinces=[
            {"code": "bj", "name": "北京市", "individuals": 6, "units": 2, "senders": ["fgdj-bj@aic.example.cn"]}
        ],
    )
    assert run_intake("ingest", str(folder), config=cfg, cwd=tmp_path).returncode == 0
    import json

    export = json.loads(run_intake("export", config=cfg, cwd=tmp_path).stdout)
    flagged = {n["name"]: "suspicious_text" in n["flags"] for n in export["nominees"]}
    assert flagged == {people[0].name: True, "@SUM(1+1)": True, "王喆": True, "李堃": False}

    settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)
    nominees.review_province(store, settings, "bj", by="测试")
    out = run_intake("documents", "--out", str(tmp_path / "docs"), config=cfg, cwd=tmp_path)
    assert out.returncode == 0
    held = [line for line in out.stdout.splitlines() if line.startswith("未列入公示名单和通报表扬")]
    assert len(held) == 3 and all("疑似公式文字" in line for line in held)
    text = "\n".join(p.text for p in Document(str(tmp_path / "docs" / "公示名单.docx")).paragraphs)
    assert "李堃" in text and "王喆" not in text and "@SUM" not in text and "HYPERLINK" not in text

    ids = {n["name"]: n["id"] for n in export["nominees"]}
    done = run_intake("confirm", str(ids["王喆"]), "--reason", "已电话核实，职务栏为误填", config=cfg, cwd=tmp_path)
    assert done.returncode == 0 and "疑似公式文字" in done.stdout
    again = run_intake("confirm", str(ids["王喆"]), config=cfg, cwd=tmp_path)
    assert again.returncode != 0 and "没有待确认的内容" in again.stderr
    run_intake("documents", "--out", str(tmp_path / "docs"), config=cfg, cwd=tmp_path)
    text = "\n".join(p.text for p in Document(str(tmp_path / "docs" / "公示名单.docx")).paragraphs)
    assert "王喆" in text and "@SUM" not in text
