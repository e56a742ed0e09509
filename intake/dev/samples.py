"""Realistic province submissions, built with python-docx and openpyxl: for ``make demo``, the
tests and the benchmark. Forms follow the notice's 附件2/附件3 layout (labels with full-width
spaces, merged cells, opinion rows with the printed （盖章） and 年 月 日)."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from docx import Document
from openpyxl import Workbook

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
    "桂英",
    "喆",
    "堃",
    "昊",
    "婷",
    "建华",
    "志强",
    "海燕",
    "玉兰",
    "晓东",
    "文博",
    "雪梅",
]
DEEDS = (
    "该同志长期从事非公党建工作，积极推动“小个专”党组织建设，扩大党的组织和党的工作覆盖，"
    "指导建立党组织{n}个，发展党员{m}名，围绕生产经营发挥党组织和党员作用，得到企业和群众的广泛认可。"
)


@dataclass
class Person:
    name: str
    sex: str
    workplace: str
    rank: int | None = None
    opinion: str = "同意推荐。"
    org_opinion: str = "同意。"
    birth: str = "1978.05"


@dataclass
class Unit:
    name: str
    head: str
    rank: int | None = None
    opinion: str = "同意推荐。"
    org_opinion: str = "同意。"


@dataclass
class Submission:
    province: str  # full name, 北京市
    sender: str
    people: list[Person] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    narrative_words: int = 900
    subject: str = ""
    when: datetime | None = None


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _narrative(name: str, words: int, rng: random.Random) -> str:
    parts = [f"{name}同志先进事迹材料", ""]
    text = ""
    while len(text) < words - 20:
        text += DEEDS.format(n=rng.randint(3, 40), m=rng.randint(5, 90))
    parts.append(text[: max(0, words - 20)])
    return "\n".join(parts)


def individual_form(people: list[Person], province: str) -> bytes:

    doc = Document()
    for i, p in enumerate(people):
        if i:
            doc.add_page_break()
        doc.add_paragraph("附件2")
        doc.add_paragraph("在推进非公党建工作中表现突出个人推荐表")
        t = doc.add_table(rows=7, cols=6)
        t.style = "Table Grid"
        cells = t.rows[0].cells
        for j, v in enumerate(["姓　　名", p.name, "性　别", p.sex, "出生年月", p.birth]):
            cells[j].text = v
        for j, v in enumerate(["民　　族", "汉族", "政治面貌", "中共党员", "参加工作时间", "1998.07"]):
            t.rows[1].cells[j].text = v
        row = t.rows[2]
        row.cells[0].text = "工作单位\n及职务"
        merged = row.cells[1].merge(row.cells[3])
        merged.text = p.workplace
        row.cells[4].text = "推荐排序"
        row.cells[5].text = str(p.rank) if p.rank else ""
        row = t.rows[3]
        row.cells[0].text = "联系电话"
        row.cells[1].merge(row.cells[5]).text = "010-6" + str(1000000 + i)
        row = t.rows[4]
        row.cells[0].text = "主\n要\n事\n迹"
        row.cells[1].merge(row.cells[5]).text = f"{p.name}同志负责非公党建工作，成绩突出。（详见事迹材料）"
        row = t.rows[5]
        row.cells[0].text = "推荐单位\n意见"
        row.cells[1].merge(row.cells[5]).text = f"{p.opinion}\n（盖章）\n年　月　日"
        row = t.rows[6]
        row.cells[0].text = "组织部门或\n两新工委意见"
        row.cells[1].merge(row.cells[5]).text = f"{p.org_opinion}\n（盖章）\n年　月　日"
    return _save(doc)


def unit_form(units: list[Unit], province: str) -> bytes:

    doc = Document()
    for i, u in enumerate(units):
        if i:
            doc.add_page_break()
        doc.add_paragraph("附件3")
        doc.add_paragraph("在推进非公党建工作中表现突出单位推荐表")
        t = doc.add_table(rows=6, cols=4)
        t.style = "Table Grid"
        t.rows[0].cells[0].text = "单位名称"
        t.rows[0].cells[1].merge(t.rows[0].cells[3]).text = u.name
        for j, v in enumerate(["单位负责人", u.head, "推荐排序", str(u.rank) if u.rank else ""]):
            t.rows[1].cells[j].text = v
        for j, v in enumerate(["联系人", "刘明", "联系电话", "0571-8888" + str(1000 + i)]):
            t.rows[2].cells[j].text = v
        t.rows[3].cells[0].text = "主要事迹"
        t.rows[3].cells[1].merge(t.rows[3].cells[3]).text = f"{u.name}积极推进非公党建工作。"
        t.rows[4].cells[0].text = "推荐单位意见"
        t.rows[4].cells[1].merge(t.rows[4].cells[3]).text = f"{u.opinion}\n（盖章）\n年　月　日"
        t.rows[5].cells[0].text = "组织部门或两新工委意见"
        t.rows[5].cells[1].merge(t.rows[5].cells[3]).text = f"{u.org_opinion}\n（盖章）\n年　月　日"
    return _save(doc)


def narrative_doc(name: str, words: int, rng: random.Random) -> bytes:

    doc = Document()
    for line in _narrative(name, words, rng).splitlines():
        doc.add_paragraph(line)
    return _save(doc)


def summary_list(province: str, people: list[Person], units: list[Unit]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "推荐汇总"
    ws.append([f"{province}推荐表现突出单位和个人汇总表"])
    ws.merge_cells("A1:E1")
    ws.append(["序号", "类别", "姓名/单位名称", "工作单位及职务", "推荐排序"])
    ws["C2"] = "名称"
    for i, p in enumerate(people, 1):
        ws.append([i, "个人", p.name, p.workplace, p.rank])
    for i, u in enumerate(units, len(people) + 1):
        ws.append([i, "单位", u.name, "", u.rank])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _save(doc: object) -> bytes:
    buf = io.BytesIO()
    doc.save(buf)  # type: ignore[attr-defined]
    return buf.getvalue()


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def build_message(
    sub: Submission,
    rng: random.Random,
    *,
    to: str = "gsfgdj@126.com",
    with_list: bool = False,
    domain: str = "aic.example.cn",
) -> bytes:
    msg = EmailMessage()
    short = sub.province
    msg["Subject"] = sub.subject or f"{short}推荐表现突出单位和个人材料"
    msg["From"] = formataddr((f"{short}工商局非公党建办", sub.sender))
    msg["To"] = to
    when = sub.when or datetime.fromisoformat("2017-04-20T10:00:00+08:00")
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(idstring=str(rng.randint(0, 10**9)), domain=domain)
    received_by = format_datetime(when + timedelta(seconds=rng.randint(1, 30)))
    msg["Received"] = f"from mail.{domain} by mx.126.com with ESMTP; {received_by}"
    msg.set_content(f"总局非公党建办：\n\n现将{short}推荐材料报上，请查收。\n\n{short}工商局")
    forms = ((sub.people, individual_form, "附件2：个人推荐表.docx"), (sub.units, unit_form, "附件3：单位推荐表.docx"))
    for nominees, form, filename in forms:
        if not nominees:
            continue
        _attach(msg, form(nominees, short), DOCX, filename)  # type: ignore[arg-type]
        for n in nominees:
            _attach(msg, narrative_doc(n.name, sub.narrative_words, rng), DOCX, f"{n.name}事迹材料.docx")
    if with_list:
        _attach(msg, summary_list(short, sub.people, sub.units), XLSX, "推荐汇总表.xlsx")
    return bytes(msg)


def _attach(msg: EmailMessage, data: bytes, content_type: str, filename: str) -> None:
    maintype, subtype = content_type.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)


def auto_reply(to_from: str, rng: random.Random) -> bytes:
    msg = EmailMessage()
    msg["Subject"] = "自动回复：推荐材料"
    msg["From"] = to_from
    msg["To"] = "gsfgdj@126.com"
    msg["Auto-Submitted"] = "auto-replied"
    msg["Date"] = format_datetime(datetime.fromisoformat("2017-04-21T09:00:00+08:00"))
    msg["Message-ID"] = make_msgid(idstring=str(rng.randint(0, 10**9)))
    msg.set_content("您好，我已休假，返回后尽快回复。")
    return bytes(msg)


SAMPLE_PROVINCES = [
    ("北京市", "bj"),
    ("天津市", "tj"),
    ("河北省", "he"),
    ("山西省", "sx"),
    ("辽宁省", "ln"),
    ("上海市", "sh"),
    ("江苏省", "js"),
    ("浙江省", "zj"),
    ("安徽省", "ah"),
    ("福建省", "fj"),
    ("山东省", "sd"),
    ("河南省", "ha"),
    ("湖北省", "hb"),
    ("湖南省", "hn"),
    ("广东省", "gd"),
]


def many_submissions(n: int, distinct: int, seed: int = 2017) -> list[bytes]:
    """``n`` messages built from ``distinct`` generated ones, each with its own headers."""
    rng = random.Random(seed)
    templates = []
    for i in range(distinct):
        name, code = SAMPLE_PROVINCES[i % len(SAMPLE_PROVINCES)]
        people = [
            Person(person_name(rng), rng.choice("男女"), f"{name}某区市场监督管理局科长", rank=j + 1)
            for j in range(rng.randint(1, 3))
        ]
        units = [Unit(f"{name}某县市场监督管理局", "张三", rank=1)] if i % 3 == 0 else []
        sub = Submission(
            name, f"fgdj-{code}@aic.example.cn", people=people, units=units, narrative_words=rng.randint(600, 1600)
        )
        templates.append(build_message(sub, rng, with_list=(i % 4 == 0)))
    out = []
    for i in range(n):
        raw = templates[i % distinct]
        head, sep, body = raw.partition(b"\n\n")
        lines = [ln for ln in head.split(b"\n") if not ln.lower().startswith(b"message-id:")]
        lines.insert(0, f"Message-ID: <sample.{i}.{seed}@aic.example.cn>".encode())
        out.append(b"\n".join(lines) + sep + body)
    return out
