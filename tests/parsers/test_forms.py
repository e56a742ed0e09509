"""parsers/forms.py, labels.py, text_forms.py, docx_reader.py, sheets.py, documents.py: form
variants built with python-docx and openpyxl, each beside the values it must give (the golden table below)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import openpyxl
import pytest
from docx import Document
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from intake.dev.samples import Person, individual_form
from parsers.labels import normalise_label, parse_rank
from parsers.sniff import sniff
from parsers.wordcount import count_words
from tests.conftest import one_message_dossiers, read_as_pipeline


def _save(doc) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _person_table(doc, name: str, *, label: str = "姓　　名", rank: str = "") -> object:  # type: ignore[no-untyped-def]
    t = doc.add_table(rows=5, cols=4)
    for j, v in enumerate([label, name, "性　别", "女"]):
        t.rows[0].cells[j].text = v
    for j, v in enumerate(["出生年月", "1980.01", "推荐排序", rank]):
        t.rows[1].cells[j].text = v
    t.rows[2].cells[0].text = "工作单位及职务"
    t.rows[2].cells[1].merge(t.rows[2].cells[3]).text = "某市市场监督管理局科长"
    t.rows[3].cells[0].text = "推荐单位意见"
    t.rows[3].cells[1].merge(t.rows[3].cells[3]).text = "同意推荐\n（盖章）\n年　月　日"
    t.rows[4].cells[0].text = "组织部门或\n两新工委意见"
    t.rows[4].cells[1].merge(t.rows[4].cells[3]).text = "（盖章）\n年　月　日"
    return t


def spaced_labels() -> bytes:
    doc = Document()
    doc.add_paragraph("在推进非公党建工作中表现突出个人推荐表")
    _person_table(doc, "王喆", rank="1")
    return _save(doc)


def label_and_value_in_one_cell() -> bytes:
    doc = Document()
    t = doc.add_table(rows=3, cols=2)
    t.rows[0].cells[0].text = "姓名：李堃"
    t.rows[0].cells[1].text = "性别：男"
    t.rows[1].cells[0].text = "工作单位及职务：某县市场监管局局长"
    t.rows[1].cells[1].text = "推荐排序：第二"
    t.rows[2].cells[0].text = "推荐单位意见：同意"
    return _save(doc)


def vertical_labels_and_vmerge() -> bytes:
    doc = Document()
    t = doc.add_table(rows=4, cols=3)
    t.rows[0].cells[0].text = "姓\n名"
    t.rows[0].cells[1].text = "赵敏"
    t.rows[0].cells[2].text = "照片"
    t.rows[1].cells[0].text = "性别"
    t.rows[1].cells[1].text = "女"
    t.cell(0, 2).merge(t.cell(1, 2))  # the photo cell spans two rows
    t.rows[2].cells[0].text = "主\n要\n事\n迹"
    t.rows[2].cells[1].merge(t.rows[2].cells[2]).text = "事迹概述"
    t.rows[3].cells[0].text = "工作单位"
    t.rows[3].cells[1].merge(t.rows[3].cells[2]).text = "工商所所长"
    return _save(doc)


def nested_table() -> bytes:
    doc = Document()
    doc.add_paragraph("附件2")
    outer = doc.add_table(rows=1, cols=1)
    inner_cell = outer.rows[0].cells[0]
    inner = inner_cell.add_table(rows=2, cols=4)
    for j, v in enumerate(["姓名", "孙杰", "性别", "男"]):
        inner.rows[0].cells[j].text = v
    for j, v in enumerate(["工作单位及职务", "某区市场监管局", "推荐排序", "3"]):
        inner.rows[1].cells[j].text = v
    return _save(doc)


def several_in_one_file() -> bytes:
    doc = Document()
    for i, name in enumerate(["周杰", "吴静", "郑强"], 1):
        if i > 1:
            doc.add_page_break()
        doc.add_paragraph("个人推荐表")
        _person_table(doc, name, rank=str(i))
    doc.add_paragraph("")  # Word ends a body with a paragraph, never a table
    return _save(doc)


def _run(text: str, tag: str = "w:t") -> object:
    r = OxmlElement("w:r")
    t = OxmlElement(tag)
    t.set(qn("xml:space"), "preserve")
    t.text = text
    r.append(t)
    return r


def tracked_changes() -> bytes:
    doc = Document()
    t = doc.add_table(rows=1, cols=4)
    for j, v in enumerate(["姓名", "", "性别", "男"]):
        t.rows[0].cells[j].text = v
    p = t.rows[0].cells[1].paragraphs[0]._p
    deleted = OxmlElement("w:del")
    deleted.set(qn("w:id"), "1")
    deleted.set(qn("w:author"), "a")
    deleted.append(_run("张三", "w:delText"))
    inserted = OxmlElement("w:ins")
    inserted.set(qn("w:id"), "2")
    inserted.set(qn("w:author"), "a")
    inserted.append(_run("张三丰"))
    p.append(deleted)
    p.append(inserted)
    return _save(doc)


def content_controls_and_symbols() -> bytes:
    doc = Document()
    t = doc.add_table(rows=2, cols=4)
    for j, v in enumerate(["姓名", "", "性别", "女"]):
        t.rows[0].cells[j].text = v
    p = t.rows[0].cells[1].paragraphs[0]._p
    sdt = OxmlElement("w:sdt")
    content = OxmlElement("w:sdtContent")
    content.append(_run("钱芳"))
    sdt.append(OxmlElement("w:sdtPr"))
    sdt.append(content)
    p.append(sdt)
    t.rows[1].cells[0].text = "政治面貌"
    sym_p = t.rows[1].cells[1].paragraphs[0]._p
    r = OxmlElement("w:r")
    sym = OxmlElement("w:sym")
    sym.set(qn("w:font"), "Wingdings")
    sym.set(qn("w:char"), "F0FE")
    r.append(sym)
    sym_p.append(r)
    sym_p.append(_run("中共党员"))
    return _save(doc)


def unit_form() -> bytes:
    doc = Document()
    doc.add_paragraph("在推进非公党建工作中表现突出单位推荐表")
    t = doc.add_table(rows=3, cols=4)
    t.rows[0].cells[0].text = "单位名称"
    t.rows[0].cells[1].merge(t.rows[0].cells[3]).text = "某某市某某区市场监督管理局"
    for j, v in enumerate(["单位负责人", "冯伟", "推荐排序", "1"]):
        t.rows[1].cells[j].text = v
    t.rows[2].cells[0].text = "推荐单位意见"
    t.rows[2].cells[1].merge(t.rows[2].cells[3]).text = "同意"
    return _save(doc)


def word_list() -> bytes:
    doc = Document()
    doc.add_paragraph("推荐个人汇总表")
    t = doc.add_table(rows=4, cols=4)
    for r, row in enumerate(
        [
            ["序号", "姓名", "工作单位及职务", "排序"],
            ["1", "陈洋", "某局", "2"],
            ["2", "林娜", "某所", "1"],
            ["合计", "", "", ""],
        ]
    ):
        for c, v in enumerate(row):
            t.rows[r].cells[c].text = v
    return _save(doc)


def excel_list() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["某省推荐表现突出单位和个人汇总表"])
    ws.merge_cells("A1:E1")
    ws.append(["序号", "类别", "名称", "工作单位及职务", "推荐排序"])
    ws.append([1, "个人", "何军", "某局科长", 1])
    ws.append([2, "单位", "某县市场监督管理局", None, 1])
    ws.append([3, "个人", "高磊", "某所所长", 2])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# (builder, filename, expected role, [(kind, name, rank, {field: value}, [(opinion kind, text)])])
GOLDEN: list[tuple[Callable[[], bytes], str, str, list[tuple]]] = [  # type: ignore[type-arg]
    (
        spaced_labels,
        "附件2.docx",
        "individual_form",
        [
            (
                "individual",
                "王喆",
                1,
                {"sex": "女", "workplace": "某市市场监督管理局科长"},
                [("recommender", "同意推荐\n（盖章）\n年　月　日"), ("organization", "（盖章）\n年　月　日")],
            )
        ],
    ),
    (
        label_and_value_in_one_cell,
        "推荐表.docx",
        "individual_form",
        [("individual", "李堃", 2, {"sex": "男", "workplace": "某县市场监管局局长"}, [("recommender", "同意")])],
    ),
    (
        vertical_labels_and_vmerge,
        "表.docx",
        "individual_form",
        [("individual", "赵敏", None, {"sex": "女", "deeds": "事迹概述", "workplace": "工商所所长"}, [])],
    ),
    (nested_table, "表.docx", "individual_form", [("individual", "孙杰", 3, {"workplace": "某区市场监管局"}, [])]),
    (
        several_in_one_file,
        "个人推荐表.docx",
        "individual_form",
        [
            (
                "individual",
                n,
                i,
                {},
                [("recommender", "同意推荐\n（盖章）\n年　月　日"), ("organization", "（盖章）\n年　月　日")],
            )
            for i, n in enumerate(["周杰", "吴静", "郑强"], 1)
        ],
    ),
    (tracked_changes, "表.docx", "individual_form", [("individual", "张三丰", None, {"sex": "男"}, [])]),
    (
        content_controls_and_symbols,
        "表.docx",
        "individual_form",
        [("individual", "钱芳", None, {"political": "☑中共党员"}, [])],
    ),
    (
        unit_form,
        "附件3.docx",
        "unit_form",
        [("unit", "某某市某某区市场监督管理局", 1, {"head": "冯伟"}, [("recommender", "同意")])],
    ),
    (
        word_list,
        "汇总.docx",
        "nominee_list",
        [("individual", "陈洋", 2, {"workplace": "某局"}, []), ("individual", "林娜", 1, {}, [])],
    ),
    (
        excel_list,
        "汇总表.xlsx",
        "nominee_list",
        [
            ("individual", "何军", 1, {}, []),
            ("unit", "某县市场监督管理局", 1, {}, []),
            ("individual", "高磊", 2, {}, []),
        ],
    ),
]


@pytest.mark.parametrize(("builder", "filename", "role", "expected"), GOLDEN, ids=[g[0].__name__ for g in GOLDEN])
def test_golden_forms(builder, filename: str, role: str, expected: list[tuple]) -> None:  # type: ignore[no-untyped-def,type-arg]
    reading = read_as_pipeline(filename, "application/octet-stream", builder())
    assert reading.status == "parsed", reading.detail
    assert reading.role == role
    got = [(r.kind, r.name, r.rank) for r in reading.records]
    assert got == [(k, n, rk) for k, n, rk, _, _ in expected]
    for record, (_, _, _, fields, opinions) in zip(reading.records, expected, strict=True):
        for key, value in fields.items():
            assert record.fields.get(key) == value, key
        assert [(o.kind, o.text) for o in record.opinions if o.kind != "other"] == opinions


def test_deleted_text_is_not_read() -> None:
    reading = read_as_pipeline("x.docx", "", tracked_changes())
    assert "张三丰" in reading.text and "张三\n" not in reading.text and "张三张三丰" not in reading.text


def test_several_nominees_with_a_summary_list_are_not_counted_twice() -> None:
    forms = read_as_pipeline("个人推荐表.docx", "", several_in_one_file())
    lst = read_as_pipeline("汇总.xlsx", "", excel_list())
    names = sorted(one_message_dossiers([forms, lst]))
    assert names == sorted(["周杰", "吴静", "郑强", "何军", "某县市场监督管理局", "高磊"])


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("姓　　名", "姓名"),
        ("姓 名", "姓名"),
        ("主\n要\n事\n迹", "主要事迹"),
        ("主要事迹（限300字）", "主要事迹"),
        ("推荐单位意见：", "推荐单位意见"),
    ],
)
def test_label_normalisation(text: str, label: str) -> None:
    assert normalise_label(text) == label


@pytest.mark.parametrize(
    ("text", "rank"), [("1", 1), ("第二", 2), ("３", 3), ("第十二名", 12), ("", None), ("无", None)]
)
def test_rank_parsing(text: str, rank: int | None) -> None:
    assert parse_rank(text) == rank


# --------------------------------------------------------------------------- formats and bad input


@pytest.mark.parametrize(
    ("payload", "name", "kind"),
    [
        (b"%PDF-1.4\n...", "a.doc", "pdf"),
        (b"\xff\xd8\xff\xe0....JFIF", "scan", "jpeg"),
        (b"{\\rtf1\\ansi hello}", "form.doc", "rtf"),
        (b"<html><body>x</body></html>", "form.doc", "html"),
        (b"", "x.docx", "empty"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "a.zip", "7z"),
    ],
)
def test_sniff_by_content_not_name(payload: bytes, name: str, kind: str) -> None:
    assert sniff(payload, name) == kind


def test_docx_without_extension_is_read() -> None:
    reading = read_as_pipeline("", "application/octet-stream", spaced_labels())
    assert reading.type == "docx" and reading.records[0].name == "王喆"
    assert reading.filename.endswith(".docx")


def test_broken_docx_is_unreadable_with_reason() -> None:
    data = spaced_labels()
    broken = data[: len(data) // 2]
    reading = read_as_pipeline("附件2.docx", "", broken)
    assert reading.status == "unreadable" and reading.detail


def test_xml_entity_bomb_in_docx_is_not_expanded() -> None:
    src = io.BytesIO(spaced_labels())
    out = io.BytesIO()
    entities = '<!ENTITY lol0 "lol">' + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE lolz [{entities}]>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>"
    )
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = bomb.encode() if item.filename == "word/document.xml" else zin.read(item)
            zout.writestr(item, data)
    reading = read_as_pipeline("bomb.docx", "", out.getvalue())
    assert len(reading.text) < 10_000
    assert reading.status in ("parsed", "unreadable")


def test_zip_with_gbk_names_nested_and_traversal() -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as z:
        z.writestr("事迹材料.txt", "事迹" * 100)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as z:
        info = zipfile.ZipInfo("个人推荐表.docx")
        z.writestr(info, spaced_labels())
        z.writestr("../../etc/passwd", b"root")
        z.writestr("inner.zip", inner.getvalue())
    data = outer.getvalue()
    # Rewrite the first member's name as GBK bytes without the UTF-8 flag, as Windows zip tools do.
    utf8 = "个人推荐表.docx".encode()
    gbk = "个人推荐表.docx".encode("gbk")
    assert len(utf8) != len(gbk)
    reading = read_as_pipeline("材料.zip", "", _rename_member(data, "个人推荐表.docx", gbk))
    assert reading.status == "expanded"
    names = [c.filename for c in reading.children]
    assert names[0] == "个人推荐表.docx"
    assert "etc/passwd" in names and not any(".." in n for n in names)
    assert reading.children[0].records[0].name == "王喆"
    nested = reading.children[2]
    assert nested.status == "expanded" and nested.children[0].role == "narrative"


def _rename_member(data: bytes, name: str, raw_name: bytes) -> bytes:
    """Rebuild a zip with one member's name stored as raw bytes and flag bit 11 clear."""
    placeholder = "A" * (len(raw_name) - 5) + ".docx"
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for item in src.infolist():
            payload = src.read(item)
            z.writestr(placeholder if item.filename == name else item.filename, payload)
    rebuilt = out.getvalue()
    assert rebuilt.count(placeholder.encode()) == 2  # local header and central directory
    return rebuilt.replace(placeholder.encode(), raw_name)


