"""Lists of nominees and forms in the shapes real offices send: mixed kinds, combined name headers,
titles and notes around the table, formatted empty rows, forms laid out in a sheet, and the other
tables a form carries (family, résumé, training) whose names are never nominees."""

from __future__ import annotations

import io
from collections.abc import Callable

import openpyxl
import pytest
from docx import Document
from openpyxl.styles import Border, PatternFill, Side

from tests.conftest import one_message_dossiers, read_as_pipeline
from tests.servers import require

MIXED = [
    ("个人", "王喆", "某市市场监督管理局副局长", 1),
    ("个人", "李堃", "某县市场监督管理局城关所所长", 2),
    ("单位", "某某县市场监督管理局", "", 1),
    ("个人", "欧阳晓东", "某区市场监督管理局科长", 3),
    ("单位", "某某市某某区市场监督管理局城南市场监管所", "", 2),
]
EXPECTED_MIXED = [(("individual" if k == "个人" else "unit"), n, r) for k, n, _, r in MIXED]


def _xlsx(wb: openpyxl.Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _docx(doc) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _format_empty_rows(ws, first: int, count: int, cols: int = 8) -> None:  # type: ignore[no-untyped-def]
    thin = Side(style="thin")
    fill = PatternFill("solid", fgColor="FFF2CC")
    for r in range(first, first + count):
        for c in range(1, cols + 1):
            cell = ws.cell(row=r, column=c)
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.fill = fill


def mixed_list_xlsx() -> bytes:
    """Title merged over the table, a note row, a header broken over lines, formatted empty rows,
    then who filled it in and a note."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "汇总"
    ws.append(["附件"])
    ws.append(["某省推荐在推进非公党建工作中表现突出单位和个人汇总表"])
    ws.merge_cells("A2:H2")
    ws.append(["填报单位（盖章）：某省市场监督管理局", None, None, None, "填报日期：2017年4月25日"])
    ws.append(
        ["序号", "推荐\n类别", "被推荐人\n姓名/单位名称", "性别", "出生\n年月", "工作单位及职务", "推荐\n排序", "备注"]
    )
    for i, (kind, name, work, rank) in enumerate(MIXED, 1):
        ws.append([i, kind, name, "男" if kind == "个人" else None, None, work or None, rank, None])
    _format_empty_rows(ws, ws.max_row + 1, 300)
    ws.cell(row=ws.max_row + 1, column=1, value="填表人：张明")
    ws.cell(row=ws.max_row, column=5, value="联系电话：0571-88886666")
    ws.cell(row=ws.max_row + 1, column=1, value="注：推荐单位和个人超过分配名额的，请注明排序。")
    ws.sheet_view.view = "pageLayout"
    return _xlsx(wb)


def mixed_list_docx() -> bytes:
    """The same list as a Word table: a merged title row inside the table, notes under it."""
    doc = Document()
    doc.add_paragraph("附件")
    t = doc.add_table(rows=2 + len(MIXED) + 1, cols=5)
    t.rows[0].cells[0].merge(t.rows[0].cells[4]).text = "某省推荐表现突出单位和个人汇总表"
    for j, v in enumerate(["序号", "类型", "推荐对象", "工作单位及职务", "排序"]):
        t.rows[1].cells[j].text = v
    for i, (kind, name, work, rank) in enumerate(MIXED):
        for j, v in enumerate([str(i + 1), kind, name, work, str(rank)]):
            t.rows[2 + i].cells[j].text = v
    last = t.rows[-1]
    last.cells[0].merge(last.cells[4]).text = "注：排序按推荐先后填写。"
    doc.add_paragraph("填报人：张明　　　　联系电话：0571-88886666")
    doc.add_paragraph("2017年4月25日")
    return _docx(doc)


def list_without_kind_column() -> bytes:
    """One combined name column and no kind column: a unit's name says what it is."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["某省推荐名单"])
    ws.append(["序号", "姓名/单位名称", "工作单位及职务", "推荐排序"])
    for i, (_kind, name, work, rank) in enumerate(MIXED, 1):
        ws.append([i, name, work or None, rank])
    return _xlsx(wb)


def _form_rows(name: str, rank: int) -> list[list[str | None]]:
    return [
        ["在推进非公党建工作中表现突出个人推荐表"],
        [None],
        ["姓　名", name, "性别", "男", "出生年月\n（  岁）", "1978.05"],
        ["民族", "汉族", "政治面貌", "中共党员", "参加工作时间", "1998.07"],
        ["工作单位及职务", "某县市场监督管理局局长", None, None, "推荐排序", str(rank)],
        ["家庭主要成员及重要社会关系", "称谓", "姓名", "年龄", "政治面貌", "工作单位及职务"],
        [None, "妻子", "赵丽", "42", "群众", "某公司职员"],
        [None, "儿子", "王小明", "15", "共青团员", "某中学学生"],
        ["主要事迹", f"{name}同志负责非公党建工作，成绩突出。"],
        ["推荐单位意见", "同意推荐。（盖章）2017年4月20日"],
        ["组织部门或两新工委意见", "同意。（盖章）2017年4月21日"],
    ]


def forms_in_a_sheet() -> bytes:
    """Two forms laid out in one sheet, below 40 formatted empty rows and above 5,000."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "推荐表"
    _format_empty_rows(ws, 1, 40)
    row = 41
    for name, rank in (("钱文博", 1), ("孙雪梅", 2)):
        for values in _form_rows(name, rank):
            for c, v in enumerate(values, 1):
                ws.cell(row=row, column=c, value=v)
            row += 1
        row += 3
    _format_empty_rows(ws, row, 5000)
    return _xlsx(wb)


def form_with_family_tables() -> bytes:
    """A Word form whose own table carries a family block, followed by separate résumé and
    training tables and a seal block."""
    doc = Document()
    doc.add_paragraph("附件2")
    doc.add_paragraph("在推进非公党建工作中表现突出个人推荐表")
    rows = _form_rows("周海燕", 1)[2:]
    t = doc.add_table(rows=len(rows), cols=6)
    for i, values in enumerate(rows):
        for j, v in enumerate(values):
            if v is not None:
                t.rows[i].cells[j].text = v
    doc.add_paragraph("主要学习和工作简历")
    resume = doc.add_table(rows=3, cols=3)
    for i, values in enumerate(
        [
            ["起止时间", "工作单位", "职务"],
            ["1998.07-2005.03", "某县工商局", "科员"],
            ["2005.03-今", "某县市场监管局", "局长"],
        ]
    ):
        for j, v in enumerate(values):
            resume.rows[i].cells[j].text = v
    doc.add_paragraph("社会关系")
    family = doc.add_table(rows=3, cols=5)
    for i, values in enumerate(
        [
            ["称谓", "姓名", "年龄", "政治面貌", "工作单位及职务"],
            ["父亲", "周建华", "70", "中共党员", "退休"],
            ["母亲", "李玉兰", "68", "群众", "退休"],
        ]
    ):
        for j, v in enumerate(values):
            family.rows[i].cells[j].text = v
    training = doc.add_table(rows=2, cols=3)
    for i, values in enumerate([["时间", "培训内容", "培训单位"], ["2016.05", "非公党建业务培训", "省委党校"]]):
        for j, v in enumerate(values):
            training.rows[i].cells[j].text = v
    doc.add_paragraph("（盖章）　　　年　月　日")
    return _docx(doc)


# (builder, filename, expected role, [(kind, name, rank)])
GOLDEN: list[tuple[Callable[[], bytes], str, str, list[tuple[str, str, int | None]]]] = [
    (mixed_list_xlsx, "推荐汇总表.xlsx", "nominee_list", EXPECTED_MIXED),
    (mixed_list_docx, "推荐名单.docx", "nominee_list", EXPECTED_MIXED),
    (list_without_kind_column, "名单.xlsx", "nominee_list", EXPECTED_MIXED),
    (
        forms_in_a_sheet,
        "个人推荐表.xlsx",
        "individual_form",
        [("individual", "钱文博", 1), ("individual", "孙雪梅", 2)],
    ),
    (form_with_family_tables, "附件2.docx", "individual_form", [("individual", "周海燕", 1)]),
]


@pytest.mark.parametrize(("builder", "filename", "role", "expected"), GOLDEN, ids=[g[0].__name__ for g in GOLDEN])
def test_golden(builder: Callable[[], bytes], filename: str, role: str, expected: list[tuple]) -> None:  # type: ignore[type-arg]
    reading = read_as_pipeline(filename, "", builder())
    assert reading.status == "parsed", reading.detail
    assert reading.role == role
    assert [(r.kind, r.name, r.rank) for r in reading.records] == expected


def test_form_in_a_sheet_keeps_its_fields_not_the_familys() -> None:
    reading = read_as_pipeline("个人推荐表.xlsx", "", forms_in_a_sheet())
    first = reading.records[0]
    assert first.fields["workplace"] == "某县市场监督管理局局长"
    assert first.fields["political"] == "中共党员"
    assert {o.kind for o in first.opinions} == {"recommender", "organization"}
    names = {r.name for r in reading.records}
    assert not names & {"赵丽", "王小明", "称谓", "年龄"}


def test_list_columns_become_fields() -> None:
    reading = read_as_pipeline("推荐汇总表.xlsx", "", mixed_list_xlsx())
    first = reading.records[0]
    assert first.fields["workplace"] == "某市市场监督管理局副局长" and first.fields["sex"] == "男"
    assert all(r.source == "list" for r in reading.records)


def test_legacy_list_and_unit_form() -> None:
    """.xls and Word 97 files of every kind, through LibreOffice, as offices send them."""
    from intake.dev.samples import Unit, unit_form
    from intake.ingest.convert import convert, office_binary

    require(office_binary() is not None, "LibreOffice is not installed (libreoffice-writer-nogui, -calc-nogui)")
    xls = read_as_pipeline("推荐汇总表.xls", "", convert(mixed_list_xlsx(), "xlsx", "xls"))
    assert [(r.kind, r.name, r.rank) for r in xls.records] == EXPECTED_MIXED
    word = read_as_pipeline("推荐名单.doc", "", convert(mixed_list_docx(), "docx", "doc"))
    assert [(r.kind, r.name, r.rank) for r in word.records] == EXPECTED_MIXED
    units = [Unit("某某县市场监督管理局", "张三", 1), Unit("某某区市场监督管理局", "李四", 2)]
    doc = read_as_pipeline("附件3：单位推荐表.doc", "", convert(unit_form(units, "浙江省"), "docx", "doc"))
    assert doc.role == "unit_form", doc.detail
    assert [(r.kind, r.name, r.rank) for r in doc.records] == [
        ("unit", "某某县市场监督管理局", 1),
        ("unit", "某某区市场监督管理局", 2),
    ]


def test_form_flattened_into_paragraphs() -> None:
    """A form whose table became one line of text still gives its name, kind and rank."""
    doc = Document()
    doc.add_paragraph("在推进非公党建工作中表现突出单位推荐表")
    doc.add_paragraph("单位名称某某县市场监督管理局单位负责人张三推荐排序2联系人刘明联系电话0571-88881000")
    doc.add_paragraph("推荐单位意见同意推荐。（盖章）")
    reading = read_as_pipeline("附件3.docx", "", _docx(doc))
    assert [(r.kind, r.name, r.rank, r.source) for r in reading.records] == [
        ("unit", "某某县市场监督管理局", 2, "form")
    ]


def test_list_only_and_list_beside_forms() -> None:
    from intake.dev.samples import Person, individual_form

    only = [read_as_pipeline("推荐汇总表.xlsx", "", mixed_list_xlsx())]
    listed = one_message_dossiers(only)
    assert len(listed) == len(MIXED)
    assert {got.source for got, _ in listed.values()} == {"list"}
    assert {c for _, problems in listed.values() for c, _ in problems} == {"form_missing"}

    people = [Person("王喆", "男", "某市市场监督管理局副局长", 1), Person("赵强", "男", "某县市场监督管理局局长", 4)]
    beside = one_message_dossiers(
        [*only, read_as_pipeline("附件2：个人推荐表.docx", "", individual_form(people, "浙江省"))]
    )
    assert len(beside) == len(MIXED) + 1  # one nominee each: 王喆 is listed and has a form
    wang, wang_problems = beside["王喆"]
    assert wang_problems == [] and wang.source == "form"
    assert wang.fields["phone"]  # from the form
    assert [c for c, _ in beside["赵强"][1]] == ["not_listed"]
    assert [c for c, _ in beside["李堃"][1]] == ["form_missing"]


# --------------------------------------------------------------------------- labels by meaning


def _registration_book() -> bytes:
    """A 汇总登记表 as a school-style template heads it: 学生姓名, 联系人姓名 beside it."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2017年非公党建工作表现突出个人汇总登记表"])
    ws.append(["序号", "学生姓名", "性别", "工作单位及职务", "联系人姓名", "联系电话", "推荐排序"])
    ws.append([1, "王喆", "男", "某市市场监督管理局副局长", "刘敏", "0851-1234567", 1])
    ws.append([2, "李堃", "女", "某县市场监督管理局所长", "刘敏", "0851-1234567", 2])
    return _xlsx(wb)


