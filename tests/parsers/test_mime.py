"""parsers/mime.py: the peers' corpus and the Chinese-mail repairs."""

from __future__ import annotations

import base64
import email
from pathlib import Path

import pytest

from parsers.charsets import decode_bytes, decode_header_text
from parsers.mime import parse_message
from tests.conftest import CORPUS, require_corpus

CORPUS_FILES = sorted(CORPUS.glob("*/*.eml"))


def test_corpus_is_there() -> None:
    assert len(require_corpus()) >= 100


def _decodable(raw_value: str | None) -> bool:
    """True when the header's source bytes decode cleanly in some charset we try."""
    if raw_value is None:
        return True
    data = raw_value.encode("ascii", "surrogateescape")
    if b"\xef\xbf\xbd" in data:
        return False  # the source itself holds U+FFFD
    for codec in ("utf-8", "gb18030", "big5"):
        try:
            data.decode(codec)
            break
        except UnicodeDecodeError:
            continue
    else:
        return False
    # Encoded words whose bytes do not decode in their declared charset, or in GB18030/UTF-8.
    for chunk, charset in email.header.decode_header(data.decode("ascii", "replace")):
        if isinstance(chunk, bytes) and charset:
            if "\ufffd" in decode_bytes(chunk, charset) and "\ufffd" in chunk.decode("gb18030", "replace"):
                return False
    return True


def _raw_header(raw: bytes, name: str) -> str | None:
    msg = email.message_from_bytes(raw)
    for key, value in msg.raw_items():
        if key.lower() == name:
            return str(value)
    return None


MOJIBAKE = ("Ã", "â€", "Â", "锟斤拷", "ï»¿")


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_corpus_message_parses_cleanly(path: Path) -> None:
    raw = path.read_bytes()
    parsed = parse_message(raw)
    for name, value in (("subject", parsed.subject), ("from", parsed.from_name)):
        if _decodable(_raw_header(raw, name)):
            assert "\ufffd" not in value, f"{name}: {value!r}"
            assert not any(m in value for m in MOJIBAKE), f"{name}: {value!r}"
    for att in parsed.attachments:
        assert isinstance(att.payload, bytes)
        if "\ufffd" in att.filename:
            # Only where the source bytes themselves are broken.
            assert b"\xef\xbf\xbd" in raw or b'\xd0"' in raw or path.name in ("mailformed-headers.eml",)


def test_gb2312_label_with_gbk_names() -> None:
    require_corpus()
    raw = (CORPUS / "kopano" / "gb2312_18030.eml").read_bytes()
    parsed = parse_message(raw)
    assert parsed.from_name == "梁祐晟"  # 祐 is GBK, not GB 2312
    assert parsed.subject.startswith("讀取")


def test_big5_raw_bytes_use_the_message_charset() -> None:
    require_corpus()
    parsed = parse_message((CORPUS / "kopano" / "big5.eml").read_bytes())
    assert parsed.subject == "養樂多線上訂購"


def _gbk_word(text: str) -> str:
    return "=?gb2312?B?" + base64.b64encode(text.encode("gbk")).decode() + "?="


def test_encoded_word_inside_quoted_filename_gbk_under_gb2312_label() -> None:
    name = "附件2：王喆个人推荐表.docx"
    raw = (
        "From: =?gb2312?B?" + base64.b64encode("李堃".encode("gbk")).decode() + "?= <a@b.cn>\r\n"
        "Subject: " + _gbk_word("河北省推荐材料（王喆）") + "\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
        "--XX\r\nContent-Type: text/plain; charset=gb2312\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode("正文：堃".encode("gbk")).decode()
        + "\r\n"
        '--XX\r\nContent-Type: application/octet-stream; name="' + _gbk_word(name) + '"\r\n'
        'Content-Disposition: attachment; filename="' + _gbk_word(name) + '"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--XX--\r\n"
    ).encode()
    parsed = parse_message(raw)
    assert parsed.from_name == "李堃"
    assert parsed.subject == "河北省推荐材料（王喆）"
    assert parsed.text.strip() == "正文：堃"
    assert [a.filename for a in parsed.attachments] == [name]


def test_raw_8bit_filename_and_rfc2231() -> None:
    gbk_name = "事迹材料（李堃）.doc".encode("gbk")
    pct = "".join(f"%{b:02X}" for b in "推荐表（王喆）.docx".encode("gbk"))
    raw = (
        b"From: x@y.cn\r\nSubject: t\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
        b'--B\r\nContent-Type: application/msword\r\nContent-Disposition: attachment; filename="'
        + gbk_name
        + b'"\r\n\r\nx\r\n--B\r\nContent-Type: application/octet-stream\r\n'
        b"Content-Disposition: attachment; filename*=gb2312''" + pct.encode() + b"\r\n\r\ny\r\n--B--\r\n"
    )
    parsed = parse_message(raw)
    assert [a.filename for a in parsed.attachments] == ["事迹材料（李堃）.doc", "推荐表（王喆）.docx"]


def test_encoded_word_split_across_a_character() -> None:
    data = "王喆".encode()
    words = [f"=?utf-8?B?{base64.b64encode(data[:2]).decode()}?=", f"=?utf-8?B?{base64.b64encode(data[2:]).decode()}?="]
    assert decode_header_text(" ".join(words)) == "王喆"
    assert decode_header_text("=?utf-8?q?=e2?==?utf-8?q?=98?==?utf-8?q?=ba?=") == "☺"


def test_forwarded_message_is_unpacked_with_attachments() -> None:
    inner = email.message.EmailMessage()
    inner["From"] = "fgdj-bj@aic.example.cn"
    inner["Subject"] = "北京市推荐材料"
    inner.set_content("见附件")
    inner.add_attachment(b"PK\x03\x04", maintype="application", subtype="octet-stream", filename="个人推荐表.docx")
    outer = email.message.EmailMessage()
    outer["From"] = "staff@qq.com"
    outer["Subject"] = "Fw: 北京市推荐材料"
    outer.set_content("转发")
    outer.add_attachment(inner)
    parsed = parse_message(bytes(outer))
    assert [a.filename for a in parsed.attachments] == ["个人推荐表.docx"]
    assert parsed.forwarded[0].from_addr == "fgdj-bj@aic.example.cn"
    assert parsed.forwarded[0].subject == "北京市推荐材料"


def test_forwarding_nested_deeper_than_the_limit_is_bounded() -> None:
    msg = email.message.EmailMessage()
    msg["Subject"] = "0"
    msg.set_content("x")
    for i in range(40):
        outer = email.message.EmailMessage()
        outer["Subject"] = str(i + 1)
        outer.set_content("fw")
        outer.add_attachment(msg)
        msg = outer
    parsed = parse_message(bytes(msg))
    assert any("nested deeper" in d for d in parsed.defects)


def test_inline_cid_image_is_not_an_attachment() -> None:
    msg = email.message.EmailMessage()
    msg["Subject"] = "s"
    msg.set_content("text")
    msg.add_alternative('<p><img src="cid:logo1"></p>', subtype="html")
    html_part = msg.get_payload()[1]
    html_part.add_related(b"\x89PNG\r\n\x1a\n....", maintype="image", subtype="png", cid="<logo1>")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="推荐表.pdf")
    parsed = parse_message(bytes(msg))
    assert [a.filename for a in parsed.attachments] == ["推荐表.pdf"]
