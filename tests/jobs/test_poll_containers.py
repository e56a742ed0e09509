"""Everything offices attach, through the real servers (Dovecot in, aiosmtpd out): a RAR made by
WinRAR, archives and members with passwords, Outlook's winmail.dat and an attached .msg holding a
Word 97 form, S/MIME signed (valid and changed), opaque and encrypted. Each mail's export and
receipt say what was read, what could not be, and what to do."""

from __future__ import annotations

import io
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import py7zr

from intake.dev.samples import Person, Unit, individual_form, narrative_doc, unit_form
from parsers.archives import ENCRYPTED_ARCHIVE
from parsers.smime import ENCRYPTED_MAIL
from tests.campaign.test_rebuild import DEPT, Campaign, _mail
from tests.makers import outlook_msg, rar4_stored, signing_identity, smime_mail, winmail_dat, zip_with_encrypted
from tests.servers import Dovecot

PROVINCES = [
    {"code": code, "name": name, "individuals": 6, "units": 2, "senders": [f"fgdj-{code}@aic.example.cn"]}
    for code, name in (
        ("gz", "贵州省"),
        ("gs", "甘肃省"),
        ("ah", "安徽省"),
        ("fj", "福建省"),
        ("xj", "新疆维吾尔自治区"),
        ("sc", "四川省"),
        ("yn", "云南省"),
        ("hn", "湖南省"),
    )
]


def _person(name: str, province: str) -> bytes:
    return individual_form([Person(name, "男", f"{province}某区{DEPT}科长", rank=1)], province)


def _entity(files: list[tuple[str, bytes]]) -> bytes:
    inner = MIMEMultipart()
    inner.attach(MIMEText("见附件，请查收。", "plain", "utf-8"))
    for name, data in files:
        part = MIMEApplication(data)
        part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", name))
        inner.attach(part)
    return inner.as_bytes()


def _smime(code: str, subject: str, files: list[tuple[str, bytes]], how: str, identity) -> bytes:  # type: ignore[no-untyped-def]
    from email.header import Header

    headers = {
        "From": f"fgdj-{code}@aic.example.cn",
        "To": "gsfgdj@126.com",
        "Subject": Header(subject, "utf-8").encode(),
        "Date": "Tue, 18 Apr 2017 10:00:00 +0800",
        "Message-ID": f"<{code}-{how}@aic.example.cn>",
    }
    return smime_mail(_entity(files), headers, identity, how)