def test_zip_bomb_is_bounded() -> None:
    from parsers.archives import ArchiveLimits
    from parsers.documents import ReadLimits

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.txt", b"0" * (50 * 1024 * 1024))
    limits = ReadLimits(archive=ArchiveLimits(total_bytes=5 * 1024 * 1024))
    reading = read_as_pipeline("bomb.zip", "", buf.getvalue(), limits)
    assert reading.children == []
    assert "解压后超过" in reading.detail


def test_truncated_zip_and_encrypted_office_file() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "x" * 1000)
    r = read_as_pipeline("a.zip", "", buf.getvalue()[:40])
    assert r.status == "unreadable" and "ZIP" in r.detail
    # A real Word file protected by a password to open (Office's own encryption, made with
    # msoffcrypto-tool): named as encrypted, never as damaged.
    from msoffcrypto.format.ooxml import OOXMLFile

    encrypted = io.BytesIO()
    OOXMLFile(io.BytesIO(individual_form([Person("王喆", "男", "某局科长")], "浙江省"))).encrypt("1234", encrypted)
    r = read_as_pipeline("加密.docx", "", encrypted.getvalue())
    assert r.type == "encrypted" and r.status == "unreadable" and "密码" in r.detail


def test_images_and_image_only_pdf_are_scan_only() -> None:
    """A picture in which text recognition finds nothing stays a scan; one that cannot be decoded
    is unreadable (scans that hold a form: tests/parsers/test_scans.py)."""
    r = read_as_pipeline("推荐表扫描.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    assert (r.status, r.detail) == ("unreadable", "图片无法打开（已损坏或格式不支持）")
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    w.write(buf)
    r = read_as_pipeline("扫描件.pdf", "application/pdf", buf.getvalue())
    assert r.status == "scan_only"


# --------------------------------------------------------------------------- legacy formats (LibreOffice)


def _office() -> None:
    from intake.ingest.convert import office_binary
    from tests.servers import require

    require(office_binary() is not None, "LibreOffice is not installed (libreoffice-writer-nogui, -calc-nogui)")


def test_word97_doc_converted_by_libreoffice() -> None:
    _office()
    from intake.ingest.convert import convert

    doc = convert(several_in_one_file(), "docx", "doc")
    assert sniff(doc, "x.doc") == "doc"
    reading = read_as_pipeline("个人推荐表.doc", "application/msword", doc)
    assert reading.status == "parsed", reading.detail
    assert [(r.name, r.rank) for r in reading.records] == [("周杰", 1), ("吴静", 2), ("郑强", 3)]
    # The same bytes named .wps: WPS files are read the same way.
    wps = read_as_pipeline("个人推荐表.wps", "application/octet-stream", doc)
    assert [r.name for r in wps.records] == ["周杰", "吴静", "郑强"]


def test_xls_read_directly_and_after_conversion() -> None:
    _office()
    from intake.ingest.convert import convert

    xls = convert(excel_list(), "xlsx", "xls")
    assert sniff(xls, "") == "xls"
    reading = read_as_pipeline("汇总表.xls", "application/vnd.ms-excel", xls)
    assert reading.status == "parsed", reading.detail
    assert [(r.kind, r.name, r.rank) for r in reading.records] == [
        ("individual", "何军", 1),
        ("unit", "某县市场监督管理局", 1),
        ("individual", "高磊", 2),
    ]


def test_garbage_doc_is_unreadable_not_dropped() -> None:
    _office()
    junk = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 50 + "WordDocument".encode("utf-16-le") + b"\x01" * 500
    reading = read_as_pipeline("坏文件.doc", "", junk)
    assert reading.status == "unreadable" and "DOC文件无法打开" in reading.detail and reading.technical


def test_columns_decide_the_kind_over_the_title_around_the_table() -> None:
    doc = Document()
    doc.add_paragraph("报送单位：北京市工商局（盖章）")
    t = doc.add_table(rows=3, cols=3)
    for r, row in enumerate([["序号", "姓名", "工作单位及职务"], ["1", "陈洋", "某局"], ["2", "林娜", "某所"]]):
        for c, v in enumerate(row):
            t.rows[r].cells[c].text = v
    doc.add_paragraph("推荐单位意见：同意")
    reading = read_as_pipeline("名单.docx", "", _save(doc))
    assert [(r.kind, r.name) for r in reading.records] == [("individual", "陈洋"), ("individual", "林娜")]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "单位"
    ws.append(["序号", "名称", "排序"])
    ws.append([1, "某县市场监督管理局", 1])
    buf = io.BytesIO()
    wb.save(buf)
    reading = read_as_pipeline("汇总.xlsx", "", buf.getvalue())
    assert [(r.kind, r.name, r.rank) for r in reading.records] == [("unit", "某县市场监督管理局", 1)]


def test_a_narrative_named_with_the_form_is_still_a_narrative() -> None:
    doc = Document()
    doc.add_paragraph("王喆同志先进事迹材料")
    doc.add_paragraph("该同志长期从事非公党建工作。" * 20)
    reading = read_as_pipeline("推荐表及事迹材料.docx", "", _save(doc))
    assert reading.role == "narrative" and reading.words is not None
    assert reading.words.words == count_words(reading.text).words


def test_word_count_skips_text_boxes_and_deleted_text() -> None:
    doc = Document()
    p = doc.add_paragraph("事迹正文")._p
    box = OxmlElement("w:txbxContent")
    inner = OxmlElement("w:p")
    inner.append(_run("文本框里的字"))
    box.append(inner)
    run = OxmlElement("w:r")
    run.append(box)
    p.append(run)
    reading = read_as_pipeline("事迹材料.docx", "", _save(doc))
    assert reading.text.strip() == "事迹正文" and reading.words.words == 4  # type: ignore[union-attr]


def test_word_saved_as_a_web_page_keeps_its_tables() -> None:
    _office()
    html = (
        "<html><head><meta charset='utf-8'></head><body><p>个人推荐表</p><table border=1>"
        "<tr><td>姓名</td><td>韩梅</td><td>性别</td><td>女</td></tr>"
        "<tr><td>工作单位及职务</td><td>某区市场监督管理局科长</td><td>推荐排序</td><td>1</td></tr>"
        "</table></body></html>"
    ).encode()
    reading = read_as_pipeline("个人推荐表.doc", "application/msword", html)
    assert reading.type == "html" and reading.status == "parsed", reading.detail
    assert [(r.kind, r.name, r.rank) for r in reading.records] == [("individual", "韩梅", 1)]


def test_text_pdf_forms_give_names_kinds_and_ranks() -> None:
    _office()
    from intake.ingest.convert import convert

    pdf = convert(several_in_one_file(), "docx", "pdf")
    reading = read_as_pipeline("个人推荐表.pdf", "application/pdf", pdf)
    assert reading.role == "individual_form"
    assert [(r.kind, r.name, r.rank) for r in reading.records] == [
        ("individual", "周杰", 1),
        ("individual", "吴静", 2),
        ("individual", "郑强", 3),
    ]
    unit = read_as_pipeline("单位推荐表.pdf", "application/pdf", convert(unit_form(), "docx", "pdf"))
    assert [(r.kind, r.name, r.rank) for r in unit.records] == [("unit", "某某市某某区市场监督管理局", 1)]
    doc = Document()
    doc.add_paragraph("王喆同志先进事迹材料")
    doc.add_paragraph("该同志长期从事非公党建工作，积极推动小个专党组织建设。" * 10)
    narrative = read_as_pipeline("王喆事迹材料.pdf", "application/pdf", convert(_save(doc), "docx", "pdf"))
    assert narrative.role == "narrative" and narrative.records == []


def test_conversion_time_out_ends_every_libreoffice_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-shot conversion past its time-out ends the whole LibreOffice process tree, not only the
    script (the warm LibreOffice's own time-out: tests/test_conversions.py)."""
    import subprocess

    _office()
    from intake.ingest.convert import ConversionError, convert

    monkeypatch.setenv("INTAKE_OFFICE_ONESHOT", "1")
    with pytest.raises(ConversionError, match="转换超时"):
        convert(several_in_one_file(), "docx", "doc", timeout=0.3)
    left = subprocess.run(["pgrep", "-f", "intake-convert-"], capture_output=True, text=True)
    assert left.stdout.strip() == "", left.stdout
