"""End to end, as the office would see it: realistic province mail in a real Dovecot, receipts through a
real SMTP server, `intake poll` twice from the command line, `intake export` compared with the truth."""

from __future__ import annotations

import io
import json
import random
import zipfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from intake.dev.samples import (
    Person,
    Submission,
    Unit,
    auto_reply,
    build_message,
    individual_form,
    narrative_doc,
    summary_list,
)
from tests.conftest import cli_env, run_intake, write_config
from tests.servers import Dovecot

DEPT = "市场监督管理局"
IN_TIME = datetime(2017, 4, 20, 2, 0, tzinfo=UTC)
LATE = datetime(2017, 5, 2, 1, 30, tzinfo=UTC)


def _office(payload: bytes, src: str, dst: str) -> bytes:
    from intake.ingest.convert import convert, office_binary
    from tests.servers import require

    require(office_binary() is not None, "LibreOffice is not installed")
    return convert(payload, src, dst)


def _plain(sender: str, subject: str, files: list[tuple[str, bytes]], body: str = "见附件。") -> EmailMessage:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "gsfgdj@126.com"
    m["Subject"] = subject
    m["Date"] = format_datetime(IN_TIME)
    m["Message-ID"] = make_msgid(domain="example.cn")
    m.set_content(body)
    for name, data in files:
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return m


def build_mailbox() -> tuple[list[tuple[bytes, datetime]], dict[str, dict[str, object]]]:
    rng = random.Random(430)
    mail: list[tuple[bytes, datetime]] = []
    truth: dict[str, dict[str, object]] = {}

    def add(raw: bytes, cls: str, province: str | None, when: datetime = IN_TIME, **extra: object) -> None:
        mail.append((raw, when))
        key = str(len(mail))
        truth[key] = {"classification": cls, "province": province, **extra}

    bj = Submission(
        "北京市",
        "fgdj-bj@aic.example.cn",
        people=[Person("张伟", "男", f"北京市海淀区{DEPT}科长"), Person("王喆", "女", f"北京市朝阳区{DEPT}副局长")],
        units=[Unit(f"北京市东城区{DEPT}", "李堃")],
    )
    bj_raw = build_message(bj, rng)
    add(bj_raw, "submission", "bj")

    tj_form = _office(individual_form([Person("刘洋", "男", f"天津市河西区{DEPT}所长")], "天津市"), "docx", "doc")
    tj_list = _office(
        summary_list("天津市", [Person("刘洋", "男", f"天津市河西区{DEPT}所长", rank=1)], []), "xlsx", "xls"
    )
    add(
        _plain(
            "fgdj-tj@aic.example.cn",
            "天津市推荐材料",
            [
                ("附件2：个人推荐表.doc", tj_form),
                ("推荐汇总表.xls", tj_list),
                ("刘洋事迹材料.docx", narrative_doc("刘洋", 900, rng)),
            ],
        ).as_bytes(),
        "submission",
        "tj",
    )

    # Member names stored as GBK bytes without the UTF-8 flag, as Windows zip tools write them.
    members = {
        "推荐表.docx": individual_form([Person("赵敏", "女", f"石家庄市长安区{DEPT}科员")], "河北省"),
        "赵敏事迹材料.docx": narrative_doc("赵敏", 800, rng),
    }
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        for i, (name, payload) in enumerate(members.items()):
            z.writestr(f"{i}".rjust(len(name.encode("gbk")) - 5, "x") + ".docx", payload)
    data = zbuf.getvalue()
    for i, name in enumerate(members):
        data = data.replace((f"{i}".rjust(len(name.encode("gbk")) - 5, "x") + ".docx").encode(), name.encode("gbk"))
    add(
        _plain("zhangsan1977@qq.com", "河北省工商局推荐材料", [("河北材料.zip", data)]).as_bytes(),
        "submission",
        "he",
        message_flags={"sender_unregistered"},
    )

    inner = _plain(
        "fgdj-sx@aic.example.cn",
        "推荐材料",
        [
            ("个人推荐表.docx", individual_form([Person("孙杰", "男", f"太原市小店区{DEPT}科长")], "山西省")),
            ("孙杰事迹材料.docx", narrative_doc("孙杰", 900, rng)),
        ],
    )
    fwd = _plain("staff@163.com", "Fw: 推荐材料", [], body="转发山西的材料")
    fwd.add_attachment(inner)
    add(fwd.as_bytes(), "submission", "sx", message_flags={"sender_unregistered"})  # forwarded from a personal address

    add(bj_raw, "duplicate", "bj")

    hi = Submission(
        "海南省",
        "fgdj-hi@aic.example.cn",
        people=[Person(n, "女", f"海口市龙华区{DEPT}所长") for n in ("陈静", "林娜", "何军", "高磊")],
    )
    add(build_message(hi, rng), "submission", "hi")

    zj = Submission(
        "浙江省",
        "fgdj-zj@aic.example.cn",
        people=[Person("周杰", "男", f"杭州市西湖区{DEPT}科员")],
        narrative_words=1700,
    )
    add(build_message(zj, rng), "submission", "zj")

    ln_person = Person("吴静", "女", f"沈阳市和平区{DEPT}科长", opinion="")
    add(
        _plain(
            "fgdj-ln@aic.example.cn",
            "辽宁省推荐材料",
            [("附件2：个人推荐表.docx", individual_form([ln_person], "辽宁省"))],
        ).as_bytes(),
        "submission",
        "ln",
    )

    sh = Submission("上海市", "fgdj-sh@aic.example.cn", people=[Person("郑强", "男", f"上海市浦东新区{DEPT}科长")])
    add(build_message(sh, rng), "submission", "sh", when=LATE, message_flags={"late"})

    jl_first = Submission(
        "吉林省",
        "fgdj-jl@aic.example.cn",
        people=[Person("冯伟", "男", f"长春市南关区{DEPT}科长"), Person("邓丽", "女", f"长春市朝阳区{DEPT}科员")],
    )
    add(build_message(jl_first, rng), "submission", "jl")
    # A correction in its own words, with its list: the list is the province's set from now on.
    jl_fix = Submission(
        "吉林省",
        "fgdj-jl@aic.example.cn",
        people=[Person("曹明", "男", f"吉林市船营区{DEPT}所长", rank=1)],
        subject="吉林省推荐材料（更正，以此为准）",
    )
    add(build_message(jl_fix, rng, with_list=True), "submission", "jl", message_flags={"supersedes_earlier"})

    add(auto_reply("fgdj-gd@aic.example.cn", rng), "auto_reply", "gd")
    bounce = (
        b"From: MAILER-DAEMON@mx.example.cn\r\nTo: gsfgdj@126.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <bounce-1@mx.example.cn>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n--R\r\n"
        b"Content-Type: text/plain\r\n\r\nfailed\r\n--R\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; x@y\r\nAction: failed\r\n--R--\r\n"
    )
    add(bounce, "bounce", None)
    add(_plain("news@shop.example.com", "本周优惠", []).as_bytes(), "unrelated", None)
    return mail, truth


