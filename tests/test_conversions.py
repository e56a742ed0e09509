"""LibreOffice's conversions are kept by the hash of their input: the same bytes are converted once
(a resent file, a redelivered message, a reprocess), and the cache sits outside the archive."""

from __future__ import annotations

import json
import random
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from intake.samples import Person, individual_form
from tests.conftest import embedded_config, run_intake
from tests.servers import require


def _word97(people: list[Person]) -> bytes:
    from parsers.legacy import convert, office_binary

    require(office_binary() is not None, "LibreOffice is not installed")
    return convert(individual_form(people, "浙江省"), "docx", "doc")


def _mail(doc: bytes, rng: random.Random) -> bytes:
    m = EmailMessage()
    m["From"] = "fgdj-zj@aic.example.cn"
    m["To"] = "gsfgdj@126.com"
    m["Subject"] = "浙江省推荐材料"
    m["Message-ID"] = make_msgid(idstring=str(rng.random()))
    m.set_content("见附件。")
    m.add_attachment(doc, maintype="application", subtype="msword", filename="个人推荐表.doc")
    return bytes(m)


def test_the_same_bytes_are_converted_once(tmp_path: Path) -> None:
    rng = random.Random(1)
    doc = _word97([Person("王晓明", "男", "杭州市市场监督管理局科长")])
    cfg = embedded_config(tmp_path)
    first = tmp_path / "first.eml"
    first.write_bytes(_mail(doc, rng))
    assert run_intake("ingest", str(first), config=cfg, cwd=tmp_path).returncode == 0
    names = [n["name"] for n in json.loads(run_intake("export", config=cfg, cwd=tmp_path).stdout)["nominees"]]
    assert names == ["王晓明"]
    cache = tmp_path / "conversions"
    [entry] = [p for p in cache.rglob("*") if p.is_file()]
    assert not (tmp_path / "archive" / "conversions").exists()  # outside the blobs, whose hashes keep checking
    assert entry.stat().st_mode & 0o077 == 0

    # Put another form in the cache entry's place: what is read from now on shows where it came from.
    from parsers.legacy import convert

    entry.write_bytes(convert(_word97([Person("李四", "男", "宁波市市场监督管理局")]), "doc", "docx"))
    # A resend of the same file (a new message) and a reprocess of the archive: no LibreOffice run.
    second = tmp_path / "second.eml"
    second.write_bytes(_mail(doc, rng))
    assert run_intake("ingest", str(second), config=cfg, cwd=tmp_path).returncode == 0
    assert run_intake("reprocess", config=cfg, cwd=tmp_path).returncode == 0
    names = [n["name"] for n in json.loads(run_intake("export", config=cfg, cwd=tmp_path).stdout)["nominees"]]
    assert names == ["李四", "李四"], names
    assert len([p for p in cache.rglob("*") if p.is_file()]) == 1
