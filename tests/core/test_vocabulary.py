"""What provinces and the office read is Chinese, in an office's words, and true: every receipt,
the summary mail and every workbook cell for realistic submissions, checked for English words, for
internal codes, and for a problem section that agrees with the rest of the receipt."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import openpyxl

from intake.dev.samples import Person, individual_form, summary_list
from tests.conftest import embedded_config, run_intake
from tests.jobs.test_poll import DEPT, IN_TIME, LATE, _plain, build_mailbox

# Format names and units people read in Chinese office text; everything else Latin is English.
ALLOWED = {"Word", "Excel", "WPS", "PDF", "DOC", "DOCX", "XLS", "XLSX", "ZIP", "RAR", "7Z", "MB", "A4", "Outlook"}
ADDRESS = re.compile(r"[\w.+\-]+@[\w\-]+(\.[\w\-]+)+")
LINK = re.compile(r"https?://\S+")
EXTENSIONS = "docx?|xlsx?|wps|et|pdf|zip|7z|rar|jpe?g|png|gif|bmp|tiff?|txt|html?|eml|msg|dat"
FILE = re.compile(rf"[^\s：:（）()，,；;]+\.({EXTENSIONS})\b", re.I)
REFERENCE = re.compile(r"HZ\d{8}-\d+")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9'\-]*")
INTERNAL = re.compile(r"\b(submission|auto_reply|bounce|unrelated|duplicate|queued|sent|failed|suppressed|parsed)\b")


def english_words(text: str, quoted: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    """Latin words in ``text`` outside addresses, links, file names, reference numbers, format
    names and what is quoted from the province's own mail (its subject, its file names)."""
    for q in sorted(quoted, key=len, reverse=True):
        if q:
            text = text.replace(q, " ")
    for pattern in (ADDRESS, LINK, FILE, REFERENCE):
        text = pattern.sub(" ", text)
    return [w for w in WORD.findall(text) if w not in ALLOWED]


