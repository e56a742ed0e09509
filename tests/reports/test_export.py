"""``intake export``: everything known about a nominee, and ids that survive ``reprocess``."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from intake.dev.samples import Person, Submission, Unit, build_message
from tests.conftest import embedded_config, run_intake


def test_export_carries_every_field_and_ids_survive_reprocess(tmp_path: Path) -> None:
    rng = random.Random(5)
    sub = Submission(
        "浙江省",
        "fgdj-zj@aic.example.cn",
        people=[Person("王喆", "男", "杭州市西湖区市场监督管理局科长", rank=1)],
        units=[Unit("杭州市西湖区市场监督管理局", "李堃", rank=1)],
    )
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "1.eml").write_bytes(build_message(sub, rng, with_list=True))
    cfg = embedded_config(
        tmp_path,
    )

    def intake(*args: str) -> str:
        proc = run_intake(*args, config=cfg, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    intake("ingest", str(folder))
    first = json.loads(intake("export", "--format", "json"))
    person = next(n for n in first["nominees"] if n["kind"] == "individual")
    assert person["source"] == "form"
    fields = person["fields"]
    assert fields["sex"] == "男" and fields["birth"] == "1978.05" and fields["ethnicity"] == "汉族"
    assert fields["political"] == "中共党员" and fields["workplace"] == "杭州市西湖区市场监督管理局科长"
    assert fields["phone"].startswith("010-") and "王喆同志" in fields["deeds"]
    assert {o["kind"] for o in fields["opinions"]} == {"recommender", "organization"}
    assert all(o["text"] for o in fields["opinions"])
    assert person["files"] == ["附件2：个人推荐表.docx", "王喆事迹材料.docx", "推荐汇总表.xlsx"]
    assert [(x["kind"], x["file"]) for x in person["dossier"]] == [
        ("form", "附件2：个人推荐表.docx"),
        ("narrative", "王喆事迹材料.docx"),
        ("list_row", "推荐汇总表.xlsx"),
    ]
    assert isinstance(person["id"], int) and person["message"] == first["messages"][0]["id"]
    unit = next(n for n in first["nominees"] if n["kind"] == "unit")
    assert unit["fields"]["head"] == "李堃" and unit["source"] == "form"

    intake("reprocess")
    again = json.loads(intake("export", "--format", "json"))
    assert again == first


def test_reprocess_records_again_only_what_would_change(tmp_path: Path) -> None:
    """An unchanged message read again to the same result keeps its rows as they are (reprocess of
    an unchanged archive writes nothing but the time it was read); a change in the settings it is
    checked against records it again."""
    import sqlite3

    folder = tmp_path / "mail"
    folder.mkdir()
    sub = Submission("浙江省", "fgdj-zj@aic.example.cn", people=[Person("王喆", "男", "杭州市市场监督管理局科长")])
    (folder / "1.eml").write_bytes(build_message(sub, random.Random(8)))

    def intake(cfg: Path, *args: str) -> None:
        proc = run_intake(*args, config=cfg, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr

    def db(sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(tmp_path / "intake.db") as c:
            return c.execute(sql).fetchall()

    cfg = embedded_config(tmp_path)
    intake(cfg, "ingest", str(folder))
    # A mark on the recorded rows shows whether reprocess wrote them again.
    db("UPDATE attachments SET detail = 'mark'")
    files = db("SELECT id, detail FROM attachments ORDER BY id")
    assert files and db("SELECT parse_count FROM messages") == [(1,)]

    intake(cfg, "reprocess")
    assert db("SELECT id, detail FROM attachments ORDER BY id") == files  # read again, nothing rewritten
    assert db("SELECT parse_count FROM messages") == [(2,)]

    intake(embedded_config(tmp_path, campaign={"narrative_limit": 1800}), "reprocess")
    assert len(db("SELECT id FROM attachments")) == len(files)
    assert db("SELECT detail FROM attachments WHERE detail = 'mark'") == []  # recorded again
    assert db("SELECT parse_count FROM messages") == [(3,)]


def test_what_reprocess_checks_for_many_messages_at_once_agrees_with_recording_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reprocess decides what is unchanged from the whole archive at once (duplicates, people's
    overrides and corrections). Once a reprocess has recorded what
    people changed, the next one finds every message unchanged, whatever is on it."""
    import sqlite3
    from email import message_from_bytes, policy

    from intake.core.settings import load_settings
    from intake.ingest import reading
    from intake.jobs.reprocess import reprocess
    from intake.office import messages, nominees
    from store.repo import Store

    rng = random.Random(9)
    folder = tmp_path / "mail"
    folder.mkdir()

    def sub(province: str, sender: str, name: str) -> bytes:
        return build_message(Submission(province, sender, people=[Person(name, "男", "某局科长")]), rng)

    first = sub("浙江省", "fgdj-zj@aic.example.cn", "王喆")
    same_id = message_from_bytes(sub("浙江省", "fgdj-zj@aic.example.cn", "李四"), policy=policy.default)
    del same_id["Message-ID"]
    same_id["Message-ID"] = message_from_bytes(first, policy=policy.default)["Message-ID"]
    for i, raw in enumerate(
        [
            first,
            first,
            bytes(same_id),
            sub("江苏省", "fgdj-js@aic.example.cn", "赵六"),
            sub("山东省", "x@example.com", "钱七"),
        ]
    ):
        (folder / f"{i}.eml").write_bytes(raw)
    cfg = embedded_config(tmp_path)
    assert run_intake("ingest", str(folder), config=cfg, cwd=tmp_path).returncode == 0

    def db(sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(tmp_path / "intake.db") as c:
            return c.execute(sql).fetchall()

    assert [c for (c,) in db("SELECT classification FROM messages ORDER BY id")][:2] == ["submission", "duplicate"]
    settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)
    [(wang,)] = db("SELECT id FROM nominees WHERE name = '王喆'")
    [(zhao,)] = db("SELECT message_pk FROM nominees WHERE name = '赵六'")
    [(qian,)] = db("SELECT message_pk FROM nominees WHERE name = '钱七'")
    nominees.correct_nominee(store, settings, int(wang), {"rank": "2"}, by="张三", reason="电话核实")  # type: ignore[call-overload]
    messages.assign_province(store, settings, int(qian), "sd", by="张三", reason="山东省来函说明")  # type: ignore[call-overload]
    messages.reclassify(store, settings, int(zhao), "unrelated", by="张三", reason="重复报送的旧材料")  # type: ignore[call-overload]

    recorded_one_by_one: list[int] = []
    real = reading.process_message

    def spy(repo: Any, store: Any, message: Any, *args: Any, **kwargs: Any) -> bool:
        recorded_one_by_one.append(message.id)
        return real(repo, store, message, *args, **kwargs)

    monkeypatch.setattr(reading, "process_message", spy)
    # A province named without a new reading is recorded again; a message reclassified was read
    # again then and there; a correction is the campaign's, laid over the dossier, and asks no
    # message to be recorded again.
    assert reprocess(store, settings, datetime.now(UTC)).processed == 4
    assert recorded_one_by_one == [int(qian)]

    db("UPDATE attachments SET detail = 'mark'")
    counts = db("SELECT id, parse_count FROM messages ORDER BY id")
    recorded_one_by_one.clear()
    result = reprocess(store, settings, datetime.now(UTC))
    assert result.processed == 4 and result.failed == 0
    assert recorded_one_by_one == []  # every message found unchanged by the checks made for all at once
    assert db("SELECT count(*) FROM attachments WHERE detail != 'mark'") == [(0,)]  # nothing recorded again
    assert db("SELECT id, parse_count FROM messages ORDER BY id") == [(pk, n + 1) for pk, n in counts]  # type: ignore[operator]
    assert db("SELECT classification, province_code FROM messages ORDER BY id")[1:] == [
        ("duplicate", "zj"),
        ("unrelated", "js"),
        ("submission", "sd"),
    ]
    assert db(f"SELECT rank FROM nominees WHERE id = {wang}") == [(2,)]  # the correction stands
