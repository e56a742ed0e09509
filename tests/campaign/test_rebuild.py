"""intake/campaign/rebuild.py through the real servers: a province's material arriving over several
mails (by new mail, by a reply to our receipt), a courtesy reply, names written with other dots, a
unit form whose labels are spread by spaces, corrections said in a mail's own words or only quoted,
a withdrawal; every receipt says what was joined; reprocess rebuilds the same dossiers."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from intake.dev.samples import Person, Unit, individual_form, narrative_doc, summary_list, unit_form
from tests.conftest import cli_env, run_intake, write_config
from tests.servers import Dovecot

T0 = datetime(2017, 4, 18, 2, tzinfo=UTC)
DEPT = "市场监督管理局"
PROVINCES = [
    {"code": code, "name": name, "individuals": 6, "units": 2, "senders": [f"fgdj-{code}@aic.example.cn"]}
    for code, name in (
        ("gz", "贵州省"),
        ("xj", "新疆维吾尔自治区"),
        ("gs", "甘肃省"),
        ("ah", "安徽省"),
        ("fj", "福建省"),
    )
]


def _mail(code: str, subject: str, files: list[tuple[str, bytes]], body: str = "见附件。", **headers: str) -> bytes:
    m = EmailMessage()
    m["From"] = f"fgdj-{code}@aic.example.cn"
    m["To"] = "gsfgdj@126.com"
    m["Subject"] = subject
    m["Date"] = format_datetime(T0)
    m["Message-ID"] = make_msgid(domain="aic.example.cn")
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    m.set_content(body)
    for name, data in files:
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return bytes(m)


class Campaign:
    def __init__(self, dovecot: Dovecot, smtp: Any, tmp_path: Path, provinces: list[dict] | None = None) -> None:
        self.dovecot, (self.handler, port) = dovecot, smtp
        self.tmp = tmp_path
        self.cfg = write_config(
            tmp_path / "intake.toml",
            {
                "database": {"url": f"sqlite:///{tmp_path / 'intake.db'}"},
                "archive": {"path": str(tmp_path / "archive")},
                "mailbox": dovecot.mailbox_settings(password_env="IMAP_PW"),
                "smtp": {"host": "127.0.0.1", "port": port, "security": "none", "username": ""},
                "receipts": {"per_sender_per_hour": 1000},
                "provinces": provinces or PROVINCES,
            },
        )
        self.env = cli_env(IMAP_PW=dovecot.password)
        self.day = 0

    def arrive(self, *mails: bytes) -> None:
        """Mail of the next day, then a poll."""
        self.day += 1
        self.dovecot.append(list(mails), when=T0 + timedelta(days=self.day))
        self.intake("poll")

    def intake(self, *args: str) -> str:
        done = run_intake(*args, config=self.cfg, env=self.env, cwd=self.tmp, timeout=600)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def export(self) -> dict[str, Any]:
        return json.loads(self.intake("export", "--format", "json"))

    def nominee(self, name: str) -> dict[str, Any]:
        (found,) = [n for n in self.export()["nominees"] if n["name"] == name]
        return found

    def receipt(self, subject_part: str) -> str:
        """The plain text of the last receipt that answered a subject containing ``subject_part``."""
        for r in reversed(self.handler.received):
            if subject_part in _subject(r):
                body = r.message.get_payload()[0].get_payload(decode=True)
                return body.decode("utf-8")
        raise AssertionError(f"no receipt for {subject_part}")


def test_materials_arriving_over_several_mails_fill_one_dossier(dovecot: Dovecot, smtp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    c = Campaign(dovecot, smtp, tmp_path)
    rng = random.Random(23)
    people = [Person("吴杰", "男", f"贵阳市南明区{DEPT}科长"), Person("曹志强", "男", f"遵义市红花岗区{DEPT}所长")]
    c.arrive(_mail("gz", "贵州省推荐材料", [("附件2：个人推荐表.docx", individual_form(people, "贵州省"))]))
    assert "narrative_missing" in c.nominee("吴杰")["flags"] and "narrative_missing" in c.nominee("曹志强")["flags"]

    # 补报 by a new mail, each narrative named in its file name (one with a trailing 同志).
    c.arrive(
        _mail(
            "gz",
            "贵州省补报事迹材料（吴杰、曹志强）",
            [
                ("吴杰事迹材料.docx", narrative_doc("吴杰", 900, rng)),
                ("曹志强同志事迹材料.docx", narrative_doc("曹志强", 1100, rng)),
            ],
        )
    )
    for name in ("吴杰", "曹志强"):
        n = c.nominee(name)
        assert "narrative_missing" not in n["flags"] and [x["kind"] for x in n["dossier"]] == ["form", "narrative"]
    text = c.receipt("补报事迹材料")
    assert "吴杰（个人" in text and "本次收到事迹材料" in text and "未识别出推荐对象" not in text
    assert "事迹材料未对应" not in text and "缺少事迹材料" not in text
    export = c.export()
    (supplement,) = [m for m in export["messages"] if "补报" in m["subject"]]
    assert sorted(j["kinds"] for j in supplement["joined"]) == [["narrative"], ["narrative"]]
    assert "nothing_recognised" not in supplement["flags"]

    # 甘肃省: a form, then a narrative sent as a reply to our receipt, then a courtesy reply.
    c.arrive(
        _mail(
            "gs",
            "甘肃省推荐材料",
            [("推荐表.docx", individual_form([Person("马兰", "女", f"兰州市{DEPT}科员")], "甘肃省"))],
        )
    )
    ours = next(r.message["Message-ID"] for r in c.handler.received if "甘肃省" in _subject(r))
    sent_before = len(c.handler.received)
    c.arrive(
        _mail(
            "gs",
            "Re: 回执：甘肃省推荐材料",
            [("事迹材料.docx", narrative_doc("马兰", 800, rng))],
            body="补报马兰的事迹材料。",
            In_Reply_To=ours,
        ),
        _mail(
            "gs",
            "回复：回执：甘肃省推荐材料",
            [],
            body="收到，谢谢。\n\n-----原始邮件-----\n请注明“更正”",
            In_Reply_To=ours,
        ),
    )
    assert "narrative_missing" not in c.nominee("马兰")["flags"]
    export = c.export()
    (thanks,) = [m for m in export["messages"] if m["subject"] == "回复：回执：甘肃省推荐材料"]
    assert thanks["classification"] == "reply" and thanks["receipt"] is None
    assert len(c.handler.received) == sent_before + 1  # the reply with a narrative is answered; "收到，谢谢" is not
    page_subjects = [m["subject"] for m in export["messages"] if m["province"] == "gs"]
    assert "回复：回执：甘肃省推荐材料" in page_subjects  # listed for the office

    # 新疆: a list and forms writing the middle dots differently: one nominee each, nothing amiss.
    xj = [
        Person("热依拉·买买提", "女", f"乌鲁木齐市{DEPT}科长", rank=1),
        Person("阿依古丽·吐尔逊", "女", f"喀什市{DEPT}科员", rank=2),
    ]
    listed = [
        Person("热依拉.买买提", "女", f"乌鲁木齐市{DEPT}", rank=1),
        Person("阿依古丽・吐尔逊", "女", f"喀什市{DEPT}", rank=2),
    ]
    c.arrive(
        _mail(
            "xj",
            "新疆推荐材料",
            [
                ("附件2：个人推荐表.docx", individual_form(xj, "新疆维吾尔自治区")),
                ("推荐汇总表.xlsx", summary_list("新疆维吾尔自治区", listed, [])),
                *[(f"{p.name}事迹材料.docx", narrative_doc(p.name, 900, rng)) for p in xj],
            ],
        )
    )
    export = c.export()
    mine = [n for n in export["nominees"] if n["province"] == "xj"]
    assert sorted(n["name"] for n in mine) == ["热依拉·买买提", "阿依古丽·吐尔逊"]
    assert all(n["flags"] == [] for n in mine), [n["flags"] for n in mine]
    assert next(p for p in export["provinces"] if p["code"] == "xj")["flags"] == []

    # 安徽: a correction in its own words with every nominee on record replaces the set; a reply
    # that only quotes our "注明更正" adds its form.
    first = [Person("甲一", "男", f"合肥市{DEPT}科长", rank=1), Person("乙二", "女", f"芜湖市{DEPT}科员", rank=2)]
    c.arrive(_mail("ah", "安徽省推荐材料", [("推荐表.docx", individual_form(first, "安徽省"))]))
    again = [*first, Person("丙三", "男", f"蚌埠市{DEPT}所长", rank=3)]
    c.arrive(_mail("ah", "安徽省推荐材料（更正，以此为准）", [("推荐表.docx", individual_form(again, "安徽省"))]))
    ours = next(r.message["Message-ID"] for r in reversed(c.handler.received) if "安徽省" in _subject(r))
    c.arrive(
        _mail(
            "ah",
            "Re: 回执：安徽省推荐材料（更正，以此为准）",
            [("推荐表.docx", individual_form([Person("丁四", "男", f"淮南市{DEPT}科员", rank=4)], "安徽省"))],
            body="补报丁四。\n\n在 2017年4月20日，总局非公党建办 写道：\n> 请修改后重新发送，注明“更正”。",
            In_Reply_To=ours,
        )
    )
    export = c.export()
    ah = {n["name"]: n for n in export["nominees"] if n["province"] == "ah"}
    assert set(ah) == {"甲一", "乙二", "丙三", "丁四"} and all(n["current"] for n in ah.values())
    flags = {m["subject"]: m["flags"] for m in export["messages"] if m["province"] == "ah"}
    assert "supersedes_earlier" in flags["安徽省推荐材料（更正，以此为准）"]
    assert "supersedes_earlier" not in flags["Re: 回执：安徽省推荐材料（更正，以此为准）"]
    assert [x["replaced_by"] is not None for x in ah["甲一"]["dossier"]] == [True, False]

    # 福建: a unit form from Word 97 whose label reads "负 责 人": the unit's true name.
    from tests.jobs.test_poll import _office

    unit = unit_form([Unit("福建省某某市工商行政管理局第1分局", "张三", rank=1)], "福建省")
    flattened = _flatten_labels(unit)
    c.arrive(_mail("fj", "福建省推荐材料", [("附件3单位推荐表.doc", _office(flattened, "docx", "doc"))]))
    names = [n["name"] for n in c.export()["nominees"] if n["province"] == "fj"]
    assert names == ["福建省某某市工商行政管理局第1分局"]

    # 撤回 by name, in a mail's own words.
    c.arrive(_mail("ah", "关于撤回乙二推荐的说明", [], body="经研究，撤回乙二同志的推荐。"))
    assert not c.nominee("乙二")["current"] and c.nominee("甲一")["current"]

    # Reprocess rebuilds the same dossiers, ids and all.
    before = c.export()
    c.intake("reprocess")
    after = c.export()
    assert [(n["id"], n["name"], n["current"], n["dossier"]) for n in after["nominees"]] == [
        (n["id"], n["name"], n["current"], n["dossier"]) for n in before["nominees"]
    ]


def test_the_peers_real_mail_beside_a_province_supplement(dovecot: Dovecot, smtp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The peers' real messages, every sender registered for one province, arrive between that
    province's forms and its 补报 narrative: each is kept and classified, none answered twice,
    nobody is recorded twice, the narrative still joins its nominee, and reprocess rebuilds the
    same dossiers."""
    import email
    import email.policy
    from email.utils import getaddresses

    from tests.conftest import require_corpus

    peers = [p.read_bytes() for p in require_corpus()]
    senders: set[str] = set()
    for raw in peers:
        headers = email.message_from_bytes(raw.split(b"\r\n\r\n")[0], policy=email.policy.compat32)
        for _, address in getaddresses([str(v) for v in headers.get_all("From") or []]):
            if re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", address.lower()):
                senders.add(address.lower())
    provinces = [{**p, "senders": [*p["senders"], *sorted(senders)]} if p["code"] == "gz" else p for p in PROVINCES]
    c = Campaign(dovecot, smtp, tmp_path)
    write_config(
        c.cfg,
        {
            "database": {"url": f"sqlite:///{tmp_path / 'intake.db'}"},
            "archive": {"path": str(tmp_path / "archive")},
            "mailbox": dovecot.mailbox_settings(password_env="IMAP_PW"),
            "smtp": {"host": "127.0.0.1", "port": smtp[1], "security": "none", "username": ""},
            "receipts": {"per_sender_per_hour": 1000},
            "provinces": provinces,
        },
    )
    rng = random.Random(106)
    people = [
        Person("吴杰", "男", f"贵阳市南明区{DEPT}科长", rank=1),
        Person("曹志强", "男", f"遵义市{DEPT}所长", rank=2),
    ]
    c.arrive(
        _mail("gz", "贵州省推荐材料", [("附件2：个人推荐表.docx", individual_form(people, "贵州省"))]), *peers[:53]
    )
    c.arrive(
        *peers[53:],
        _mail("gz", "贵州省补报事迹材料（吴杰）", [("吴杰同志事迹材料.docx", narrative_doc("吴杰", 900, rng))]),
    )

    export = c.export()
    assert len(export["messages"]) == len(peers) + 2
    gz = [n for n in export["nominees"] if n["province"] == "gz"]
    assert sorted(n["name"] for n in gz if n["current"]) == sorted({n["name"] for n in gz if n["current"]})
    wu = c.nominee("吴杰")
    assert [x["kind"] for x in wu["dossier"]] == ["form", "narrative"] and "narrative_missing" not in wu["flags"]
    assert "narrative_missing" in c.nominee("曹志强")["flags"]
    sent = [r.message["Message-ID"] for r in c.handler.received]
    assert (
        len(sent) == len(set(sent)) == sum(1 for m in export["messages"] if (m["receipt"] or {}).get("state") == "sent")
    )
    replies = [m for m in export["messages"] if m["classification"] == "reply"]
    assert all(m["receipt"] is None for m in replies)

    c.intake("reprocess")
    again = c.export()
    assert [(n["id"], n["name"], n["current"], n["dossier"]) for n in again["nominees"]] == [
        (n["id"], n["name"], n["current"], n["dossier"]) for n in export["nominees"]
    ]
    assert [(m["id"], m["classification"], m["joined"]) for m in again["messages"]] == [
        (m["id"], m["classification"], m["joined"]) for m in export["messages"]
    ]


