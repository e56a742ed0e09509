"""Hostile and unlucky mail, built here: bombs, nests, pathological headers, look-alike auto-replies
and bounces. Each goes through ``intake ingest`` on its own, then all of them at once; every one is
archived and listed with a flag or an error, no robot gets a receipt, no real submission is
dropped, and mail after them is read as usual. Nothing here is timed: the bounds are on bytes,
states and flags."""

from __future__ import annotations

import io
import json
import random
import shlex
import subprocess
import sys
import zipfile
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path

import pytest

from intake.dev.samples import Person, Submission, build_message, individual_form, person_name
from tests.conftest import cli_env, deliver, embedded_config, run_intake

SENDER = "fgdj-zj@aic.example.cn"  # 浙江省's registered address in the shipped campaign
MIB = 1024 * 1024
BUDGET = 20 * MIB


def _form() -> bytes:
    return individual_form([Person("王晓明", "男", "杭州市市场监督管理局科长")], "浙江省")


def _mail(subject: str, *, sender: str = SENDER, headers: dict[str, str] | None = None) -> EmailMessage:
    m = EmailMessage()
    m["From"] = f"浙江省工商局 <{sender}>"
    m["To"] = "gsfgdj@126.com"
    m["Subject"] = subject
    m["Message-ID"] = make_msgid(domain="zj.example.cn")
    m["Date"] = "Thu, 20 Apr 2017 10:00:00 +0800"
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content("总局非公党建办：\n\n现将推荐材料报上，请查收。")
    return m


def _with_form(m: EmailMessage) -> bytes:
    m.add_attachment(
        _form(),
        maintype="application",
        subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
        filename="个人推荐表.docx",
    )
    return bytes(m)


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def boundary_storm() -> bytes:
    """A text part over 4 MB declaring 100,000 distinct boundaries, beside a real form."""
    m = _mail("浙江省推荐材料")
    m.set_content("".join(f'boundary="b{i:06d}"\n' for i in range(100_000)))
    return _with_form(m)


def control_headers() -> bytes:
    """Line separators and form feeds in Subject, Message-ID and References (raw UTF-8 headers)."""
    body = _with_form(_mail("placeholder"))
    head, _, rest = body.partition(b"\n\n")
    lines = [
        line for line in head.split(b"\n") if not line.lower().startswith((b"subject:", b"message-id:", b"references:"))
    ]
    lines += [
        "Subject: 浙江省推荐\u2028材料\x0c报送\x85".encode(),
        b"Message-ID: <bad\x0bid@zj.example.cn>",
        "References: <a\u2028b@x> <c@y>".encode(),
    ]
    return b"\n".join(lines) + b"\n\n" + rest


def zip_of_zips() -> bytes:
    """A small mail holding a zip of six zips, each unpacking to 8 MB: past the message's budget."""
    inner = {f"第{i}批.zip": _zip({f"材料{i}.bin": bytes(8 * MIB)}) for i in range(6)}
    m = _mail("浙江省推荐材料（压缩包）")
    m.add_attachment(_zip(inner), maintype="application", subtype="zip", filename="推荐材料.zip")
    return _with_form(m)


