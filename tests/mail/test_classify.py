"""intake/mail/classify.py: auto-replies, bounces, duplicates, unrelated mail, and the province."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from intake.dev.samples import Person, individual_form
from intake.mail.classify import classify
from parsers.mime import parse_message
from tests.conftest import read_as_pipeline

DOCX = individual_form([Person("王喆", "女", "某区市场监督管理局")], "北京市")


def _doc(text: str) -> bytes:
    import io

    from docx import Document

    d = Document()
    d.add_paragraph(text)
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def _mail(
    sender: str = "fgdj-bj@aic.example.cn",
    subject: str = "推荐材料",
    body: str = "见附件",
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, bytes]] | None = None,
) -> bytes:
    m = EmailMessage()
    m["From"] = sender
    m["To"] = "gsfgdj@126.com"
    m["Subject"] = subject
    for k, v in (headers or {}).items():
        m[k] = v
    m.set_content(body)
    for name, data in attachments or []:
        m.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return bytes(m)


def _classify(raw: bytes, settings, duplicate: bool = False):  # type: ignore[no-untyped-def]
    parsed = parse_message(raw)
    readings = [read_as_pipeline(a.filename, a.content_type, a.payload) for a in parsed.attachments]
    return classify(parsed, readings, settings, duplicate=duplicate)


@pytest.mark.parametrize(
    ("raw", "kind", "province"),
    [
        (_mail(attachments=[("附件2.docx", DOCX)]), "submission", "bj"),
        (_mail(body="材料明天发送"), "submission", "bj"),  # a registered sender, no attachment
        (
            _mail(headers={"Auto-Submitted": "auto-replied", "Return-Path": "<>"}, subject="Re: 推荐材料"),
            "auto_reply",
            "bj",
        ),
        (_mail(subject="自动回复: 推荐材料"), "auto_reply", "bj"),
        (_mail(subject="Out of Office: 推荐材料"), "auto_reply", "bj"),
        (_mail(headers={"X-Autoreply": "yes"}), "auto_reply", "bj"),
        (_mail(headers={"Precedence": "bulk"}), "auto_reply", "bj"),
        (_mail(sender="news@list.example.org", headers={"List-Id": "<news.example.org>"}), "auto_reply", None),
        (_mail(headers={"Auto-Submitted": "no"}, attachments=[("附件2.docx", DOCX)]), "submission", "bj"),
        (_mail(sender="MAILER-DAEMON@mx.example.cn", subject="Undelivered Mail Returned to Sender"), "bounce", None),
        (_mail(sender="postmaster@example.cn", subject="Delivery Status Notification (Failure)"), "bounce", None),
        (_mail(sender="x@example.cn", subject="系统退信", headers={"Return-Path": "<>"}), "bounce", None),
        (
            _mail(sender="shop@example.com", subject="发票", attachments=[("invoice.docx", _doc("发票：金额100元"))]),
            "unrelated",
            None,
        ),
        (_mail(sender="friend@qq.com", subject="周末聚会"), "unrelated", None),
        (_mail(sender="gsfgdj@126.com", subject="测试", attachments=[("附件2.docx", DOCX)]), "unrelated", None),
        (
            _mail(sender="zhangsan@qq.com", subject="河北省推荐材料", attachments=[("附件2.docx", DOCX)]),
            "submission",
            "he",
        ),
        (
            _mail(sender="zhangsan@qq.com", subject="推荐材料", attachments=[("海南省个人推荐表.docx", DOCX)]),
            "submission",
            "hi",
        ),
        (
            _mail(
                sender="zhangsan@qq.com",
                subject="推荐材料",
                body="总局：现报送四川省推荐材料。",
                attachments=[("推荐表.docx", DOCX)],
            ),
            "submission",
            "sc",
        ),
    ],
)
def test_classification(make_settings, raw: bytes, kind: str, province: str | None) -> None:  # type: ignore[no-untyped-def]
    verdict = _classify(raw, make_settings())
    assert (verdict.classification, verdict.province) == (kind, province)


def test_multipart_report_is_a_bounce(make_settings) -> None:  # type: ignore[no-untyped-def]
    raw = (
        b"From: someone@example.cn\r\nSubject: failure\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n"
        b"--R\r\nContent-Type: text/plain\r\n\r\nx\r\n--R\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Action: failed\r\n--R--\r\n"
    )
    assert _classify(raw, make_settings()).classification == "bounce"


def test_duplicate_and_registered_flags(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    raw = _mail(attachments=[("附件2.docx", DOCX)])
    assert _classify(raw, settings, duplicate=True).classification == "duplicate"
    assert _classify(raw, settings).registered
    assert not _classify(
        _mail(sender="z@qq.com", subject="北京市推荐", attachments=[("a.docx", DOCX)]), settings
    ).registered


def test_forwarded_submission_takes_the_original_senders_province(make_settings) -> None:  # type: ignore[no-untyped-def]
    inner = EmailMessage()
    inner["From"] = "fgdj-gd@aic.example.cn"
    inner["Subject"] = "推荐材料"
    inner.set_content("见附件")
    inner.add_attachment(DOCX, maintype="application", subtype="octet-stream", filename="附件2.docx")
    outer = EmailMessage()
    outer["From"] = "staff@163.com"
    outer["Subject"] = "Fw: 推荐材料"
    outer.set_content("转发")
    outer.add_attachment(inner)
    verdict = _classify(bytes(outer), make_settings())
    assert (verdict.classification, verdict.province, verdict.province_source) == ("submission", "gd", "forwarded")
    assert not verdict.registered


@pytest.mark.parametrize(
    ("subject", "intent"),
    [
        ("北京市推荐材料（更正）", "correction"),
        ("以此为准：北京市", "correction"),
        ("北京市补报材料", "supplement"),
        ("北京市推荐材料", "initial"),
    ],
)
def test_intent(make_settings, subject: str, intent: str) -> None:  # type: ignore[no-untyped-def]
    assert _classify(_mail(subject=subject, attachments=[("附件2.docx", DOCX)]), make_settings()).intent == intent
