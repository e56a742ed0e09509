"""Scans through the real servers: a stamped 推荐表 scanned and mailed beside a Word form. Its
nominee is read by text recognition and waits for a person: flagged read_by_ocr (message and
nominee), its fields listed in the export with their confidence, shown in the console beside the
picture of their cells, left out of 公示 and 通报 until `intake confirm`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from docx import Document
from starlette.testclient import TestClient

from intake.core.settings import load_settings
from intake.dev.samples import Person, individual_form
from intake.office import nominees, users
from intake.web.app import create_app
from store.repo import Store
from tests.campaign.test_rebuild import DEPT, Campaign, _mail
from tests.makers import opinion_cells, red_seal, rendered_pages, scanned
from tests.servers import Dovecot


def test_a_scanned_form_waits_for_a_person(dovecot: Dovecot, smtp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.parsers.test_scans import _need_office

    _need_office()
    c = Campaign(dovecot, smtp, tmp_path)
    scanned_person = Person("杨海燕", "女", f"贵阳市{DEPT}所长", rank=2, birth="1983.09")
    (page,) = rendered_pages(individual_form([scanned_person], "贵州省"))[:1]
    for centre in opinion_cells(page):
        page = red_seal(page, centre)
    typed = individual_form([Person("吴杰", "男", f"贵阳市南明区{DEPT}科长", rank=1)], "贵州省")
    c.arrive(
        _mail(
            "gz",
            "贵州省推荐材料",
            [("附件2：个人推荐表.docx", typed), ("杨海燕推荐表（盖章扫描件）.jpg", scanned(page, -2.5, 11))],
        )
    )
    export = c.export()
    scan = c.nominee("杨海燕")
    assert (scan["fields"]["sex"], scan["fields"]["birth"], scan["rank"]) == ("女", "1983.09", 2)
    assert "read_by_ocr" in scan["flags"] and "seal_missing" not in scan["flags"]
    assert {f["field"] for f in scan["ocr_fields"]} >= {"name", "sex", "birth"}
    assert all(0 < f["confidence"] <= 1 for f in scan["ocr_fields"])
    assert c.nominee("吴杰")["ocr_fields"] == [] and "read_by_ocr" not in c.nominee("吴杰")["flags"]
    (message,) = export["messages"]
    assert "read_by_ocr" in message["flags"] and "scan_only" not in message["flags"]
    receipt = c.receipt("贵州省推荐材料")
    assert "杨海燕推荐表（盖章扫描件）.jpg：个人推荐表，已识别（图片：已用文字识别读出，待人工核对）" in receipt
    assert "扫描件文字识别" in receipt.split("四、其他情况")[1]

    # The console shows each recognised field beside the picture of its cell.
    settings = load_settings(c.cfg)
    store = Store(settings.database.url, settings.archive.path)
    users.add_user(store, "reviewer", "reviewer", "a long enough password")
    client = TestClient(create_app(settings, store))
    client.get("/login")
    client.post("/login", data={"username": "reviewer", "password": "a long enough password"})
    html = client.get(f"/nominees/{scan['id']}").text
    crops = re.findall(rf'src="(/nominees/{scan["id"]}/ocr/\d+)"', html)
    assert len(crops) >= 3 and "确认无误" in html
    picture = client.get(crops[0])
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    assert client.get(f"/nominees/{scan['id']}/ocr/999").status_code == 404

    # Held from the documents until a person confirms; confirmed, on record, and in.
    nominees.review_province(store, settings, "gz", by="测试")
    out = c.intake("documents", "--out", str(tmp_path / "docs"))
    assert "未列入公示名单和通报表扬：贵州省 杨海燕" in out and "扫描件文字识别" in out
    text = "\n".join(p.text for p in Document(str(tmp_path / "docs" / "公示名单.docx")).paragraphs)
    assert "吴杰" in text and "杨海燕" not in text
    done = c.intake("confirm", str(scan["id"]), "--reason", "已对照扫描件核对")
    assert "扫描件文字识别" in done
    assert c.nominee("杨海燕")["ocr_fields"] == []
    c.intake("documents", "--out", str(tmp_path / "docs"))
    text = "\n".join(p.text for p in Document(str(tmp_path / "docs" / "公示名单.docx")).paragraphs)
    assert "杨海燕" in text

    # Reprocess reads the scan again, the same way; the confirmation stands.
    before = json.dumps(c.nominee("杨海燕")["fields"], ensure_ascii=False, sort_keys=True)
    c.intake("reprocess")
    again = c.nominee("杨海燕")
    assert json.dumps(again["fields"], ensure_ascii=False, sort_keys=True) == before
    assert again["ocr_fields"] == []