def docx_bomb() -> bytes:
    """A Word file whose document.xml unpacks to 20 MB."""
    xml = b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    xml += b"<w:body>" + b"<w:p/>" * (20 * MIB // 6) + b"</w:body></w:document>"
    data = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": xml})
    m = _mail("浙江省推荐材料")
    m.add_attachment(data, maintype="application", subtype="octet-stream", filename="事迹材料.docx")
    return _with_form(m)


def shared_strings_bomb() -> bytes:
    """A workbook with a shared-strings part of 17 MB (a million strings and more)."""
    strings = b"<sst>" + b"<si><t>x</t></si>" * (17 * MIB // 17) + b"</sst>"
    data = _zip(
        {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>", "xl/sharedStrings.xml": strings}
    )
    m = _mail("浙江省推荐汇总表")
    m.add_attachment(data, maintype="application", subtype="octet-stream", filename="推荐汇总表.xlsx")
    return _with_form(m)


def deep_nest() -> bytes:
    head = (
        f"From: 浙江省工商局 <{SENDER}>\r\nTo: gsfgdj@126.com\r\nSubject: 浙江省推荐材料（嵌套）\r\n"
        "Message-ID: <deep@zj.example.cn>\r\nMIME-Version: 1.0\r\n"
    ).encode()
    opens = b"".join(f'Content-Type: multipart/mixed; boundary="n{i}"\r\n\r\n--n{i}\r\n'.encode() for i in range(5000))
    closes = b"".join(f"\r\n--n{i}--".encode() for i in reversed(range(5000)))
    return head + opens + b"Content-Type: text/plain\r\n\r\nhi" + closes + b"\r\n"


def rtl_member() -> bytes:
    m = _mail("浙江省推荐材料")
    member = "\u202excod.表荐推\n人个.docx"
    m.add_attachment(_zip({member: _form()}), maintype="application", subtype="zip", filename="材料.zip")
    return bytes(m)


def huge_subject() -> bytes:
    return _with_form(_mail("浙江省推荐材料" + "很长" * 400_000))


LOOK_ALIKES = {
    "outing": lambda: _with_form(_mail("浙江省推荐外出务工人员流动党支部书记的材料")),
    "absence": lambda: _with_form(_mail("Absence of nominee list corrected: 浙江省推荐材料")),
    "autoreply_no": lambda: _with_form(_mail("浙江省推荐材料", headers={"X-Autoreply": "no"})),
    "bulk": lambda: _with_form(_mail("浙江省推荐材料", headers={"Precedence": "bulk"})),
}


def real_auto_reply() -> bytes:
    return bytes(_mail("自动回复：外出", headers={"Auto-Submitted": "auto-replied"}))


def bounce_with_attachments() -> bytes:
    return _with_form(_mail("Undelivered Mail Returned to Sender", sender="Mailer_Daemon@mx.zj.example.cn"))


HOSTILE = {
    "boundary_storm": boundary_storm,
    "control_headers": control_headers,
    "zip_of_zips": zip_of_zips,
    "docx_bomb": docx_bomb,
    "shared_strings_bomb": shared_strings_bomb,
    "deep_nest": deep_nest,
    "rtl_member": rtl_member,
    "huge_subject": huge_subject,
    **LOOK_ALIKES,
    "real_auto_reply": real_auto_reply,
    "bounce": bounce_with_attachments,
}


def _deployment(tmp_path: Path) -> Path:
    return embedded_config(
        tmp_path,
        limits={"archive_total_bytes": BUDGET, "parse_timeout_seconds": 600},
        campaign={"deadline": "2030-04-30T23:59:59+08:00"},
    )


def _export(cfg: Path, tmp_path: Path) -> dict:  # type: ignore[type-arg]
    out = run_intake("export", "--format", "json", config=cfg, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _archive_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def mail_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for name, build in HOSTILE.items():
        (folder / f"{name}.eml").write_bytes(build())
    return folder


@pytest.mark.parametrize("name", list(HOSTILE))
def test_each_hostile_message_alone(name: str, mail_dir: Path, tmp_path: Path) -> None:
    cfg = _deployment(tmp_path)
    raw = (mail_dir / f"{name}.eml").read_bytes()
    done = run_intake("ingest", str(mail_dir / f"{name}.eml"), config=cfg, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    data = _export(cfg, tmp_path)
    [m] = data["messages"]
    # Kept and listed: the raw message archived whole, and a flag or an error on anything unusual.
    assert _archive_bytes(tmp_path / "archive") <= len(raw) + BUDGET + 4 * MIB
    expected = {
        "boundary_storm": ("submission", None),
        "control_headers": ("submission", None),
        "zip_of_zips": ("submission", "attachment_skipped"),
        "docx_bomb": ("submission", "attachment_skipped"),
        "shared_strings_bomb": ("submission", "attachment_skipped"),
        "deep_nest": ("submission", "parse_failed"),
        "rtl_member": ("submission", None),
        "huge_subject": ("submission", None),
        "real_auto_reply": ("auto_reply", None),
        "bounce": ("bounce", None),
        **{k: ("submission", None) for k in LOOK_ALIKES},
    }[name]
    assert m["classification"] == expected[0], m
    if expected[1]:
        assert expected[1] in m["flags"], m
    assert "parse_failed" not in m["flags"] or name == "deep_nest"
    receipt = m["receipt"]
    if expected[0] == "submission":
        assert receipt and receipt["state"] == "sent", m
    else:
        assert receipt is None or receipt["state"] == "suppressed"
    outbox = list((tmp_path / "outbox").glob("*.eml")) if (tmp_path / "outbox").exists() else []
    assert len(outbox) == (1 if expected[0] == "submission" else 0)
    for eml in outbox:
        head = eml.read_bytes().split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
        assert len(head) < 6000  # a receipt's subject is cut to 200 characters
    if name == "deep_nest":
        assert m["subject"] == "浙江省推荐材料（嵌套）" and m["from"] == SENDER
    if name == "rtl_member":
        names = [a["filename"] for a in m["attachments"]]
        assert not any("\u202e" in n or "\n" in n for n in names)
        assert data["nominees"] and data["nominees"][0]["name"] == "王晓明"
    if name in LOOK_ALIKES or name in ("boundary_storm", "control_headers", "huge_subject"):
        assert [n["name"] for n in data["nominees"]] == ["王晓明"]


def test_all_hostile_at_once_then_ordinary_mail(mail_dir: Path, tmp_path: Path) -> None:
    cfg = _deployment(tmp_path)
    done = run_intake("ingest", *sorted(str(p) for p in mail_dir.glob("*.eml")), config=cfg, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    data = _export(cfg, tmp_path)
    assert len(data["messages"]) == len(HOSTILE)
    robots = [m for m in data["messages"] if m["classification"] in ("bounce", "auto_reply")]
    assert len(robots) == 2 and all(m["receipt"] is None or m["receipt"]["state"] != "sent" for m in robots)
    # The bounce carried Word files: it is listed for a person in the daily summary.
    before = set((tmp_path / "outbox").glob("*.eml"))
    summary = run_intake("summary", "--send", config=cfg, cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr
    [sent] = set((tmp_path / "outbox").glob("*.eml")) - before
    mail = BytesParser(policy=policy.default).parsebytes(sent.read_bytes())
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "请人工核对" in text and "Undelivered Mail Returned to Sender" in text

    # Ordinary mail after them is read and answered as usual (from another province: 浙江省 has had
    # its five receipts this hour, and the rest wait for the next).
    waiting = [m for m in data["messages"] if m["receipt"] and m["receipt"]["state"] == "queued"]
    assert len(waiting) == len(HOSTILE) - 2 - 5
    rng = random.Random(5)
    plain = tmp_path / "plain.eml"
    plain.write_bytes(
        build_message(
            Submission(
                "北京市", "fgdj-bj@aic.example.cn", people=[Person(person_name(rng), "女", "北京市市场监督管理局")]
            ),
            rng,
        )
    )
    assert run_intake("ingest", str(plain), config=cfg, cwd=tmp_path).returncode == 0
    after = _export(cfg, tmp_path)
    assert len(after["messages"]) == len(HOSTILE) + 1
    assert after["messages"][-1]["receipt"]["state"] == "sent"


def test_a_parse_past_its_time_is_stopped_retried_then_set_aside(tmp_path: Path) -> None:
    """A Word 97 file needs LibreOffice, which takes far longer to start than the 0.05 s allowed
    here: the reader is stopped every time, whatever the machine's speed."""
    from intake.ingest.convert import convert, office_binary
    from tests.servers import require

    require(office_binary() is not None, "LibreOffice is not installed")
    cfg = _deployment(tmp_path)
    cfg.write_text(cfg.read_text().replace("parse_timeout_seconds = 600", "parse_timeout_seconds = 0.05"))
    m = _mail("浙江省推荐材料")
    word97 = convert(_form(), "docx", "doc")
    m.add_attachment(word97, maintype="application", subtype="msword", filename="推荐表.doc")
    deliver(tmp_path / "inbox", {"1.eml": bytes(m)})
    states = []
    for _ in range(4):
        assert run_intake("poll", config=cfg, cwd=tmp_path).returncode == 0
        [msg] = _export(cfg, tmp_path)["messages"]
        states.append((msg["classification"], "parse_failed" in msg["flags"]))
    # Tried three times (kept 'new' in between, its headers read), then failed, flagged, left alone.
    assert states == [("new", False), ("new", False), ("failed", True), ("failed", True)], states
    assert msg["subject"] == "浙江省推荐材料" and msg["from"] == SENDER  # its headers read all the same
    leftovers = subprocess.run(["pgrep", "-f", "intake-convert-"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", "a stopped reader left LibreOffice running"
    # reprocess reads it again, with a time limit that lets it finish.
    cfg.write_text(cfg.read_text().replace("parse_timeout_seconds = 0.05", "parse_timeout_seconds = 600"))
    assert run_intake("reprocess", config=cfg, cwd=tmp_path).returncode == 0
    [msg] = _export(cfg, tmp_path)["messages"]
    assert msg["classification"] == "submission" and "parse_failed" not in msg["flags"]


def test_private_files_whatever_the_umask(tmp_path: Path) -> None:
    cfg = _deployment(tmp_path)
    eml = tmp_path / "one.eml"
    eml.write_bytes(_with_form(_mail("浙江省推荐材料")))
    command = shlex.join([sys.executable, "-m", "intake.cli", "ingest", str(eml), "--config", str(cfg)])
    done = subprocess.run(
        ["sh", "-c", f"umask 022 && exec {command}"], cwd=tmp_path, capture_output=True, text=True, env=cli_env()
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "intake.db").stat().st_mode & 0o777 == 0o600
    kept = [tmp_path / "archive", tmp_path / "readings"]  # the blobs, and the readings kept beside them
    assert all(folder.is_dir() for folder in kept)
    for folder in [*kept, *(p for k in kept for p in k.rglob("*") if p.is_dir()), tmp_path / "outbox"]:
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    for blob in (p for k in kept for p in k.rglob("*") if p.is_file()):
        assert blob.stat().st_mode & 0o077 == 0, blob
    for lock in tmp_path.glob("*.lock"):
        assert lock.stat().st_mode & 0o077 == 0, lock