def test_everything_offices_attach(dovecot: Dovecot, smtp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import random

    from tests.jobs.test_poll import _office

    c = Campaign(dovecot, smtp, tmp_path, PROVINCES)
    rng = random.Random(24)
    seven = io.BytesIO()
    with py7zr.SevenZipFile(seven, "w", password="123456") as archive:
        archive.writestr(_person("马兰", "安徽省"), "附件2：个人推荐表.docx")
    identity = signing_identity("四川省市场监督管理局", "fgdj-sc@aic.example.cn")
    signed = _smime("sc", "四川省推荐材料", [("附件2：个人推荐表.docx", _person("蒲江", "四川省"))], "signed", identity)
    changed = signed.replace(b"Content-Type: text/plain", b"Content-Type: text/plain; format=flowed", 1)
    c.arrive(
        _mail(
            "gz",
            "贵州省推荐材料",
            [
                (
                    "贵州省推荐材料.rar",
                    rar4_stored(
                        [
                            ("贵州省/附件2：个人推荐表.docx", _person("吴杰", "贵州省")),
                            ("贵州省/吴杰事迹材料.docx", narrative_doc("吴杰", 900, rng)),
                        ],
                        unicode_names=False,
                    ),
                )
            ],
        ),
        _mail(
            "gs",
            "甘肃省推荐材料",
            [
                (
                    "甘肃省推荐材料.zip",
                    zip_with_encrypted(
                        [
                            ("附件2：个人推荐表.docx", _person("张明", "甘肃省")),
                            (
                                "附件3：单位推荐表.docx",
                                unit_form([Unit("兰州市城关区市场监督管理局", "李四", rank=1)], "甘肃省"),
                            ),
                        ],
                        encrypted={"附件3：单位推荐表.docx"},
                    ),
                )
            ],
        ),
        _mail("ah", "安徽省推荐材料", [("安徽省推荐材料.7z", seven.getvalue())]),
        _mail(
            "fj",
            "福建省推荐材料",
            [("winmail.dat", winmail_dat([("附件2：个人推荐表.docx", _person("林峰", "福建省"))]))],
        ),
        _mail(
            "xj",
            "转发：新疆推荐材料",
            [
                (
                    "新疆推荐材料.msg",
                    outlook_msg(
                        "新疆推荐材料", "见附件。", [("附件2.doc", _office(_person("艾力", "新疆"), "docx", "doc"))]
                    ),
                )
            ],
        ),
        signed,
        _smime("yn", "云南省推荐材料", [("附件2：个人推荐表.docx", _person("段云", "云南省"))], "opaque", identity),
        _smime("hn", "湖南省推荐材料", [("附件2：个人推荐表.docx", _person("谭湘", "湖南省"))], "encrypted", identity),
    )
    export = c.export()
    names = {
        n["province"]: sorted(x["name"] for x in export["nominees"] if x["province"] == n["province"])
        for n in export["nominees"]
    }
    assert names == {
        "gz": ["吴杰"],
        "gs": ["张明"],
        "fj": ["林峰"],
        "xj": ["艾力"],
        "sc": ["蒲江"],
        "yn": ["段云"],
    }
    assert "narrative_missing" not in c.nominee("吴杰")["flags"]
    flags = {m["province"]: m["flags"] for m in export["messages"]}
    files = {m["province"]: [(a["filename"], a["status"]) for a in m["attachments"]] for m in export["messages"]}
    assert flags["gz"] == [] and flags["fj"] == [] and flags["xj"] == [] and flags["sc"] == [] and flags["yn"] == []
    assert "smime.p7s" not in str(files["sc"]) and "smime.p7m" not in str(files["yn"])
    assert ("附件3：单位推荐表.docx", "unreadable") in files["gs"] and "attachment_unreadable" in flags["gs"]
    assert ("附件2：个人推荐表.docx", "unreadable") in files["ah"] and "attachment_unreadable" in flags["ah"]
    assert "attachment_unreadable" in flags["hn"]

    gansu = c.receipt("甘肃省推荐材料")
    assert f"附件3：单位推荐表.docx：无法读取（{ENCRYPTED_ARCHIVE}）" in gansu
    assert f"附件无法读取（附件3：单位推荐表.docx：{ENCRYPTED_ARCHIVE}）" in gansu
    anhui = c.receipt("安徽省推荐材料")
    assert f"附件2：个人推荐表.docx：无法读取（{ENCRYPTED_ARCHIVE}）" in anhui
    assert "损坏" not in anhui and "未识别出推荐对象（" not in anhui
    assert f"smime.p7m：无法读取（{ENCRYPTED_MAIL}）" in c.receipt("湖南省推荐材料")
    for subject in ("贵州省推荐材料", "福建省推荐材料", "新疆推荐材料", "四川省推荐材料", "云南省推荐材料"):
        text = c.receipt(subject)
        assert "未识别出推荐对象" not in text and "无法读取" not in text, (subject, text)
    assert "Outlook邮件，已读取其中的附件" in c.receipt("福建省推荐材料")

    # The same signed mail, changed after it was signed: read all the same, flagged.
    c.arrive(changed.replace(b"<sc-signed@", b"<sc-changed@"))
    export = c.export()
    (flagged,) = [m for m in export["messages"] if m["message_id"] == "<sc-changed@aic.example.cn>"]
    assert flagged["flags"] == ["signature_invalid"]
    text = c.receipt("四川省推荐材料")
    assert "数字签名未通过校验（邮件内容与签名不符，签名后被改动；签名者：四川省市场监督管理局）" in text
