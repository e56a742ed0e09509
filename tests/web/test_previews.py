"""Pictures of mailed documents, made in a pool of their own: while a conversion is held up (here,
held at a gate in front of the real LibreOffice), every other page is served, the nominee's own
page too; a document that cannot be shown is tried once, and remembered by its content hash."""

from __future__ import annotations

import io
import random
import re
import threading
import zipfile
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from intake.core.settings import Settings, load_settings
from intake.dev.samples import Person, Submission, build_message, individual_form
from intake.ingest.convert import office_binary
from intake.office import users
from intake.web import previews
from intake.web.app import create_app
from store.repo import Store
from tests.conftest import embedded_config, run_intake
from tests.servers import require

PASSWORD = "correct horse 1"


def _broken_docx() -> bytes:
    """A Word file whose document part is no XML: a .docx by its parts, opened by no LibreOffice."""
    form = individual_form([Person("李四", "男", "南京市市场监督管理局科长")], "江苏省")
    source, out = zipfile.ZipFile(io.BytesIO(form)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for item in source.infolist():
            broken = item.filename == "word/document.xml"
            z.writestr(item, b"\x00\xff<w:document" * 50 if broken else source.read(item))
    return out.getvalue()


@pytest.fixture
def deployment(tmp_path: Path) -> tuple[Settings, Store]:
    rng = random.Random(4)
    folder = tmp_path / "mail"
    folder.mkdir()
    zj = Submission("浙江省", "fgdj-zj@aic.example.cn", people=[Person("王吉", "男", "杭州市西湖区市场监督管理局科长")])
    (folder / "1.eml").write_bytes(build_message(zj, rng))
    damaged = EmailMessage()
    damaged["From"], damaged["To"], damaged["Subject"] = "fgdj-js@aic.example.cn", "gsfgdj@126.com", "江苏省推荐材料"
    damaged["Message-ID"] = "<js-damaged@aic.example.cn>"
    damaged.set_content("见附件。")
    damaged.add_attachment(_broken_docx(), maintype="application", subtype="octet-stream", filename="推荐表.docx")
    (folder / "2.eml").write_bytes(bytes(damaged))
    cfg = embedded_config(
        tmp_path,
        web={"secret_file": str(tmp_path / "secret")},
        provinces=[
            {"code": "js", "name": "江苏省", "individuals": 5, "units": 2, "senders": ["fgdj-js@aic.example.cn"]},
            {"code": "zj", "name": "浙江省", "individuals": 6, "units": 2, "senders": ["fgdj-zj@aic.example.cn"]},
        ],
    )
    assert run_intake("ingest", str(folder), config=cfg, cwd=tmp_path).returncode == 0
    settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)
    users.add_user(store, "viewer", "viewer", PASSWORD)
    return settings, store


class Gate:
    """The real conversion, held until the test opens the gate; each call counted by document."""

    def __init__(self, real: Any) -> None:
        self.real, self.open, self.calls = real, threading.Event(), 0

    def __call__(self, payload: bytes, *args: Any, **kwargs: Any) -> bytes:
        self.calls += 1
        assert self.open.wait(600), "the gate was never opened"
        return self.real(payload, *args, **kwargs)  # type: ignore[no-any-return]


def test_a_held_up_preview_slows_no_other_page(deployment, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    require(office_binary() is not None, "LibreOffice is not installed")
    settings, store = deployment
    gate = Gate(previews.convert)
    monkeypatch.setattr(previews, "convert", gate)
    with store.session() as repo:
        zj = next(m for m in repo.all_messages() if m.province_code == "zj")
        js = next(m for m in repo.all_messages() if m.province_code == "js")
        form = next(a for a in zj.attachments if a.filename.endswith("个人推荐表.docx"))
        nominee = zj.nominees[0].id
        zj_pk, js_pk, form_id, broken_id = zj.id, js.id, form.id, js.attachments[0].id
        broken_type = js.attachments[0].type

    with TestClient(create_app(settings, store)) as client:
        client.get("/login")
        client.post("/login", data={"username": "viewer", "password": PASSWORD})
        # The nominee's page does not wait for its pictures: it links the first page and starts them.
        page = client.get(f"/nominees/{nominee}")
        assert page.status_code == 200
        links = re.findall(r'src="(/messages/\d+/attachments/\d+/pages/\d+)"', page.text)
        assert links == [f"/messages/{zj_pk}/attachments/{form_id}/pages/1"], links

        picture: dict[str, Any] = {}
        waiting = threading.Thread(target=lambda: picture.update(r=client.get(links[0])))
        waiting.start()
        for _ in range(3):  # every other page, while the picture waits at the gate
            for path in (
                "/",
                "/nominees",
                f"/messages/{zj_pk}",
                f"/messages/{js_pk}",
                f"/nominees/{nominee}",
                "/audit",
            ):
                assert client.get(path).status_code == 200, path
        assert waiting.is_alive() and "r" not in picture  # still held: nothing above waited for it
        assert gate.calls == 1  # the second view of the nominee joined the conversion under way

        gate.open.set()
        waiting.join(600)
        assert picture["r"].status_code == 200 and picture["r"].content.startswith(b"\x89PNG")
        again = client.get(f"/nominees/{nominee}").text  # now made: every page is linked
        assert f"/messages/{zj_pk}/attachments/{form_id}/pages/1" in again

        # A damaged document: tried once, its failure remembered by content hash.
        assert broken_type == "docx"
        broken = f"/messages/{js_pk}/attachments/{broken_id}/pages/1"
        assert client.get(broken).status_code == 404
        calls = gate.calls
        assert client.get(broken).status_code == 404 and gate.calls == calls
        sha = next(a.sha256 for a in js.attachments)
        assert previews.cached(settings.archive.path, sha)[1].exists()
