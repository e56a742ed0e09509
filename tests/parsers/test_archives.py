"""parsers/archives.py: RAR 4 and 5 beside zip and 7z; encrypted archives and members named as
encrypted, each member on its own, never called damaged."""

from __future__ import annotations

import io
from pathlib import Path

import py7zr
import pytest

from intake.dev.samples import Person, Unit, individual_form, unit_form
from parsers.archives import ENCRYPTED_ARCHIVE, ArchiveLimits, Budget, expand, rar_program
from tests.conftest import read_as_pipeline
from tests.makers import rar4_stored, zip_with_encrypted
from tests.servers import require

RARS = Path(__file__).parent.parent / "data" / "rarfile"
FORM = individual_form([Person("吴杰", "男", "贵阳市南明区市场监督管理局科长", rank=1)], "贵州省")
UNIT = unit_form([Unit("遵义市红花岗区市场监督管理局", "李四", rank=1)], "贵州省")


def _need_rar_program() -> None:
    require(rar_program() is not None, "no RAR unpacking program (unar or bsdtar) installed")


@pytest.mark.parametrize("unicode_names", [True, False], ids=["utf8-names", "gbk-names"])
def test_a_rar_made_by_winrar_is_read_like_a_zip(unicode_names: bool) -> None:
    rar = rar4_stored(
        [("贵州省推荐材料/附件2：个人推荐表.docx", FORM), ("贵州省推荐材料/附件3：单位推荐表.docx", UNIT)],
        unicode_names=unicode_names,
    )
    r = read_as_pipeline("贵州省推荐材料.rar", "application/x-rar-compressed", rar)
    assert r.type == "rar" and r.status == "expanded"
    assert [c.filename for c in r.children] == [
        "贵州省推荐材料/附件2：个人推荐表.docx",
        "贵州省推荐材料/附件3：单位推荐表.docx",
    ]
    assert [(c.role, [x.name for x in c.records]) for c in r.children] == [
        ("individual_form", ["吴杰"]),
        ("unit_form", ["遵义市红花岗区市场监督管理局"]),
    ]


@pytest.mark.parametrize("name", ["rar3-solid", "rar5-solid"])
def test_compressed_rar_3_and_5_through_the_unpacking_program(name: str) -> None:
    _need_rar_program()
    r = read_as_pipeline(f"{name}.rar", "", (RARS / f"{name}.rar").read_bytes())
    assert r.status == "expanded"
    assert [(c.filename, c.size or len(c.payload), c.status) for c in r.children] == [
        ("stest1.txt", 2048, "parsed"),
        ("stest2.txt", 2048, "parsed"),
    ]


@pytest.mark.parametrize("name", ["rar5-psw", "rar3-comment-psw"])
def test_encrypted_rar_members_are_each_named_encrypted(name: str) -> None:
    _need_rar_program()
    r = read_as_pipeline(f"{name}.rar", "", (RARS / f"{name}.rar").read_bytes())
    assert r.status == "expanded" and len(r.children) == 2
    assert {(c.status, c.detail) for c in r.children} == {("unreadable", ENCRYPTED_ARCHIVE)}


def test_a_rar_whose_names_are_encrypted_is_encrypted_not_damaged() -> None:
    r = read_as_pipeline("材料.rar", "", (RARS / "rar5-hpsw.rar").read_bytes())
    assert (r.status, r.detail) == ("unreadable", ENCRYPTED_ARCHIVE)
    assert "损坏" not in r.detail


def test_a_truncated_rar_is_damaged() -> None:
    rar = rar4_stored([("附件2：个人推荐表.docx", FORM)])
    r = read_as_pipeline("材料.rar", "", rar[:-200])
    assert r.status in ("unreadable", "expanded")
    assert all(c.status == "unreadable" for c in r.children)
    assert "密码" not in r.detail + "".join(c.detail for c in r.children)


def test_rar_members_stay_within_the_message_budget() -> None:
    rar = rar4_stored([("a.docx", FORM), ("b.docx", UNIT)])
    budget = Budget(len(FORM) + 10)
    result = expand(rar, "rar", ArchiveLimits(), budget)
    members = list(result.members)
    assert [m.name for m in members] == ["a.docx"]
    assert result.skipped and "b.docx" in result.skipped[0]


def test_an_encrypted_member_of_a_zip_is_named_and_flagged_on_its_own() -> None:
    data = zip_with_encrypted(
        [("附件2：个人推荐表.docx", FORM), ("附件3：单位推荐表.docx", UNIT)], encrypted={"附件3：单位推荐表.docx"}
    )
    r = read_as_pipeline("推荐材料.zip", "", data)
    by_name = {c.filename: c for c in r.children}
    assert by_name["附件2：个人推荐表.docx"].role == "individual_form"
    locked = by_name["附件3：单位推荐表.docx"]
    assert (locked.status, locked.detail, locked.type) == ("unreadable", ENCRYPTED_ARCHIVE, "docx")


def test_a_7z_with_a_password_is_encrypted_not_damaged() -> None:
    for header_encryption in (False, True):
        buf = io.BytesIO()
        with py7zr.SevenZipFile(buf, "w", password="123456", header_encryption=header_encryption) as archive:
            archive.writestr(FORM, "附件2：个人推荐表.docx")
        r = read_as_pipeline("推荐材料.7z", "", buf.getvalue())
        if header_encryption:
            assert (r.status, r.detail) == ("unreadable", ENCRYPTED_ARCHIVE)
        else:
            assert [(c.filename, c.status, c.detail) for c in r.children] == [
                ("附件2：个人推荐表.docx", "unreadable", ENCRYPTED_ARCHIVE)
            ]