def test_a_name_column_headed_x_name_is_the_name_column() -> None:
    r = read_as_pipeline("汇总登记表.xlsx", "", _registration_book())
    assert [(x.kind, x.name, x.rank) for x in r.records] == [("individual", "王喆", 1), ("individual", "李堃", 2)]
    assert r.records[0].fields["contact"] == "刘敏"


def test_an_excel_97_registration_book_with_x_name() -> None:
    from tests.jobs.test_poll import _office

    r = read_as_pipeline("汇总登记表.xls", "", _office(_registration_book(), "xlsx", "xls"))
    assert [x.name for x in r.records] == ["王喆", "李堃"]


def test_plain_name_wins_over_a_column_read_by_its_ending() -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["序号", "推荐人姓名", "姓名", "工作单位", "排序"])
    ws.append([1, "张局长", "王喆", "某市市场监督管理局", 1])
    r = read_as_pipeline("推荐汇总表.xlsx", "", _xlsx(wb))
    assert [x.name for x in r.records] == ["王喆"]


@pytest.mark.parametrize(
    ("label", "field"),
    [
        ("学生姓名", "name"),
        ("毕业生主要事迹", "deeds"),
        ("本人出生年月", "birth"),
        ("联系人姓名", "contact"),
        ("单位负责人姓名", "head"),
        ("填表人姓名", None),
        ("家长姓名", None),
        ("主\n要\n事\n迹", "deeds"),
        ("姓 名", "name"),
    ],
)
def test_labels_by_meaning(label: str, field: str | None) -> None:
    from parsers.labels import field_of

    assert field_of(label) == field


def test_a_form_whose_deeds_label_ends_with_the_field() -> None:
    doc = Document()
    doc.add_paragraph("个人推荐表")
    t = doc.add_table(rows=3, cols=4)
    for row, cells in zip(
        t.rows,
        [
            ["姓名", "王喆", "性别", "男"],
            ["工作单位及职务", "某市市场监督管理局副局长", "推荐排序", "1"],
            ["毕业生主要事迹", "长期从事非公党建工作。", "", ""],
        ],
        strict=True,
    ):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    r = read_as_pipeline("个人推荐表.docx", "", _docx(doc))
    (record,) = r.records
    assert record.fields["deeds"] == "长期从事非公党建工作。"
