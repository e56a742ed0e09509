"""parsers/smime.py through parsers/mime.py: a signed mail's signature is checked and is not an
attachment; an opaque signed mail's content is read; an encrypted one is named as encrypted."""

from __future__ import annotations

from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from intake.dev.samples import Person, individual_form
from parsers.mime import parse_message
from parsers.smime import ENCRYPTED_MAIL
from tests.conftest import read_as_pipeline
from tests.makers import signing_identity, smime_mail

FORM = individual_form([Person("吴杰", "男", "贵阳市南明区市场监督管理局科长", rank=1)], "贵州省")
HEADERS = {
    "From": "fgdj-gz@aic.example.cn",
    "To": "gsfgdj@126.com",
    "Subject": "=?utf-8?b?6LS15bee55yB5o6o6I2Q5p2Q5paZ?=",
}
IDENTITY = signing_identity("贵州省市场监督管理局", "fgdj-gz@aic.example.cn")


def _entity() -> bytes:
    inner = MIMEMultipart()
    inner.attach(MIMEText("见附件，请查收。", "plain", "utf-8"))
    part = MIMEApplication(FORM)
    part.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "附件2：个人推荐表.docx"))
    inner.attach(part)
    return inner.as_bytes()


@pytest.mark.parametrize("how", ["signed", "opaque"])
def test_a_signed_mail_is_read_and_its_signature_checked(how: str) -> None:
    parsed = parse_message(smime_mail(_entity(), HEADERS, IDENTITY, how))
    assert parsed.subject == "贵州省推荐材料" and "见附件" in parsed.text
    assert [a.filename for a in parsed.attachments] == ["附件2：个人推荐表.docx"]  # no smime.p7s, no p7m
    assert [(v.state, v.signer) for v in parsed.signatures] == [("valid", "贵州省市场监督管理局")]
    (reading,) = [read_as_pipeline(a.filename, a.content_type, a.payload) for a in parsed.attachments]
    assert [x.name for x in reading.records] == ["吴杰"]


def test_a_signed_mail_stored_with_bare_line_feeds_still_verifies() -> None:
    raw = smime_mail(_entity(), HEADERS, IDENTITY, "signed").replace(b"\r\n", b"\n")
    assert [v.state for v in parse_message(raw).signatures] == ["valid"]


def test_content_changed_after_signing_is_flagged_and_still_read() -> None:
    raw = smime_mail(_entity(), HEADERS, IDENTITY, "signed")
    header_changed = raw.replace(b"Content-Type: text/plain", b"Content-Type: text/plain; format=flowed", 1)
    at = raw.index(b"\r\n\r\n", raw.index(b"filename*=")) + 4  # the form's first base64 line
    file_changed = raw[:at] + (b"B" if raw[at : at + 1] != b"B" else b"C") + raw[at + 1 :]
    for bad in (header_changed, file_changed):
        parsed = parse_message(bad)
        assert [(v.state, v.detail) for v in parsed.signatures] == [("invalid", "邮件内容与签名不符，签名后被改动")]
        assert [a.filename for a in parsed.attachments] == ["附件2：个人推荐表.docx"]


def test_an_encrypted_mail_is_named_encrypted() -> None:
    parsed = parse_message(smime_mail(_entity(), HEADERS, IDENTITY, "encrypted"))
    (a,) = parsed.attachments
    r = read_as_pipeline(a.filename, a.content_type, a.payload)
    assert (r.type, r.status, r.detail) == ("p7m", "unreadable", ENCRYPTED_MAIL)


def test_an_attached_p7m_file_is_read_like_a_mail() -> None:
    import base64
    import email

    outer = email.message_from_bytes(smime_mail(_entity(), HEADERS, IDENTITY, "opaque"))
    der = base64.b64decode(outer.get_payload())
    r = read_as_pipeline("贵州省推荐材料.p7m", "", der)
    assert (r.role, r.status) == ("mail", "expanded")
    assert [(c.filename, [x.name for x in c.records]) for c in r.children] == [("附件2：个人推荐表.docx", ["吴杰"])]
