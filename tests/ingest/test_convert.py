"""LibreOffice's conversions are kept by the hash of their input: the same bytes are converted once
(a resent file, a redelivered message, a reprocess), and the cache sits outside the archive."""

from __future__ import annotations

import json
import random
import shutil
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from intake.dev.samples import Person, individual_form
from tests.conftest import embedded_config, run_intake
from tests.servers import require


def _word97(people: list[Person]) -> bytes:
    from intake.ingest.convert import convert, office_binary

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
    from intake.ingest.convert import convert

    entry.write_bytes(convert(_word97([Person("李四", "男", "宁波市市场监督管理局")]), "doc", "docx"))
    # A resend of the same file (a new message) and a reprocess of the archive: no LibreOffice run.
    second = tmp_path / "second.eml"
    second.write_bytes(_mail(doc, rng))
    assert run_intake("ingest", str(second), config=cfg, cwd=tmp_path).returncode == 0
    shutil.rmtree(tmp_path / "readings")  # whole readings are kept too: without them both are read again
    assert run_intake("reprocess", config=cfg, cwd=tmp_path).returncode == 0
    nominees = json.loads(run_intake("export", config=cfg, cwd=tmp_path).stdout)["nominees"]
    # Both messages read from the cache: one person, whose dossier holds both forms.
    assert [n["name"] for n in nominees] == ["李四"]
    assert [x["kind"] for x in nominees[0]["dossier"]] == ["form", "form"]
    assert len([p for p in cache.rglob("*") if p.is_file()]) == 1


def _alive(fragment: str) -> list[int]:
    """Processes (not zombies) whose command line holds ``fragment``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if fragment in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def _warm_or_skip():  # type: ignore[no-untyped-def]
    from intake.ingest.convert import WarmOffice

    require(WarmOffice.possible(), "LibreOffice with python3-uno (Debian's /usr/bin/python3) is not installed")
    return WarmOffice


def test_a_hung_conversion_is_killed_and_the_next_one_works(tmp_path: Path) -> None:
    import os
    import signal

    import pytest

    from intake.ingest.convert import ConversionError

    warm_office = _warm_or_skip()
    doc = _word97([Person("王晓明", "男", "杭州市市场监督管理局科长")])
    src = tmp_path / "in.doc"
    src.write_bytes(doc)
    office = warm_office()
    try:
        office.convert(src, tmp_path / "a.docx", "doc", "docx", 60)
        assert (tmp_path / "a.docx").read_bytes()[:2] == b"PK"
        first = office.office_pid
        assert first is not None
        os.kill(first, signal.SIGSTOP)  # LibreOffice hangs: it will never answer
        with pytest.raises(ConversionError, match="超时"):
            office.convert(src, tmp_path / "b.docx", "doc", "docx", 3)
        assert first not in _alive("soffice")  # killed with its whole group
        office.convert(src, tmp_path / "c.docx", "doc", "docx", 60)  # a new one, and it works
        assert (tmp_path / "c.docx").read_bytes()[:2] == b"PK" and office.starts == 2
    finally:
        office.stop()


def test_a_warm_office_is_recycled_after_n_conversions(tmp_path: Path) -> None:
    warm_office = _warm_or_skip()
    src = tmp_path / "in.doc"
    src.write_bytes(_word97([Person("王晓明", "男", "杭州市市场监督管理局科长")]))
    office = warm_office(recycle_after=2)
    try:
        pids = []
        for i in range(3):
            office.convert(src, tmp_path / f"{i}.docx", "doc", "docx", 60)
            pids.append(office.office_pid)
        assert pids[0] == pids[1] != pids[2] and office.starts == 2
    finally:
        office.stop()


def test_no_libreoffice_outlives_the_process_that_started_it(tmp_path: Path) -> None:
    """A process converting with its warm LibreOffice is killed with SIGKILL (no chance to tidy):
    its server and LibreOffice go with it."""
    import os
    import subprocess
    import sys
    import time

    _warm_or_skip()
    (tmp_path / "in.doc").write_bytes(_word97([Person("王晓明", "男", "杭州市市场监督管理局科长")]))
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from intake.ingest import convert as legacy, warm\n"
        f"legacy.convert(Path({str(tmp_path / 'in.doc')!r}).read_bytes(), 'doc', 'docx')\n"
        "print(warm._WARM.profile, flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    profile = proc.stdout.readline().strip()  # type: ignore[union-attr]
    assert profile and _alive(profile), "the warm LibreOffice should be running"
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 30
    while _alive(profile) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(profile)
