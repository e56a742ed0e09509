"""催报 and 退回 from the console: provinces chosen (all that owe something at first), each letter
read before it goes, all sent at once in the name of the person who sent them; drafts approved
together; a second 催报 the same day is not made."""

from __future__ import annotations

import random
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from intake.core.settings import Settings, load_settings
from intake.dev.samples import Person, Submission, build_message, individual_form
from intake.office import users
from intake.office.letters import queue_return
from intake.web.app import create_app
from store.repo import Store
from tests.conftest import embedded_config, run_intake

PASSWORD = "correct horse 1"
PROVINCES = [
    {"code": "bj", "name": "北京市", "individuals": 6, "units": 2, "senders": ["fgdj-bj@aic.example.cn"]},
    {"code": "zj", "name": "浙江省", "individuals": 6, "units": 2, "senders": ["fgdj-zj@aic.example.cn"]},
    {"code": "gz", "name": "贵州省", "individuals": 6, "units": 2, "senders": ["fgdj-gz@aic.example.cn"]},
]


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Settings, Store]:
    rng = random.Random(8)
    folder = tmp_path / "mail"
    folder.mkdir()
    complete = Submission(
        "北京市", "fgdj-bj@aic.example.cn", people=[Person("张伟", "男", "北京市海淀区市场监督管理局科长")]
    )
    # 浙江省 sends its form and no narrative.
    lacking = EmailMessage()
    lacking["From"], lacking["To"], lacking["Subject"] = "fgdj-zj@aic.example.cn", "gsfgdj@126.com", "浙江省推荐材料"
    lacking["Message-ID"] = "<zj-1@aic.example.cn>"
    lacking.set_content("见附件。")
    form = individual_form([Person("周杰", "男", "杭州市市场监督管理局科长")], "浙江省")
    lacking.add_attachment(form, maintype="application", subtype="octet-stream", filename="推荐表.docx")
    (folder / "1.eml").write_bytes(build_message(complete, rng))
    (folder / "2.eml").write_bytes(bytes(lacking))
    cfg = embedded_config(tmp_path, web={"secret_file": str(tmp_path / "secret")}, provinces=PROVINCES)
    assert run_intake("ingest", str(folder), config=cfg, cwd=tmp_path).returncode == 0
    settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)
    users.add_user(store, "张明", "reviewer", PASSWORD)
    users.add_user(store, "viewer", "viewer", PASSWORD)
    return settings, store


def _login(client: TestClient, name: str) -> str:
    client.get("/login")
    assert (
        client.post("/login", data={"username": name, "password": PASSWORD}, follow_redirects=False).status_code == 303
    )
    m = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text)
    assert m
    return m.group(1)


def test_remind_chosen_provinces_from_the_console(deployment) -> None:  # type: ignore[no-untyped-def]
    settings, store = deployment
    client = TestClient(create_app(settings, store))
    token = _login(client, "张明")
    page = client.get("/remind").text
    # 浙江省 lacks a narrative and 贵州省 sent nothing: both offered, both chosen; 北京市 owes nothing.
    assert 'value="zj" checked' in page and 'value="gz" checked' in page and 'value="bj"' not in page
    assert "尚未报送任何材料" in page and "周杰" in page

    preview = client.post("/remind/preview", data={"csrf": token, "province": ["zj", "gz"]})
    assert preview.status_code == 200
    assert preview.text.count('<section class="draft">') == 2
    assert "fgdj-zj@aic.example.cn" in preview.text and "周杰" in preview.text
    with store.session() as repo:
        assert repo.outgoing_mail(kinds=["reminder"]) == []  # a preview makes nothing

    sent = client.post("/remind/send", data={"csrf": token, "province": ["zj", "gz"]})
    assert sent.status_code == 200 and "已发出催报：浙江省" in sent.text and "已发出催报：贵州省" in sent.text
    with store.session() as repo:
        made = repo.outgoing_mail(kinds=["reminder"])
        assert sorted(m.to_addr for m in made) == ["fgdj-gz@aic.example.cn", "fgdj-zj@aic.example.cn"]
        assert {m.state for m in made} == {"queued"} and {m.created_by for m in made} == {"张明"}
        assert any(e.actor == "张明" and e.action == "remind" for e in repo.audit())
    # Once a day: asked again, nothing new is made.
    again = client.post("/remind/send", data={"csrf": token, "province": ["zj"]})
    assert "没有新的催报" in again.text
    with store.session() as repo:
        assert len(repo.outgoing_mail(kinds=["reminder"])) == 2
    # Forged choices are dropped; a viewer may not remind.
    bad = client.post("/remind/preview", data={"csrf": token, "province": ["<script>", "xx"]})
    assert bad.status_code == 400
    viewer = TestClient(create_app(settings, store))
    vtoken = _login(viewer, "viewer")
    assert viewer.get("/remind").status_code == 403
    assert viewer.post("/remind/send", data={"csrf": vtoken, "province": ["zj"]}).status_code == 403


def test_drafts_approved_all_at_once(deployment) -> None:  # type: ignore[no-untyped-def]
    settings, store = deployment
    with store.session() as repo:
        ids = [m.id for m in repo.all_messages()]
    drafts = [queue_return(store, settings, pk, reason="请补充事迹材料", by="系统") for pk in ids]
    client = TestClient(create_app(settings, store))
    token = _login(client, "张明")
    page = client.get("/outbox").text
    assert "以下 2 封草稿全部审定发送" in page
    done = client.post("/outbox/approve", data={"csrf": token, "id": [str(d) for d in drafts]})
    assert done.status_code == 200 and done.text.count("已审定发送") == 2
    with store.session() as repo:
        mails = [repo.outgoing(d) for d in drafts]
        assert {m.state for m in mails} == {"queued"} and {m.created_by for m in mails} == {"张明"}  # type: ignore[union-attr]
        assert [e.actor for e in repo.audit() if e.action == "outbox_send"] == ["张明", "张明"]
    # Nothing left to approve: said so, nothing changed.
    again = client.post("/outbox/approve", data={"csrf": token, "id": [str(d) for d in drafts]})
    assert again.status_code == 400 and "没有待审草稿" in again.text
