"""The documents the office issues: read back from their XML (page, margins, fonts, order, names)
and converted by LibreOffice."""

from __future__ import annotations

import io
import random
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm

from intake.core.settings import load_settings
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
        assert all(p.style.name in ("公文标题", "公文正文", "公文一级标题") for p in doc.paragraphs)
    notice = "\n".join(p.text for p in Document(io.BytesIO(docs["通报表扬.docx"])).paragraphs)
    assert "决定对1个表现突出的单位和3名表现突出的个人予以通报表扬" in notice
    assert "2017年6月1日" in notice
    # The documents open in LibreOffice (as in Word and WPS).
    from intake.ingest.convert import convert, office_binary
    from tests.servers import require

    require(office_binary() is not None, "LibreOffice is not installed")
    for name in ("公示名单.docx", "通报表扬.docx"):
        pdf = convert(docs[name], "docx", "pdf")
        assert pdf.startswith(b"%PDF")
    assert zipfile.is_zipfile(io.BytesIO(docs["审核名单.xlsx"]))
    out = run_intake("documents", "--out", str(tmp_path / "docs"), config=cfg)
    assert out.returncode == 0 and sorted(p.name for p in (tmp_path / "docs").iterdir()) == sorted(docs)


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
