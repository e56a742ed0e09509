"""intake/office/nominees.py: a person's decisions about nominees on record and kept across every
rebuild: a material moved to its nominee, two records of one person merged (the other id an
alias every command and page still accepts, its corrections and review with it)."""

from __future__ import annotations

import json
import random
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from starlette.testclient import TestClient

from intake.core.settings import load_settings
from intake.dev.samples import Person, individual_form, narrative_doc
from intake.office import users
from intake.web.app import create_app
from store.repo import Correction, Nominee, Review, Store
from tests.conftest import embedded_config, run_intake

PROVINCES = [{"code": "gz", "name": "贵州省", "individuals": 6, "units": 2, "senders": ["fgdj-gz@aic.example.cn"]}]


def _mail(subject: str, files: list[tuple[str, bytes]]) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "fgdj-gz@aic.example.cn", "gsfgdj@126.com", subject
    m["Message-ID"] = make_msgid(domain="aic.example.cn")
    m.set_content("见附件。")
    for name, data in files:
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return bytes(m)


def _deployment(tmp_path: Path) -> Path:
    rng = random.Random(5)
    folder = tmp_path / "mail"
    folder.mkdir()
    people = [Person("吴杰", "男", "贵阳市市场监督管理局科长"), Person("曹志强", "男", "遵义市市场监督管理局所长")]
    (folder / "1.eml").write_bytes(_mail("贵州省推荐材料", [("推荐表.docx", individual_form(people, "贵州省"))]))
    # A narrative naming nobody (its file and heading say only 事迹材料), in a mail of its own.
    text = narrative_doc("某某", 900, rng)
    (folder / "2.eml").write_bytes(_mail("贵州省补报材料", [("事迹材料.docx", text)]))
    cfg = embedded_config(tmp_path, provinces=PROVINCES)
    assert run_intake("ingest", str(folder), config=cfg, cwd=tmp_path).returncode == 0
    return cfg


def test_a_material_that_joined_nobody_is_moved_to_its_nominee_and_stays(tmp_path: Path) -> None:
    cfg = _deployment(tmp_path)
    settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)
    users.add_user(store, "审核员", "reviewer", "secret-123456")
    client = TestClient(create_app(settings, store))
    login = client.post("/login", data={"username": "审核员", "password": "secret-123456"}, follow_redirects=False)
    assert login.status_code == 303
    page = client.get("/provinces/gz").text
    assert "未能对应到推荐对象的材料" in page and "事迹材料.docx" in page
    export = json.loads(run_intake("export", config=cfg, cwd=tmp_path).stdout)
    wu = next(n for n in export["nominees"] if n["name"] == "吴杰")
    supplement = next(m for m in export["messages"] if m["subject"] == "贵州省补报材料")
    assert "narrative_unmatched" in supplement["flags"] and "narrative_missing" in wu["flags"]
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]  # the form's token, on the page
    done = client.post(
        "/materials/move",
        data={
            "csrf": csrf,
            "message": supplement["id"],
            "position": 0,
            "to": wu["id"],
            "reason": "电话确认为吴杰的事迹",
            "back": "/provinces/gz",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    for _ in range(2):  # the move stands, and stands again after a reprocess
        export = json.loads(run_intake("export", config=cfg, cwd=tmp_path).stdout)
        wu = next(n for n in export["nominees"] if n["name"] == "吴杰")
        assert "narrative_missing" not in wu["flags"] and [x["kind"] for x in wu["dossier"]] == ["form", "narrative"]
        assert (
            "narrative_unmatched"
            not in next(m for m in export["messages"] if m["subject"] == "贵州省补报材料")["flags"]
        )
        assert run_intake("reprocess", config=cfg, cwd=tmp_path).returncode == 0
    assert "电话确认为吴杰的事迹" in client.get("/audit").text
    assert "事迹材料.docx" in client.get(f"/nominees/{wu['id']}").text


def test_two_records_of_one_person_merge_into_the_first_and_the_other_id_stays_an_alias(tmp_path: Path) -> None:
    """A database from before dossiers holds one row per mail and person: the rebuild keeps the
    first, and the other's corrections and review go with it; its id is still accepted."""
    cfg = _deployment(tmp_path)
    settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)
    with store.session() as repo:
        wu = next(n for n in repo.nominees() if n.name == "吴杰")
        second = Nominee(message_pk=wu.message_pk, kind="individual", name="吴 杰", province_code="gz", info={})
        repo.add(second)
        repo.flush()
        repo.add(
            Correction(
                nominee_id=second.id,
                nominee_name="吴 杰",
                field="phone",
                old_value="",
                new_value="13800000000",
                by="张三",
                reason="来电",
            )
        )
        repo.add(Review(nominee_id=second.id, nominee_name="吴 杰", state="approved", reason="", by="张三"))
        first_id, alias = wu.id, second.id
    assert run_intake("reprocess", config=cfg, cwd=tmp_path).returncode == 0
    export = json.loads(run_intake("export", config=cfg, cwd=tmp_path).stdout)
    (merged,) = [n for n in export["nominees"] if n["name"] == "吴杰"]
    assert merged["id"] == first_id and merged["review"]["state"] == "approved"
    assert merged["fields"]["phone"] == "13800000000" and merged["corrections"][0]["to"] == "13800000000"
    # The old id, on the command line and in the console.
    done = run_intake("correct", str(alias), "post=科长", "--reason", "核实", config=cfg, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    export = json.loads(run_intake("export", config=cfg, cwd=tmp_path).stdout)
    assert next(n for n in export["nominees"] if n["id"] == first_id)["fields"]["post"] == "科长"
    users.add_user(store, "查看员", "viewer", "secret-123456")
    client = TestClient(create_app(settings, store))
    client.post("/login", data={"username": "查看员", "password": "secret-123456"})
    assert "吴杰" in client.get(f"/nominees/{alias}").text


def test_accepting_by_rank_refuses_a_province_that_gave_no_ranking(tmp_path: Path) -> None:
    """Two unranked nominees for one place: reading order is no ranking, so 审定 by rank refuses
    and changes nothing; within the quota, no ranking is needed and the reason says so."""
    from intake.core.errors import ActionError
    from intake.office.nominees import review_province

    cfg = _deployment(tmp_path)
    settings = load_settings(cfg)
    tight = settings.model_copy(
        update={"provinces": tuple(p.model_copy(update={"individuals": 1}) for p in settings.provinces)}
    )
    store = Store(settings.database.url, settings.archive.path)
    try:
        review_province(store, tight, "gz", by="测试")
    except ActionError as exc:
        assert "未排序" in str(exc) and "吴杰" in str(exc) and "曹志强" in str(exc), exc
    else:
        raise AssertionError("accepted by rank without a ranking")
    with store.session() as repo:
        assert repo.review_states() == {}  # nothing changed
    accepted = run_intake("review", "--province", "gz", config=cfg, cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stderr  # 6 places for 2: no ranking needed
    with store.session() as repo:
        reasons = {r.state: r.reason for r in repo.review_states().values()}
    assert reasons == {"approved": "未超出名额，予以通过"}
