"""parsers/outlook.py: Outlook's winmail.dat (TNEF) and saved .msg files, unpacked and their
files read like direct attachments; by the tests' own writers and by the libraries' test files."""

from __future__ import annotations

from pathlib import Path

from intake.dev.samples import Person, Unit, individual_form, unit_form
from parsers.archives import Budget
from parsers.outlook import unpack_msg, unpack_tnef
from tests.conftest import read_as_pipeline
from tests.makers import outlook_msg, winmail_dat

DATA = Path(__file__).parent.parent / "data"
FORM = individual_form([Person("吴杰", "男", "贵阳市南明区市场监督管理局科长", rank=1)], "贵州省")
UNIT = unit_form([Unit("遵义市红花岗区市场监督管理局", "李四", rank=1)], "贵州省")


def test_winmail_dat_files_are_read_like_direct_attachments() -> None:
    tnef = winmail_dat([("附件2：个人推荐表.docx", FORM), ("附件3：单位推荐表.docx", UNIT)], body="请查收。")
    r = read_as_pipeline("winmail.dat", "application/ms-tnef", tnef)
    assert (r.type, r.role, r.status) == ("tnef", "mail", "expanded")
    assert r.text == "请查收。"
    assert [(c.filename, c.role, [x.name for x in c.records]) for c in r.children] == [
        ("附件2：个人推荐表.docx", "individual_form", ["吴杰"]),
        ("附件3：单位推荐表.docx", "unit_form", ["遵义市红花岗区市场监督管理局"]),
    ]


def test_tnefparse_own_streams() -> None:
    two = read_as_pipeline("winmail.dat", "", (DATA / "tnefparse" / "two-files.tnef").read_bytes())
    assert [(c.filename, c.status) for c in two.children] == [("AUTHORS", "parsed"), ("README", "parsed")]
    assert "Authors of tnef" in two.children[0].text
    tail = read_as_pipeline("winmail.dat", "", (DATA / "tnefparse" / "garbage-at-end.tnef").read_bytes())
    assert tail.status == "expanded" and tail.children == []


def test_a_winmail_dat_cut_short_names_the_attachment_it_lost() -> None:
    data = winmail_dat([("附件3：单位推荐表.docx", UNIT), ("附件2：个人推荐表.docx", FORM)])
    r = read_as_pipeline("winmail.dat", "", data[: len(data) - 500])
    assert r.status == "expanded"
    assert [(c.filename, c.status, c.detail) for c in r.children] == [
        ("附件3：单位推荐表.docx", "parsed", ""),
        ("附件2：个人推荐表.docx", "unreadable", "winmail.dat不完整，这个附件只收到一部分，无法读取"),
    ]
    assert unpack_tnef(b"\x78\x9f\x3e\x22\x00", Budget(100)).failed == "Outlook邮件附件winmail.dat已损坏，无法读取"


def test_an_attached_msg_holding_a_word_97_form_is_read() -> None:
    from tests.jobs.test_poll import _office

    doc = _office(FORM, "docx", "doc")
    msg = outlook_msg("贵州省推荐材料", "见附件。", [("附件2：个人推荐表.doc", doc)], sender="fgdj-gz@aic.example.cn")
    r = read_as_pipeline("转发：贵州省推荐材料.msg", "application/vnd.ms-outlook", msg)
    assert (r.type, r.role, r.status) == ("msg", "mail", "expanded")
    assert "主题：贵州省推荐材料" in r.text
    (child,) = r.children
    assert (child.type, child.role, [x.name for x in child.records]) == ("doc", "individual_form", ["吴杰"])


def test_python_oxmsg_own_message() -> None:
    r = read_as_pipeline("message.msg", "", (DATA / "oxmsg" / "message.msg").read_bytes())
    assert r.status == "expanded" and "Re: test internal" in r.text
    assert [(c.filename, c.type) for c in r.children] == [("serveimage.jpg", "jpeg")]


def test_a_damaged_msg_is_named_damaged_and_members_stay_within_the_budget() -> None:
    msg = outlook_msg("材料", "", [("a.docx", FORM), ("b.docx", UNIT)])
    damaged = unpack_msg(msg[:1500], Budget(10**9))
    assert damaged.failed == "Outlook邮件文件已损坏，无法读取"
    bounded = unpack_msg(msg, Budget(len(FORM) + 1))
    assert [m.name for m in bounded.members] == ["a.docx"] and "b.docx" in bounded.skipped[0]
    tnef = unpack_tnef(winmail_dat([("a.docx", FORM), ("b.docx", UNIT)]), Budget(len(FORM) + 1))
    assert [m.name for m in tnef.members] == ["a.docx"] and "b.docx" in tnef.skipped[0]
