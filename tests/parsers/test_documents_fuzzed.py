"""Bad input: fuzzed MIME and documents, hostile sizes and names. Nothing escapes, nothing is lost."""

from __future__ import annotations

import email
import email.policy
import io
import os
import random
import resource
import zipfile
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.dev.samples import Person, Submission, build_message, individual_form
from intake.jobs.poll import run_once
from intake.mail.smtp import make_mailer
from intake.mail.sources.local import FilesSource
from parsers.mime import parse_message
from store.repo import Store
from tests.conftest import CORPUS, read_as_pipeline, require_corpus

CORPUS_BYTES = [p.read_bytes() for p in sorted(CORPUS.glob("*/*.eml"))]
# The same examples on every run, so CI is repeatable; INTAKE_FUZZ_RANDOM=1 explores new ones.
DERANDOMIZE = not os.environ.get("INTAKE_FUZZ_RANDOM")


def _mutate(data: bytes, rng: random.Random, n: int) -> bytes:
    buf = bytearray(data)
    for _ in range(n):
        op = rng.randrange(4)
        if not buf:
            break
        i = rng.randrange(len(buf))
        if op == 0:
            buf[i] = rng.randrange(256)
        elif op == 1:
            del buf[i : i + rng.randrange(1, 64)]
        elif op == 2:
            buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
        else:
            j = rng.randrange(len(buf))
            buf[i:i] = buf[j : j + rng.randrange(1, 200)]
    return bytes(buf)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=DERANDOMIZE)
@given(
    st.integers(min_value=0, max_value=max(0, len(CORPUS_BYTES) - 1)),
    st.randoms(use_true_random=False),
    st.integers(min_value=1, max_value=40),
)
def test_fuzzed_corpus_never_raises(index: int, rng: random.Random, mutations: int) -> None:
    require_corpus()
    raw = _mutate(CORPUS_BYTES[index], rng, mutations)
    parsed = parse_message(raw)
    assert isinstance(parsed.subject, str) and isinstance(parsed.attachments, list)


@settings(max_examples=25, deadline=None, derandomize=DERANDOMIZE)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    parse_message(raw)
    r = read_as_pipeline("x", "", raw)
    assert r.status in ("parsed", "unreadable", "scan_only", "expanded", "skipped")


DOCX = individual_form([Person("王喆", "女", "某区市场监督管理局")], "北京市")


def _xlsx() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["序号", "姓名", "推荐排序"])
    ws.append([1, "李堃", 1])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


XLSX = _xlsx()