def test_realistic_mailbox_end_to_end(dovecot: Dovecot, smtp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    handler, port = smtp
    mail, truth = build_mailbox()
    client = dovecot.client()
    for raw, when in mail:
        client.append("INBOX", raw, msg_time=when)
    client.logout()
    cfg = write_config(
        tmp_path / "intake.toml",
        {
            "database": {"url": f"sqlite:///{tmp_path / 'intake.db'}"},
            "archive": {"path": str(tmp_path / "archive")},
            "mailbox": dovecot.mailbox_settings(password_env="IMAP_PW"),
            "smtp": {
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "username": "",
                "sender": "总局非公党建办 <gsfgdj@126.com>",
            },
        },
    )
    env = cli_env(IMAP_PW=dovecot.password)

    def intake(*args: str) -> str:
        proc = run_intake(*args, config=cfg, env=env, timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    intake("poll")
    first = json.loads(intake("export", "--format", "json"))
    assert "fetched 0" in intake("poll")
    assert json.loads(intake("export", "--format", "json")) == first

    messages = first["messages"]
    assert len(messages) == len(truth)
    for i, (m, (key, want)) in enumerate(zip(messages, truth.items(), strict=True)):
        assert (m["classification"], m["province"]) == (want["classification"], want["province"]), (key, m["subject"])
        assert set(want.get("message_flags", set())) <= set(m["flags"]), (i, m["flags"])
        if m["classification"] != "submission":
            assert m["receipt"] is None
        else:
            assert m["receipt"]["state"] == "sent"

    def nominees(province: str, current: bool = True) -> dict[str, dict[str, object]]:
        return {n["name"]: n for n in first["nominees"] if n["province"] == province and n["current"] == current}

    assert {(n["name"], n["kind"]) for n in nominees("bj").values()} == {
        ("张伟", "individual"),
        ("王喆", "individual"),
        (f"北京市东城区{DEPT}", "unit"),
    }
    assert set(nominees("tj")) == {"刘洋"} and nominees("tj")["刘洋"]["rank"] == 1
    assert set(nominees("he")) == {"赵敏"} and nominees("he")["赵敏"]["narrative_chars"] is not None
    assert set(nominees("sx")) == {"孙杰"}
    assert set(nominees("hi")) == {"陈静", "林娜", "何军", "高磊"}
    assert "narrative_too_long" in nominees("zj")["周杰"]["flags"]
    assert {"narrative_missing", "opinion_missing"} <= set(nominees("ln")["吴静"]["flags"])
    assert set(nominees("jl")) == {"曹明"} and set(nominees("jl", current=False)) == {"冯伟", "邓丽"}
    for n in first["nominees"]:
        if n["province"] in ("bj", "tj", "he", "sx", "hi", "sh", "jl"):
            assert n["flags"] == [], (n["name"], n["flags"])

    provinces = {p["code"]: p for p in first["provinces"]}
    assert len(provinces) == 31
    assert provinces["bj"]["received"] == {"individuals": 2, "units": 1}
    assert {"over_quota_individuals", "ranking_missing"} <= set(provinces["hi"]["flags"])
    assert "late" in provinces["sh"]["flags"]
    assert "sender_unregistered" in provinces["he"]["flags"]
    assert provinces["jl"]["received"] == {"individuals": 1, "units": 0}
    assert provinces["sx"]["flags"] == ["sender_unregistered"]
    for code in ("bj", "tj", "zj", "ln", "jl"):
        assert provinces[code]["flags"] == [], (code, provinces[code]["flags"])

    submissions = [m for m in messages if m["classification"] == "submission"]
    assert len(handler.received) == len(submissions)
    got = sorted(r.recipients[0] for r in handler.received)
    assert got == sorted(m["from"] for m in submissions)
    for r in handler.received:
        assert r.message["Auto-Submitted"] == "auto-replied" and r.message["In-Reply-To"]
