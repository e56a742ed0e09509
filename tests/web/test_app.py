"""The console over a database filled by the pipeline: every route behind a session, CSRF on
every change, roles, headers, hostile mail shown as text, and people's changes on record and kept
across ``reprocess``."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from intake.core.errors import LoginRefused
from intake.core.settings import Settings, load_settings
from intake.dev.samples import Person, Submission, build_message, individual_form
from intake.office import users
from intake.web.app import create_app
from store.repo import Store
from tests.conftest import embedded_config, run_intake

PASSWORD = "correct horse 1"


def hostile_message() -> bytes:
    """A registered province's mail whose names, body and links try to run or load in a page."""
    m = EmailMessage()
    m["From"] = "fgdj-js@aic.example.cn"
    m["To"] = "gsfgdj@126.com"
    m["Subject"] = '江苏省推荐材料<script>alert("subject")</script>'
    m["Message-ID"] = "<hostile-1@aic.example.cn>"
    m["Date"] = "Thu, 20 Apr 2017 10:00:00 +0800"
    m.set_content("见附件")
    m.add_alternative(
        '<html><body><script>alert(1)</script><a href="javascript:alert(2)">点此</a>'
        '<img src="https://tracker.example.com/p.gif" onerror="alert(3)">正文</body></html>',
        subtype="html",
    )
    form = individual_form([Person("<img src=x onerror=alert(4)>", "男", "南京市市场监督管理局科长")], "江苏省")
    m.add_attachment(
        form,
        maintype="application",
        subtype="octet-stream",
        filename='<script>alert("file")</script>推荐表.docx',
    )
    return bytes(m)


def no_province_message() -> bytes:
    m = EmailMessage()
    m["From"] = "someone@aic.example.cn"
    m["To"] = "gsfgdj@126.com"
    m["Subject"] = "推荐材料"
    m["Message-ID"] = "<unknown-1@aic.example.cn>"
    m["Date"] = "Thu, 20 Apr 2017 11:00:00 +0800"
    m.set_content("见附件")
    m.add_attachment(
        individual_form([Person("无名氏", "男", "某市场监督管理局科长")], ""),
        maintype="application",
        subtype="octet-stream",
        filename="附件2：个人推荐表.docx",
    )
    return bytes(m)


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Path, Settings, Store]:
    rng = random.Random(3)
    folder = tmp_path / "mail"
    folder.mkdir()
    zj = Submission(
        "浙江省",
        "fgdj-zj@aic.example.cn",
        people=[Person("王吉", "男", "杭州市西湖区市场监督管理局科长", rank=1)],
        narrative_words=1700,
    )
    (folder / "1.eml").write_bytes(build_message(zj, rng))
    (folder / "2.eml").write_bytes(hostile_message())
    (folder / "3.eml").write_bytes(no_province_message())
    cfg = embedded_config(
        tmp_path,
        web={"secret_file": str(tmp_path / "secret")},
        provinces=[
            {"code": "js", "name": "江苏省", "individuals": 5, "units": 2, "senders": ["fgdj-js@aic.example.cn"]},
            {"code": "zj", "name": "浙江省", "individuals": 6, "units": 2, "senders": ["fgdj-zj@aic.example.cn"]},
        ],
    )
    done = run_intake("ingest", str(folder), config=cfg, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)
    users.add_user(store, "reviewer", "reviewer", PASSWORD)
    users.add_user(store, "viewer", "viewer", PASSWORD)
    return cfg, settings, store