def _mutate_zip_members(data: bytes, rng: random.Random) -> bytes:
    """Mutate the XML inside the package, keeping the zip valid, so the XML readers are reached."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for item in src.infolist():
            payload = src.read(item)
            if item.filename.endswith(".xml") and rng.random() < 0.5:
                payload = _mutate(payload, rng, rng.randrange(1, 30))
            z.writestr(item.filename, payload)
    return out.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=DERANDOMIZE)
@given(st.sampled_from(["docx", "xlsx"]), st.randoms(use_true_random=False), st.booleans())
def test_mutated_office_files_never_raise(kind: str, rng: random.Random, inside: bool) -> None:
    base = DOCX if kind == "docx" else XLSX
    data = _mutate_zip_members(base, rng) if inside else _mutate(base, rng, rng.randrange(1, 20))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    r = read_as_pipeline(f"推荐表.{kind}", "", data)
    assert r.status in ("parsed", "unreadable", "expanded", "skipped", "scan_only")
    if r.status == "unreadable":
        assert r.detail
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 200


# --------------------------------------------------------------------------- hostile messages


def _pipeline(make_settings, tmp_path: Path, messages: list[bytes]):  # type: ignore[no-untyped-def]
    settings = make_settings()
    store = Store(settings.database.url, settings.archive.path)
    paths = []
    for i, raw in enumerate(messages):
        p = tmp_path / "in" / f"{i}.eml"
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(raw)
        paths.append(p)
    result = run_once(FilesSource(paths), store, settings, datetime.now(UTC), make_mailer(settings))
    return store, result


def test_thousand_parts_nested_forwards_and_hostile_names(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    many = EmailMessage()
    many["From"] = "fgdj-bj@aic.example.cn"
    many["Subject"] = "北京市推荐材料（1000个附件）"
    many.set_content("x")
    for i in range(1000):
        many.add_attachment(
            f"part {i}".encode(), maintype="application", subtype="octet-stream", filename=f"附件{i}.txt"
        )

    inner = EmailMessage()
    inner["From"] = "fgdj-sh@aic.example.cn"
    inner["Subject"] = "上海市推荐材料"
    inner.set_content("见附件")
    inner.add_attachment(DOCX, maintype="application", subtype="octet-stream", filename="个人推荐表.docx")
    for depth in range(20):
        outer = EmailMessage()
        outer["From"] = f"relay{depth}@example.cn"
        outer["Subject"] = f"Fw: {depth}"
        outer.set_content("转发")
        outer.add_attachment(inner)
        inner = outer
    inner.replace_header("From", "fgdj-sh@aic.example.cn")

    names = EmailMessage()
    names["From"] = "fgdj-gd@aic.example.cn"
    names["Subject"] = "广东省推荐材料"
    names.set_content("x")
    for name in ("../../../etc/passwd", "a\x00b.docx", "长" * 300 + ".docx", "/abs/path.docx"):
        names.add_attachment(DOCX, maintype="application", subtype="octet-stream", filename=name)

    store, result = _pipeline(make_settings, tmp_path, [bytes(many), bytes(inner), bytes(names)])
    assert result.failed == 0 and result.processed == 3
    with store.session() as repo:
        msgs = {m.subject: m for m in repo.all_messages()}
        assert len(msgs["北京市推荐材料（1000个附件）"].attachments) == 1000
        deep = msgs["Fw: 19"]
        assert deep.classification == "submission"
        assert [a.filename for a in deep.attachments] == ["个人推荐表.docx"]
        assert [n.name for n in deep.nominees] == ["王喆"]
        hostile = msgs["广东省推荐材料"]
        assert len(hostile.attachments) == 4 and all(a.status == "parsed" for a in hostile.attachments)
        for a in hostile.attachments:
            assert store.blobs.verify(a.sha256)
            assert a.sha256 in str(store.blobs.path_for(a.sha256))  # stored under its hash, never its name
    archived = [p for p in Path(store.blobs.root).rglob("*") if p.is_file()]
    assert not any("passwd" in p.name or "长" in p.name for p in archived)


def test_fifty_megabyte_attachment_is_archived_and_read(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m = EmailMessage()
    m["From"] = "fgdj-bj@aic.example.cn"
    m["Subject"] = "北京市推荐材料（含大附件）"
    m["Date"] = "Thu, 20 Apr 2017 10:00:00 +0800"
    m.set_content("见附件")
    m.add_attachment(DOCX, maintype="application", subtype="octet-stream", filename="个人推荐表.docx")
    big = random.Random(3).randbytes(50 * 1024 * 1024)
    m.add_attachment(big, maintype="application", subtype="pdf", filename="扫描件.pdf")
    store, result = _pipeline(make_settings, tmp_path, [bytes(m)])
    assert result.failed == 0
    with store.session() as repo:
        (msg,) = repo.all_messages()
        sizes = {a.filename: a.size for a in msg.attachments}
        assert sizes["扫描件.pdf"] == len(big)
        assert [n.name for n in msg.nominees] == ["王喆"]
        assert {f.code for f in msg.flags} == {"attachment_unreadable"}
        pdf = next(a for a in msg.attachments if a.filename == "扫描件.pdf")
        assert store.blobs.get(pdf.sha256) == big


def test_corrupt_attachments_flagged_and_kept(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(9)
    sub = Submission("北京市", "fgdj-bj@aic.example.cn", people=[Person("王喆", "女", "某区市场监督管理局")])
    msg = email.message_from_bytes(build_message(sub, rng), _class=EmailMessage, policy=email.policy.default)
    msg.add_attachment(DOCX[: len(DOCX) // 3], maintype="application", subtype="octet-stream", filename="坏.docx")
    msg.add_attachment(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptedPackage".encode("utf-16-le"),
        maintype="application",
        subtype="octet-stream",
        filename="加密.docx",
    )
    msg.add_attachment(
        b"Rar!\x1a\x07\x00" + b"\x00" * 50, maintype="application", subtype="octet-stream", filename="材料.rar"
    )
    store, result = _pipeline(make_settings, tmp_path, [msg.as_bytes()])
    assert result.failed == 0
    with store.session() as repo:
        (m,) = repo.all_messages()
        unreadable = sorted(f.detail.split("：")[0] for f in m.flags if f.code == "attachment_unreadable")
        assert unreadable == ["加密.docx", "坏.docx", "材料.rar"]
        assert [n.name for n in m.nominees] == ["王喆"]
        for a in m.attachments:
            assert store.blobs.verify(a.sha256)
        assert m.receipt is not None


@pytest.mark.parametrize("raw", [b"", b"\x00\x01\x02", b"Subject: only a header", b"\r\n\r\n\r\n"])
def test_degenerate_messages_are_recorded(make_settings, tmp_path: Path, raw: bytes) -> None:  # type: ignore[no-untyped-def]
    store, result = _pipeline(make_settings, tmp_path, [raw])
    assert result.fetched == 1 and result.failed == 0
    with store.session() as repo:
        (m,) = repo.all_messages()
        assert m.classification == "unrelated" and store.blobs.get(m.sha256) == raw
