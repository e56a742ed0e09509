"""``intake export``: everything known about a nominee, and ids that survive ``reprocess``."""

from __future__ import annotations

import json
import random
from pathlib import Path

from intake.samples import Person, Submission, Unit, build_message
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
    assert person["files"] == ["附件2：个人推荐表.docx", "推荐汇总表.xlsx", "王喆事迹材料.docx"]
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