class _Elements(HTMLParser):
    """Every element of a page that could run or load something."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        own = (tag == "link" and dict(attrs).get("href") == "/static/console.css") or (
            tag == "img" and re.match(r"/(messages|nominees)/\d+/", dict(attrs).get("src") or "")
        )  # a page of a document, the picture of a recognised cell
        if tag in ("script", "img", "iframe", "object", "embed", "link", "style") and not own:
            self.found.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith(("javascript:", "http:", "https:")):
                self.found.append(f"{tag} {name}={value}")


def _active_content(html: str) -> list[str]:
    parser = _Elements()
    parser.feed(html)
    return parser.found


def _login(client: TestClient, name: str, password: str = PASSWORD) -> str:
    client.get("/login")
    r = client.post("/login", data={"username": name, "password": password}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = client.get("/").text
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m
    return m.group(1)


def _ids(store: Store) -> dict[str, int]:
    with store.session() as repo:
        messages = repo.all_messages()
        nominee = repo.nominees()[0]
        return {
            "id": messages[0].id,
            "att": messages[0].attachments[0].id,
            "nominee": nominee.id,
            "flag": repo.all_flags()[0].id,
        }


def test_every_route_but_login_needs_a_session(deployment) -> None:  # type: ignore[no-untyped-def]
    _cfg, settings, store = deployment
    app = create_app(settings, store)
    ids = _ids(store)
    client = TestClient(app)
    checked = 0
    for route in app.routes:
        if isinstance(route, Mount) or route.path == "/login":
            continue
        assert isinstance(route, Route)
        path = route.path
        path = (
            path.replace("{code:str}", "zj")
            .replace("{name:str}", "审核名单.xlsx")
            .replace("{id:int}/attachments/{att:int}", f"{ids['id']}/attachments/{ids['att']}")
        )
        path = path.replace("/nominees/{id:int}", f"/nominees/{ids['nominee']}").replace(
            "/flags/{id:int}", f"/flags/{ids['flag']}"
        )
        path = path.replace("{id:int}", str(ids["id"])).replace("{page:int}", "1").replace("{index:int}", "0")
        for method in sorted(route.methods or []):
            if method == "HEAD":
                continue
            r = client.request(method, path, follow_redirects=False)
            assert r.status_code in (303, 401), (method, path, r.status_code)
            if r.status_code == 303:
                assert r.headers["location"].startswith("/login")
            checked += 1
    assert checked >= 14


def test_csrf_roles_headers_and_cookie(deployment) -> None:  # type: ignore[no-untyped-def]
    _cfg, settings, store = deployment
    ids = _ids(store)
    app = create_app(settings, store)
    reviewer = TestClient(app)
    reviewer.get("/login")
    r = reviewer.post("/login", data={"username": "reviewer", "password": PASSWORD}, follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    token = re.search(r'name="csrf" value="([^"]+)"', reviewer.get("/").text).group(1)  # type: ignore[union-attr]
    url = f"/nominees/{ids['nominee']}/corrections"
    body = {"field": "name", "value": "王喆", "reason": "识别有误"}
    assert reviewer.post(url, data=body, follow_redirects=False).status_code == 403
    assert reviewer.post(url, data={**body, "csrf": "forged"}, follow_redirects=False).status_code == 403
    assert reviewer.post(url, data={**body, "csrf": token}, follow_redirects=False).status_code == 303

    viewer = TestClient(app)
    vtoken = _login(viewer, "viewer")
    r = viewer.post(url, data={**body, "value": "张三", "csrf": vtoken}, follow_redirects=False)
    assert r.status_code == 403
    assert "保存更正" not in viewer.get(f"/nominees/{ids['nominee']}").text
    for path in (
        "/",
        "/nominees",
        f"/nominees/{ids['nominee']}",
        f"/messages/{ids['id']}",
        "/audit",
        "/provinces/zj",
        "/login",
    ):
        page = viewer.get(path)
        assert page.status_code == 200, path
        assert "default-src 'none'" in page.headers["content-security-policy"], path
        assert "<script" not in page.text.lower(), path
    with store.session() as repo:
        assert repo.nominee(ids["nominee"]).name == "王喆"  # type: ignore[union-attr]
        assert [e.actor for e in repo.audit() if e.action == "correct"] == ["reviewer"]


def test_hostile_mail_is_only_text(deployment) -> None:  # type: ignore[no-untyped-def]
    _cfg, settings, store = deployment
    with store.session() as repo:
        hostile = next(m for m in repo.all_messages() if m.message_id == "<hostile-1@aic.example.cn>")
        pk, att = hostile.id, hostile.attachments[0].id
        nominee = hostile.nominees[0].id
    client = TestClient(create_app(settings, store))
    _login(client, "viewer")
    for path in (f"/messages/{pk}", f"/nominees/{nominee}", "/nominees", "/provinces/js", "/"):
        assert _active_content(client.get(path).text) == [], path
    page = client.get(f"/messages/{pk}").text
    assert "&lt;script&gt;alert(&#34;file&#34;)&lt;/script&gt;推荐表.docx" in page
    download = client.get(f"/messages/{pk}/attachments/{att}")
    assert download.status_code == 200 and download.content[:2] == b"PK"
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in download.headers["content-security-policy"]
    # Ids, never paths: another message's attachment id under this message is not served.
    assert client.get(f"/messages/{pk + 100}/attachments/{att}").status_code == 404


def test_login_throttled_after_five_failures(deployment) -> None:  # type: ignore[no-untyped-def]
    _cfg, _settings, store = deployment
    now = datetime(2017, 4, 20, 8, 0, tzinfo=UTC)
    for _ in range(5):
        with pytest.raises(LoginRefused, match="用户名或密码不正确"):
            users.authenticate(store, "reviewer", "wrong", "10.0.0.9", now)
    with pytest.raises(LoginRefused, match="15分钟"):
        users.authenticate(store, "reviewer", PASSWORD, "127.0.0.1", now)  # the name waits
    assert users.authenticate(store, "viewer", PASSWORD, "127.0.0.2", now)  # others do not
    with pytest.raises(LoginRefused, match="15分钟"):
        users.authenticate(store, "viewer", PASSWORD, "10.0.0.9", now)  # the address waits
    later = datetime(2017, 4, 20, 8, 16, tzinfo=UTC)
    assert users.authenticate(store, "reviewer", PASSWORD, "127.0.0.1", later)


def test_people_work_survives_reprocess_and_shows_everywhere(deployment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, settings, store = deployment
    with store.session() as repo:
        zj = next(m for m in repo.all_messages() if m.province_code == "zj")
        nominee = zj.nominees[0].id
        unknown = next(m for m in repo.all_messages() if m.message_id == "<unknown-1@aic.example.cn>")
        assert unknown.classification == "submission" and unknown.province_code is None
        assert unknown.receipt.state == "suppressed"  # type: ignore[union-attr]
        too_long = next(f for f in repo.all_flags() if f.code == "narrative_too_long")
        flag_id, unknown_id = too_long.id, unknown.id
    client = TestClient(create_app(settings, store))
    token = _login(client, "reviewer")
    r = client.post(
        f"/nominees/{nominee}/corrections",
        data={"field": "name", "value": "王喆", "reason": "推荐表姓名识别有误", "csrf": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(
        f"/flags/{flag_id}/check",
        data={"note": "已电话确认，按1500字以内报送纸质稿", "back": "/", "csrf": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    r = client.post(
        f"/messages/{unknown_id}/province",
        data={"province": "js", "reason": "江苏省来电确认", "csrf": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert run_intake("reprocess", config=cfg, cwd=tmp_path).returncode == 0
    assert run_intake("poll", config=cfg, cwd=tmp_path).returncode == 0

    export = json.loads(run_intake("export", "--format", "json", config=cfg, cwd=tmp_path).stdout)
    corrected = next(n for n in export["nominees"] if n["id"] == nominee)
    assert corrected["name"] == "王喆"
    assert corrected["corrections"][0]["from"] == "王吉" and corrected["corrections"][0]["by"] == "reviewer"
    moved = next(m for m in export["messages"] if m["id"] == unknown_id)
    assert moved["province"] == "js" and moved["receipt"]["state"] == "sent"
    # The receipt as it was sent, on the message's page.
    assert "三、需要处理的问题" in client.get(f"/messages/{unknown_id}").text
    summary = run_intake("summary", "--date", "2017-04-21", config=cfg, cwd=tmp_path)
    board = client.get("/").text
    assert "王喆" in client.get("/provinces/zj").text and "王吉" not in client.get("/provinces/zj").text
    audit = client.get("/audit").text
    assert "王吉 → 王喆" in audit and "已电话确认" in audit and "江苏省来电确认" in audit
    with store.session() as repo:
        # The check holds across the reprocess: the flag is there, and checked.
        from intake.core.keys import flag_key

        flags = [f for f in repo.all_flags() if f.code == "narrative_too_long"]
        keys = repo.flag_checks()
        assert flags and all(
            flag_key(f.scope, f.code, f.message_pk, f.nominee_id, f.province_code) in keys for f in flags
        )
    assert "事迹材料超长" not in summary.stdout
    assert "已核实" in client.get(f"/nominees/{nominee}").text
    assert board.count("浙江省") >= 1


def test_cli_user_add_and_correct(deployment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, _settings, store = deployment
    from tests.conftest import cli_env

    env = cli_env(NEW_PW="another secret 2")
    added = run_intake("user", "add", "李审核", "--role", "reviewer", "--password-env", "NEW_PW", config=cfg, env=env)
    assert added.returncode == 0, added.stderr
    assert users.authenticate(store, "李审核", "another secret 2", "127.0.0.1", datetime.now(UTC))
    short = run_intake("user", "add", "x", "--role", "viewer", "--password-env", "EMPTY_PW", config=cfg)
    assert short.returncode != 0 and "EMPTY_PW" in short.stderr and "Traceback" not in short.stderr
    with store.session() as repo:
        nominee = next(n for n in repo.nominees() if n.province_code == "zj").id
    done = run_intake("correct", str(nominee), "rank=2", "phone=0571-1234", "--reason", "来电更正", config=cfg)
    assert done.returncode == 0, done.stderr
    assert "推荐排序：1 → 2" in done.stdout
    bad = run_intake("correct", str(nominee), "salary=1", "--reason", "x", config=cfg)
    assert bad.returncode != 0 and "salary" in bad.stderr and "Traceback" not in bad.stderr
    assert run_intake("reprocess", config=cfg, cwd=tmp_path).returncode == 0
    export = json.loads(run_intake("export", "--format", "json", config=cfg).stdout)
    n = next(x for x in export["nominees"] if x["id"] == nominee)
    assert n["rank"] == 2 and n["fields"]["phone"] == "0571-1234"
    assert [c["field"] for c in n["corrections"]] == ["rank", "phone"]


def test_review_states_on_record_counted_and_kept(deployment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg, settings, store = deployment
    with store.session() as repo:
        zj = next(n for n in repo.nominees() if n.province_code == "zj").id
    client = TestClient(create_app(settings, store))
    token = _login(client, "reviewer")
    refused = client.post(f"/nominees/{zj}/review", data={"state": "rejected", "reason": "", "csrf": token})
    assert refused.status_code == 400 and "理由" in refused.text
    done = client.post(
        f"/nominees/{zj}/review",
        data={"state": "withdrawn", "reason": "本人申请撤回", "csrf": token},
        follow_redirects=False,
    )
    assert done.status_code == 303

    def export() -> dict[str, Any]:
        return json.loads(run_intake("export", "--format", "json", config=cfg, cwd=tmp_path).stdout)

    after = export()
    assert next(n for n in after["nominees"] if n["id"] == zj)["review"] == {
        "state": "withdrawn",
        "reason": "本人申请撤回",
    }
    # 已撤回 leaves the quota count, everywhere.
    assert next(p for p in after["provinces"] if p["code"] == "zj")["received"]["individuals"] == 0
    assert "0/6" in client.get("/").text.split("浙江省", 1)[1][:200]

    # The province at once: within quota by rank; the withdrawn one keeps its state.
    bulk = run_intake("review", "--province", "js", "--reason", "领导小组初审", config=cfg, cwd=tmp_path)
    assert bulk.returncode == 0, bulk.stderr
    assert run_intake("reprocess", config=cfg, cwd=tmp_path).returncode == 0
    again = export()
    states = {n["id"]: n["review"]["state"] for n in again["nominees"] if n["current"]}
    assert states[zj] == "withdrawn"
    assert {s for pk, s in states.items() if pk != zj} <= {"approved", "pending"}
    assert "approved" in states.values()
    page = client.get(f"/nominees/{zj}").text
    assert "已撤回" in page and "本人申请撤回" in page
    assert client.get("/nominees?state=withdrawn").text.count(f'href="/nominees/{zj}"') == 1


def test_a_failed_receipt_is_acknowledged_in_the_outbox(deployment) -> None:  # type: ignore[no-untyped-def]
    """What `intake status` reports as failed until a person has seen it: acknowledged from the
    outbox page with a note, by a reviewer only, and on record."""
    from intake.ops.status import read_status

    _cfg, settings, store = deployment
    with store.session() as repo:
        [receipt] = repo.receipts_in(["sent"])[:1]
        receipt.state, receipt.last_error = "failed", "550 5.1.1 收件人不存在"
        rid = receipt.id
    assert any(f"receipt {rid}" in u for u in read_status(store, settings, datetime.now(UTC)).unacknowledged)
    app = create_app(settings, store)
    viewer = TestClient(app)
    vtoken = _login(viewer, "viewer")
    assert "已知悉" not in viewer.get("/outbox").text  # the button is not offered to a viewer
    refused = viewer.post(f"/failures/receipt/{rid}", data={"note": "x", "csrf": vtoken}, follow_redirects=False)
    assert refused.status_code == 403
    reviewer = TestClient(app)
    token = _login(reviewer, "reviewer")
    page = reviewer.get("/outbox").text
    assert "550 5.1.1 收件人不存在" in page and f'action="/failures/receipt/{rid}"' in page
    forged = reviewer.post(f"/failures/receipt/{rid}", data={"note": "已电话告知", "csrf": "x"}, follow_redirects=False)
    assert forged.status_code == 403
    done = reviewer.post(f"/failures/receipt/{rid}", data={"note": "已电话告知", "csrf": token}, follow_redirects=False)
    assert done.status_code == 303
    assert "（已知悉）" in reviewer.get("/outbox").text
    assert not read_status(store, settings, datetime.now(UTC)).unacknowledged
    assert "已电话告知" in reviewer.get("/audit").text
