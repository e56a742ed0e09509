"""parsers/docx_reader.py: forms laid out in text boxes (DrawingML with its VML fallback, VML
alone, a box holding a table, a label in one box and its value in the next), each box read once;
a .docx holding only a picture goes the way of a scan; nothing read is never "已识别"."""

from __future__ import annotations

import io

import pytest

from intake.core.vocabulary import file_status
from parsers.docx_reader import read_docx
from tests.conftest import read_as_pipeline
from tests.makers import docx_with_picture, docx_with_text_boxes

TITLE = "在推进非公党建工作中表现突出个人推荐表"
BOXES = [
    ["姓名：吴杰", "性别：男", "出生年月：1980.05"],
    [["工作单位及职务", "贵阳市南明区市场监督管理局科长"], ["推荐排序", "1"]],
    [["推荐单位意见", "同意推荐。（盖章）2017年4月18日"]],
]
EXPECTED = {
    "name": "吴杰",
    "sex": "男",
    "birth": "1980.05",
    "workplace": "贵阳市南明区市场监督管理局科长",
    "rank": "1",
}


@pytest.mark.parametrize(
    "how", [{}, {"fallback": False}, {"vml_only": True}], ids=["choice-and-fallback", "choice", "vml"]
)
def test_a_form_in_text_boxes_is_read_once(how: dict) -> None:
    data = docx_with_text_boxes(TITLE, BOXES, **how)
    r = read_as_pipeline("附件2.docx", "", data)
    (record,) = r.records
    assert (r.role, record.kind, record.name, record.rank) == ("individual_form", "individual", "吴杰", 1)
    assert {k: record.fields[k] for k in EXPECTED} == EXPECTED
    assert [o.text for o in record.opinions] == ["同意推荐。（盖章）2017年4月18日"]
    assert read_docx(data).box_text.count("吴杰") == 1  # the fallback is not read a second time


def test_labels_and_values_in_boxes_of_their_own() -> None:
    boxes = [["姓名"], ["吴杰"], ["性别"], ["男"], ["推荐排序"], ["2"]]
    r = read_as_pipeline("个人推荐表.docx", "", docx_with_text_boxes(TITLE, boxes))
    (record,) = r.records
    assert (record.name, record.fields["sex"], record.rank) == ("吴杰", "男", 2)


def test_text_boxes_through_libreoffice_as_word_97() -> None:
    from tests.jobs.test_poll import _office

    doc = _office(docx_with_text_boxes(TITLE, BOXES), "docx", "doc")
    r = read_as_pipeline("附件2.doc", "", doc)
    assert [(x.name, x.rank) for x in r.records] == [("吴杰", 1)]


def _png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (400, 560), "white").save(buf, "PNG")
    return buf.getvalue()


def test_a_docx_holding_only_a_picture_is_a_scan() -> None:
    r = read_as_pipeline("附件2：个人推荐表.docx", "", docx_with_picture(_png()))
    assert (r.status, r.role) == ("scan_only", "scan")
    assert file_status(r.status, r.role) != "已识别"


def test_a_file_that_gives_nothing_is_never_said_to_be_recognised() -> None:
    from docx import Document

    doc = Document()
    doc.add_paragraph("")
    buf = io.BytesIO()
    doc.save(buf)
    r = read_as_pipeline("附件2.docx", "", buf.getvalue())
    assert r.status == "parsed" and r.role == "other"
    assert file_status(r.status, r.role) == "未读出推荐表、汇总表或事迹材料"