def _subject(received: Any) -> str:
    return str(make_header(decode_header(received.message["Subject"])))


def _flatten_labels(docx_bytes: bytes) -> bytes:
    """The unit form as some offices type it: no table, the labels spread by spaces on one line."""
    import io

    from docx import Document

    doc = Document()
    doc.add_paragraph("在推进非公党建工作中表现突出单位推荐表")
    doc.add_paragraph("单位名称：福建省某某市工商行政管理局第1分局负 责 人：张三    推荐排序：1")
    doc.add_paragraph("推荐单位意见：同意推荐。（盖章）")
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def test_a_campaign_of_400_mails_with_supplements_spread_over_days(tmp_path: Path) -> None:
    """Twenty provinces send their forms, some without narratives; over the following days they
    send the missing narratives (by new mail and by reply, the names in the file names, some with
    a trailing 同志 or other dots), resend forms, and thank us. Every nominee whose narrative came
    ends complete; nobody is recorded twice."""
    from intake.dev.samples import SURNAMES
    from tests.conftest import embedded_config

    rng = random.Random(400)
    provinces = [(p["code"], p["name"]) for p in PROVINCES] + [
        (code, name)
        for code, name in (
            ("bj", "北京市"),
            ("tj", "天津市"),
            ("he", "河北省"),
            ("sx", "山西省"),
            ("ln", "辽宁省"),
            ("jl", "吉林省"),
            ("sh", "上海市"),
            ("js", "江苏省"),
            ("zj", "浙江省"),
            ("jx", "江西省"),
            ("sd", "山东省"),
            ("ha", "河南省"),
            ("hb", "湖北省"),
            ("hn", "湖南省"),
            ("gd", "广东省"),
        )
    ]
    given = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚"
    people: dict[str, list[str]] = {}
    used: set[str] = set()
    for code, _ in provinces:
        names = []
        while len(names) < rng.randint(4, 7):
            name = rng.choice(SURNAMES) + rng.choice(given) + rng.choice(given)
            if name not in used:
                used.add(name)
                names.append(name)
        people[code] = names
    mails: list[tuple[int, bytes]] = []
    sent_narrative: set[str] = set()
    for code, pname in provinces:
        form = individual_form(
            [Person(n, "男", f"{pname}某区{DEPT}科长", rank=i + 1) for i, n in enumerate(people[code])], pname
        )
        with_narratives = [n for n in people[code] if rng.random() < 0.5]
        sent_narrative.update(with_narratives)
        files = [
            ("附件2：个人推荐表.docx", form),
            *[(f"{n}事迹材料.docx", narrative_doc(n, 700, rng)) for n in with_narratives],
        ]
        mails.append((rng.randint(0, 3), _mail(code, f"{pname}推荐材料", files)))
    for code, pname in provinces:
        missing = [n for n in people[code] if n not in sent_narrative]
        while missing:
            k = rng.randint(1, 3)
            batch, missing = missing[:k], missing[k:]
            late = [n for n in batch if rng.random() < 0.8]  # a fifth never come
            if not late:
                continue
            sent_narrative.update(late)
            files = [
                (f"{n}{'同志' if rng.random() < 0.3 else ''}事迹材料.docx", narrative_doc(n, 800, rng)) for n in late
            ]
            subject = (
                f"{pname}补报事迹材料（{'、'.join(late)}）" if rng.random() < 0.5 else f"Re: 回执：{pname}推荐材料"
            )
            mails.append((rng.randint(4, 10), _mail(code, subject, files)))
    while len(mails) < 400:
        code, pname = rng.choice(provinces)
        if rng.random() < 0.5:
            mails.append((rng.randint(4, 12), _mail(code, f"回复：回执：{pname}推荐材料", [], body="收到，谢谢。")))
        else:
            name = rng.choice(people[code])
            form = individual_form([Person(name, "男", f"{pname}某区{DEPT}副科长", rank=1)], pname)
            mails.append((rng.randint(4, 12), _mail(code, f"{pname}更新{name}的推荐表", [("推荐表.docx", form)])))
    cfg = embedded_config(
        tmp_path,
        provinces=[
            {"code": c, "name": n, "individuals": 8, "units": 2, "senders": [f"fgdj-{c}@aic.example.cn"]}
            for c, n in provinces
        ],
    )
    folder = tmp_path / "mail"
    folder.mkdir()
    for i, (day, raw) in enumerate(sorted(mails, key=lambda m: m[0])):
        # The server's arrival time, as a Received header would carry it.
        stamp = format_datetime(T0 + timedelta(days=day, minutes=i))
        (folder / f"{i:04d}.eml").write_bytes(f"Received: by mx.126.com; {stamp}\r\n".encode() + raw)
    done = run_intake("ingest", str(folder), config=cfg, cwd=tmp_path, timeout=1800)
    assert done.returncode == 0, done.stderr
    export = json.loads(run_intake("export", config=cfg, cwd=tmp_path).stdout)
    assert len(export["messages"]) == 400
    nominees = export["nominees"]
    assert sorted(n["name"] for n in nominees) == sorted(used)  # each person once
    for n in nominees:
        assert n["current"]
        assert ("narrative_missing" in n["flags"]) is (n["name"] not in sent_narrative), (n["name"], n["flags"])
    assert sum(1 for m in export["messages"] if m["classification"] == "reply") >= 40
    assert not [m for m in export["messages"] if "narrative_unmatched" in m["flags"]]