def extra_mail() -> list[bytes]:
    """What the end-to-end mailbox lacks: nothing attached, a scan only, a list only, an unreadable
    file, a narrative nobody matches, a province nobody can tell."""
    out: list[EmailMessage] = [
        _plain("fgdj-ah@aic.example.cn", "安徽省推荐材料", [], body="材料见网盘链接 https://pan.example.cn/s/abc"),
        _plain("fgdj-fj@aic.example.cn", "福建省推荐材料", [("推荐表扫描件.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 400)]),
        _plain(
            "fgdj-sd@aic.example.cn",
            "山东省推荐汇总表",
            [("推荐汇总表.xlsx", summary_list("山东省", [Person("韩梅", "女", f"济南市{DEPT}科长", 1)], []))],
        ),
        _plain("fgdj-ha@aic.example.cn", "河南省推荐材料", [("附件2：个人推荐表.docx", b"PK\x03\x04broken")]),
        _plain(
            "fgdj-hb@aic.example.cn",
            "湖北省推荐材料",
            [
                ("附件2：个人推荐表.docx", individual_form([Person("秦岚", "女", f"武汉市{DEPT}所长")], "湖北省")),
                ("先进事迹材料一.txt", ("该同志扎实推进非公党建工作。" * 30).encode()),
                ("先进事迹材料二.txt", ("该单位积极开展小个专党建。" * 30).encode()),
            ],
        ),
        _plain(
            "someone@example.org", "推荐材料", [("附件2.docx", individual_form([Person("无名", "男", "某局")], ""))]
        ),
    ]
    late = _plain(
        "fgdj-gx@aic.example.cn",
        "广西推荐材料",
        [("附件2：个人推荐表.docx", individual_form([Person("蒙丽", "女", f"南宁市{DEPT}科长")], "广西"))],
    )
    del late["Date"]
    late["Date"] = format_datetime(LATE)
    out.append(late)
    return [m.as_bytes() for m in out]


def _deployment(tmp_path: Path) -> Path:
    return embedded_config(
        tmp_path,
        smtp={"outbox": str(tmp_path / "outbox"), "sender": "总局非公党建办 <gsfgdj@126.com>"},
        summary={"recipients": ["office@aic.example.cn"]},
        contact={"person": "王敏", "phone": "010-88650000"},
    )


def _text_parts(msg: email.message.Message) -> list[str]:
    out = []
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            text = part.get_content()
            if part.get_content_subtype() == "html":
                text = re.sub(r"<[^>]+>", " ", text)
            out.append(text)
    return out


def test_everything_people_read_is_chinese_and_consistent(tmp_path: Path) -> None:
    mail, _truth = build_mailbox()
    folder = tmp_path / "mail"
    folder.mkdir()
    raws = [raw for raw, _ in mail] + extra_mail()
    for i, raw in enumerate(raws):
        (folder / f"{i:03d}.eml").write_bytes(raw)
    cfg = _deployment(tmp_path)
    proc = run_intake("ingest", str(folder), config=cfg, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    sent = run_intake("poll", config=cfg, cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr

    receipts = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted((tmp_path / "outbox").rglob("*.eml"))
    ]
    assert len(receipts) >= 15
    originals = {}
    for raw in raws:
        m = email.message_from_bytes(raw, policy=email.policy.default)
        originals[str(m["Message-ID"]).strip()] = m
    seen_nothing = seen_late = 0
    for r in receipts:
        original = originals[str(r["In-Reply-To"]).strip()]
        quoted = [str(original["Subject"] or "")] + [p.get_filename() or "" for p in original.walk()]
        for part in r.walk():
            if part.get_content_type() == "message/rfc822":
                quoted += [str(x.get_filename() or "") for x in part.walk()]
        subject = str(r["Subject"])
        assert english_words(subject, quoted) == [], subject
        for text in _text_parts(r):
            assert english_words(text, quoted) == [], (subject, english_words(text, quoted), text)
            assert not INTERNAL.search(" ".join(english_words(text, quoted))), subject
            assert "截止还有 -" not in text
            # In an office's words: 你局, dates without leading zeros, a person to call, and where
            # corrections go (never "请勿回复").
            assert "你局" in text and "你们" not in text and "请勿回复" not in text, text
            assert not re.search(r"\d年0\d月|\d月0\d日", text), text
            assert "联系人：王敏，电话：010-88650000" in text and "重新发送至本邮箱（gsfgdj@126.com）" in text
            problems = text.split("三、需要处理的问题", 1)[1].split("、名额情况", 1)[0]
            nominees = text.split("二、识别出的推荐对象", 1)[1].split("三、需要处理的问题", 1)[0]
            attachments = text.split("一、收到的附件", 1)[1].split("二、识别出的推荐对象", 1)[0]
            clean = "未发现问题" in problems
            # Nothing to fix is said only when nothing anywhere in the receipt is a problem.
            if "未识别出推荐对象" in nominees:
                seen_nothing += 1
                # Said as a problem, or (when a file could not be read) as that file's problem.
                assert not clean and ("未识别出推荐对象" in problems or "附件无法读取" in problems), text
            for bad in ("无法读取", "仅收存", "未能确定报送省份"):
                if bad in attachments or bad in text.split("、名额情况", 1)[1]:
                    assert not clean, (bad, text)
            if "已过报送截止时间" in text:
                seen_late += 1
                assert "逾期报送" in problems and "在截止时间前" not in text, text
    assert seen_nothing >= 2 and seen_late >= 1

    # The summary mail and every cell of the workbook.
    book = tmp_path / "日报.xlsx"
    done = run_intake("summary", "--date", "2017-04-21", "--xlsx", str(book), "--send", config=cfg, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in (tmp_path / "outbox").rglob("*.eml")
    ]
    summary = [m for m in mails if "日报" in str(m["Subject"])]
    assert summary
    for text in _text_parts(summary[0]):
        assert english_words(text) == [], text
        assert "-" not in re.sub(r"\d{4}-\d{2}-\d{2}", "", text).split("截止", 1)[-1][:12]
    wb = openpyxl.load_workbook(book)
    mail_columns = {"邮件主题", "主题", "发件人", "回执收件人", "姓名/单位名称", "对象"}
    for ws in wb.worksheets:
        header = [c.value for c in ws[2]] if ws.max_row >= 2 else []
        for row in ws.iter_rows(min_row=1):
            for cell in row:
                if cell.value is None or not isinstance(cell.value, str):
                    continue
                col = header[cell.column - 1] if cell.row > 2 and cell.column - 1 < len(header) else None
                if col in mail_columns:
                    continue
                words = english_words(cell.value, [m.get_filename() or "" for raw in raws for m in _parts(raw)])
                assert words == [], (ws.title, cell.coordinate, cell.value)
                assert not INTERNAL.search(cell.value), (ws.title, cell.coordinate, cell.value)


def _parts(raw: bytes) -> list[email.message.Message]:
    return list(email.message_from_bytes(raw, policy=email.policy.default).walk())


def test_deadline_phrase_never_counts_below_zero() -> None:
    from intake.core.vocabulary import deadline_phrase

    assert deadline_phrase(3) == "距报送截止还有 3 天"
    assert deadline_phrase(0) == "今天为报送截止日"
    assert deadline_phrase(-12) == "报送截止已逾期 12 天"


def test_receipt_number_is_dated_in_beijing_time(make_settings) -> None:  # type: ignore[no-untyped-def]
    from intake.outbox.receipts import receipt_reference
    from store.models import OutgoingMail

    settings = make_settings()
    # 2017-04-20 17:30 UTC is 2017-04-21 01:30 in Beijing.
    r = OutgoingMail(kind="receipt", message_pk=7, created_at=datetime(2017, 4, 20, 17, 30, tzinfo=UTC))
    assert receipt_reference(r, settings) == "HZ20170421-00007"
    assert IN_TIME.tzinfo is UTC


def test_readme_names_every_flag() -> None:
    from intake.core.vocabulary import FLAG_TEXT
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for code, (label, _advice) in FLAG_TEXT.items():
        assert f"| `{code}` | {label} |" in readme, code
