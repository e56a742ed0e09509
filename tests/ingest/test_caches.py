"""Whole readings of messages are kept by the hash of the message and a version of everything the
reading follows from: a message read before by the same code, libraries and limits is not read
again; anything else is."""

from __future__ import annotations

import random
from email.message import EmailMessage
from pathlib import Path

import pytest

from intake.dev.samples import Person, Submission, build_message
from intake.ingest import caches, read
from intake.ingest.outcome import ParseOutcome
from intake.ingest.read import parse_file
from parsers.archives import ArchiveLimits
from parsers.documents import ReadLimits
from store.blobs import BlobStore


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The messages actually read (``parse_raw`` called), in order."""
    calls: list[bytes] = []
    real = read.parse_raw

    def counting(
        raw: bytes, limits: ReadLimits, blobs: BlobStore | None = None, announce: object = None
    ) -> ParseOutcome:
        calls.append(raw)
        return real(raw, limits, blobs, announce)  # type: ignore[arg-type]

    monkeypatch.setattr(read, "parse_raw", counting)
    return calls


def _message(tmp_path: Path, raw: bytes) -> tuple[str, str]:
    """The message put in an archive: its path, and the archive's."""
    blobs = BlobStore(tmp_path / "archive")
    return str(blobs.path_for(blobs.put(raw))), str(blobs.root)


def _limits(tmp_path: Path, **changes: object) -> ReadLimits:
    return ReadLimits(reading_cache=str(tmp_path / "readings"), **changes)  # type: ignore[arg-type]


def _submission() -> bytes:
    sub = Submission("浙江省", "fgdj-zj@aic.example.cn", people=[Person("王喆", "男", "杭州市市场监督管理局科长")])
    return build_message(sub, random.Random(3))


def test_a_message_read_before_is_not_read_again(
    tmp_path: Path, reads: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, root = _message(tmp_path, _submission())
    first = parse_file(path, _limits(tmp_path), root)
    assert first.parsed is not None and first.digest and len(reads) == 1
    again = parse_file(path, _limits(tmp_path), root)
    assert len(reads) == 1  # from the cache
    assert again.digest == first.digest and again.parsed == first.parsed
    assert [r.sha256 for r in again.readings] == [r.sha256 for r in first.readings]
    assert [r.records for r in again.readings] == [r.records for r in first.readings]

    # Other limits read it again (and keep that reading beside the first).
    parse_file(path, _limits(tmp_path, archive=ArchiveLimits(members=5)), root)
    assert len(reads) == 2
    # Other parsers or libraries (an upgrade) read it again too.
    monkeypatch.setattr(caches, "_CODE_VERSION", "after an upgrade")
    parse_file(path, _limits(tmp_path), root)
    assert len(reads) == 3
    entries = [p for p in (tmp_path / "readings").rglob("*") if p.is_file()]
    assert len(entries) == 3 and all(p.stat().st_mode & 0o077 == 0 for p in entries)
    folders = [tmp_path / "readings", *(p for p in (tmp_path / "readings").rglob("*") if p.is_dir())]
    assert all(f.stat().st_mode & 0o777 == 0o700 for f in folders)


def test_no_cache_without_an_archive_or_a_cache_folder(tmp_path: Path, reads: list[bytes]) -> None:
    path, root = _message(tmp_path, _submission())
    parse_file(path, ReadLimits(), root)
    parse_file(path, ReadLimits(), root)
    parse_file(path, _limits(tmp_path), None)  # the files' bytes would be in the reading
    assert len(reads) == 3 and not (tmp_path / "readings").exists()


def test_a_reading_with_a_file_that_could_not_be_read_is_read_again(tmp_path: Path, reads: list[bytes]) -> None:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "fgdj-zj@aic.example.cn", "gsfgdj@126.com", "浙江省推荐材料"
    m.set_content("见附件。")
    damaged = b"PK\x03\x04" + bytes(random.Random(1).randrange(256) for _ in range(3000))
    m.add_attachment(damaged, maintype="application", subtype="octet-stream", filename="个人推荐表.docx")
    path, root = _message(tmp_path, bytes(m))
    outcome = parse_file(path, _limits(tmp_path), root)
    assert any(r.status == "unreadable" for r in outcome.readings)
    parse_file(path, _limits(tmp_path), root)
    assert len(reads) == 2 and not list((tmp_path / "readings").rglob("*.*"))


def test_a_reading_whose_files_left_the_archive_or_whose_entry_is_damaged_is_read_again(
    tmp_path: Path, reads: list[bytes]
) -> None:
    path, root = _message(tmp_path, _submission())
    first = parse_file(path, _limits(tmp_path), root)
    blobs = BlobStore(Path(root))
    form = next(r for r in first.readings if r.records)
    blobs.path_for(form.sha256).unlink()  # an archive restored without it, say
    again = parse_file(path, _limits(tmp_path), root)
    assert len(reads) == 2 and blobs.path_for(form.sha256).exists()  # read again, and put back
    assert again.digest == first.digest

    [entry] = [p for p in (tmp_path / "readings").rglob("*") if p.is_file()]
    entry.write_bytes(entry.read_bytes()[:100])  # cut short (a full disk)
    assert parse_file(path, _limits(tmp_path), root).digest == first.digest
    assert len(reads) == 3
    parse_file(path, _limits(tmp_path), root)
    assert len(reads) == 3  # the entry written whole again
