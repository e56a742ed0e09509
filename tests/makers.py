"""Containers made the way offices' tools make them, written by the tests themselves: a RAR 4
archive (stored members, as WinRAR writes with "store"), a zip whose member is encrypted."""

from __future__ import annotations

import io
import struct
import time
import zipfile
import zlib


def _rar_block(head_type: int, flags: int, body: bytes, add: bytes = b"") -> bytes:
    """A RAR 4 block: CRC16 (the low half of CRC32 over the header after it), type, flags, size."""
    header = struct.pack("<BHH", head_type, flags, 7 + len(body)) + body
    crc = zlib.crc32(header) & 0xFFFF
    return struct.pack("<H", crc) + header + add


def rar4_stored(members: list[tuple[str, bytes]], *, unicode_names: bool = True) -> bytes:
    """A RAR 4 archive holding ``members`` stored (method 0x30). Names are written as WinRAR does:
    UTF-8 with the Unicode flag, or (``unicode_names=False``) in the Chinese Windows code page."""
    out = bytearray(b"Rar!\x1a\x07\x00")
    out += _rar_block(0x73, 0, struct.pack("<HI", 0, 0))
    stamp = time.localtime(time.mktime((2017, 4, 20, 9, 30, 0, 0, 0, -1)))
    dos_time = (
        (stamp.tm_year - 1980) << 25
        | stamp.tm_mon << 21
        | stamp.tm_mday << 16
        | stamp.tm_hour << 11
        | stamp.tm_min << 5
        | stamp.tm_sec // 2
    )
    for name, data in members:
        raw_name = name.replace("/", "\\").encode("utf-8" if unicode_names else "gbk")
        flags = 0x8000 | (0x0200 if unicode_names else 0)
        body = struct.pack(
            "<IIBIIBBHI",
            len(data),  # packed size
            len(data),  # unpacked size
            2,  # host OS: Windows
            zlib.crc32(data),
            dos_time,
            29,  # version needed: 2.9
            0x30,  # method: store
            len(raw_name),
            0x20,  # attributes: archive
        )
        out += _rar_block(0x74, flags, body + raw_name, data)
    out += _rar_block(0x7B, 0x4000, b"")
    return bytes(out)


def zip_with_encrypted(members: list[tuple[str, bytes]], encrypted: set[str]) -> bytes:
    """A zip whose members named in ``encrypted`` carry the encryption flag (as an archive made
    with a password does; their bytes are never read)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)
    data = bytearray(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        infos = zf.infolist()
    central = data.rfind(b"PK\x05\x06")
    (cd_offset,) = struct.unpack_from("<I", data, central + 16)
    pos = cd_offset
    for info in infos:
        if info.filename in encrypted:
            struct.pack_into("<H", data, info.header_offset + 6, info.flag_bits | 0x1)
            struct.pack_into("<H", data, pos + 8, info.flag_bits | 0x1)
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        pos += 46 + name_len + extra_len + comment_len
    return bytes(data)


# --------------------------------------------------------------------------- Outlook

_FREE, _END, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A Compound File (CFB version 3, 512-byte sectors) holding ``streams`` by path
    ("storage/stream"): what Word 97 and Outlook write. Streams under 4096 bytes go to the mini
    stream, as the format requires."""
    tree: dict[str, dict] = {}
    for path in streams:
        node = tree
        for part in path.split("/")[:-1]:
            node = node.setdefault(part, {})
        node[path.split("/")[-1]] = path

    big = {p: d for p, d in streams.items() if len(d) >= 4096}
    small = {p: d for p, d in streams.items() if len(d) < 4096}
    mini = bytearray()
    mini_fat: list[int] = []
    mini_start: dict[str, int] = {}
    for path, data in small.items():
        count = max(1, -(-len(data) // 64))
        mini_start[path] = len(mini_fat)
        mini_fat.extend(range(len(mini_fat) + 1, len(mini_fat) + count))
        mini_fat.append(_END)
        mini += data.ljust(count * 64, b"\0")

    sectors: list[bytes] = []
    fat: list[int] = []

    def place(data: bytes) -> int:
        count = max(1, -(-len(data) // 512))
        start = len(sectors)
        for i in range(count):
            sectors.append(data[i * 512 : (i + 1) * 512].ljust(512, b"\0"))
        fat.extend(range(start + 1, start + count))
        fat.append(_END)
        return start

    big_start = {p: place(d) for p, d in big.items()}
    mini_stream_start = place(bytes(mini)) if mini else _END
    mini_fat_bytes = struct.pack(f"<{len(mini_fat)}I", *mini_fat)
    mini_fat_bytes = mini_fat_bytes.ljust(-(-len(mini_fat_bytes) // 512) * 512, b"\xff")
    mini_fat_start = place(mini_fat_bytes) if mini_fat else _END

    entries: list[bytearray] = []

    def entry(name: str, kind: int, start: int, size: int) -> int:
        e = bytearray(128)
        raw = name.encode("utf-16-le")[:62]
        e[: len(raw)] = raw
        struct.pack_into("<HBB", e, 64, len(raw) + 2, kind, 1)
        struct.pack_into("<III", e, 68, _NOSTREAM, _NOSTREAM, _NOSTREAM)
        struct.pack_into("<IQ", e, 116, start, size)
        entries.append(e)
        return len(entries) - 1

    def children(node: dict) -> int:
        ids = []
        for name, value in node.items():
            if isinstance(value, dict):
                i = entry(name, 1, 0, 0)
                struct.pack_into("<I", entries[i], 76, children(value))
            else:
                data = streams[value]
                start = big_start[value] if value in big_start else mini_start[value]
                i = entry(name, 2, start, len(data))
            ids.append((len(name), name.upper(), i))
        ids.sort()
        return _balanced([i for _, _, i in ids], entries)

    root = entry("Root Entry", 5, mini_stream_start, len(mini))
    struct.pack_into("<I", entries[root], 76, children(tree))
    while len(entries) % 4:
        e = bytearray(128)
        struct.pack_into("<III", e, 68, _NOSTREAM, _NOSTREAM, _NOSTREAM)
        entries.append(e)
    dir_start = place(b"".join(entries))

    fat_count = 1
    while (len(sectors) + fat_count) > fat_count * 128:
        fat_count += 1
    fat_first = len(sectors)
    fat.extend([_FATSECT] * fat_count)
    fat.extend([_FREE] * (fat_count * 128 - len(fat)))
    fat_bytes = struct.pack(f"<{len(fat)}I", *fat)
    for i in range(fat_count):
        sectors.append(fat_bytes[i * 512 : (i + 1) * 512])
    assert fat_count <= 109

    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into(
        "<IIIIIIIII",
        header,
        40,
        0,
        fat_count,
        dir_start,
        0,
        4096,
        mini_fat_start,
        -(-len(mini_fat) // 128),
        _END,
        0,
    )
    difat = [fat_first + i for i in range(fat_count)] + [_FREE] * (109 - fat_count)
    struct.pack_into("<109I", header, 76, *difat)
    return bytes(header) + b"".join(sectors)


def _balanced(ids: list[int], entries: list[bytearray]) -> int:
    """The siblings of one storage as a binary tree (left, right), rooted at the middle one."""
    if not ids:
        return _NOSTREAM
    mid = len(ids) // 2
    struct.pack_into("<II", entries[ids[mid]], 68, _balanced(ids[:mid], entries), _balanced(ids[mid + 1 :], entries))
    return ids[mid]


def _props(values: list[tuple[int, int, bytes | int]], header: bytes) -> tuple[bytes, dict[str, bytes]]:
    """A ``__properties_version1.0`` stream and the ``__substg1.0_`` streams of its variable values."""
    out = bytearray(header)
    streams = {}
    for pid, ptype, value in values:
        if isinstance(value, int):
            out += struct.pack("<IIi4x", pid << 16 | ptype, 6, value)
        else:
            out += struct.pack("<III4x", pid << 16 | ptype, 6, len(value) + (2 if ptype == 0x1F else 0))
            streams[f"__substg1.0_{pid:04X}{ptype:04X}"] = value
    return bytes(out), streams


def outlook_msg(subject: str, body: str, attachments: list[tuple[str, bytes]], sender: str = "") -> bytes:
    """An Outlook message saved as .msg (what "Save As… Outlook Message Format" writes): subject,
    plain body, sender and attachments by value, in a compound file."""

    def text(s: str) -> bytes:
        return s.encode("utf-16-le")

    top = [(0x001A, 0x1F, text("IPM.Note")), (0x0037, 0x1F, text(subject)), (0x1000, 0x1F, text(body))]
    if sender:
        top += [(0x0C1F, 0x1F, text(sender)), (0x0C1A, 0x1F, text(sender))]
    header = struct.pack("<8xIIII8x", 0, len(attachments), 0, len(attachments))
    props, substreams = _props(top, header)
    streams = {"__properties_version1.0": props, **substreams}
    streams["__nameid_version1.0/__substg1.0_00020102"] = b""
    for i, (name, data) in enumerate(attachments):
        folder = f"__attach_version1.0_#{i:08X}"
        ext = "." + name.rsplit(".", 1)[-1] if "." in name else ""
        values = [
            (0x3705, 0x03, 1),  # attached by value
            (0x3707, 0x1F, text(name)),
            (0x3704, 0x1F, text(name[:8])),
            (0x3703, 0x1F, text(ext)),
            (0x3701, 0x0102, data),
            (0x0E20, 0x03, len(data)),
        ]
        attach_props, attach_streams = _props(values, b"\0" * 8)
        streams[f"{folder}/__properties_version1.0"] = attach_props
        for key, value in attach_streams.items():
            streams[f"{folder}/{key}"] = value
    return compound_file(streams)


def winmail_dat(attachments: list[tuple[str, bytes]], body: str = "", codepage: int = 936) -> bytes:
    """A TNEF stream (winmail.dat), as Outlook sends rich-text mail: the message's attributes,
    then each attachment's rendering, title (in the ANSI code page) and data."""

    def attribute(level: int, kind: int, ident: int, data: bytes) -> bytes:
        return struct.pack("<BII", level, kind << 16 | ident, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)

    out = bytearray(struct.pack("<IH", 0x223E9F78, 0x1234))
    out += attribute(1, 0x0009, 0x9006, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += attribute(1, 0x0006, 0x9007, struct.pack("<II", codepage, 0))  # attOemCodepage
    out += attribute(1, 0x0001, 0x8008, b"IPM.Microsoft Mail.Note\0")  # attMessageClass
    if body:
        out += attribute(1, 0x0002, 0x800C, body.encode("gb18030") + b"\0")  # attBody
    for name, data in attachments:
        out += attribute(2, 0x0006, 0x9002, struct.pack("<HIIHHI", 1, 0xFFFFFFFF, 0, 0, 0, 0))  # attAttachRendData
        out += attribute(2, 0x0001, 0x8010, name.encode("gbk") + b"\0")  # attAttachTitle
        out += attribute(2, 0x0006, 0x800F, data)  # attAttachData
    return bytes(out)


# --------------------------------------------------------------------------- S/MIME


def signing_identity(common_name: str, address: str):  # type: ignore[no-untyped-def]
    """A key and a self-issued certificate, as a provincial office's mail client holds."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, common_name), x509.NameAttribute(NameOID.EMAIL_ADDRESS, address)]
    )
    start = datetime.datetime(2017, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def smime_mail(entity: bytes, headers: dict[str, str], identity, how: str) -> bytes:  # type: ignore[no-untyped-def]
    """``entity`` (a MIME entity: the body and attachments) sent as S/MIME: ``signed``
    (multipart/signed, the signature detached), ``opaque`` (smime.p7m carrying the entity) or
    ``encrypted`` (enveloped for the certificate's holder)."""
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.serialization import pkcs7

    key, cert = identity
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("utf-8")
    if how == "signed":
        signed = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(entity)
            .add_signer(cert, key, hashes.SHA256())
            .sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
        )
        return head + signed
    if how == "opaque":
        der = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(entity)
            .add_signer(cert, key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [])
        )
        smime_type = "signed-data"
    else:
        der = pkcs7.PKCS7EnvelopeBuilder().set_data(entity).add_recipient(cert).encrypt(serialization.Encoding.DER, [])
        smime_type = "enveloped-data"
    body = base64.encodebytes(der).replace(b"\n", b"\r\n")
    return (
        head
        + b"MIME-Version: 1.0\r\n"
        + f'Content-Type: application/pkcs7-mime; smime-type={smime_type}; name="smime.p7m"\r\n'.encode()
        + b'Content-Disposition: attachment; filename="smime.p7m"\r\n'
        + b"Content-Transfer-Encoding: base64\r\n\r\n"
        + body
    )


# --------------------------------------------------------------------------- Word text boxes

_BOX_NS = (
    'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'xmlns:v="urn:schemas-microsoft-com:vml"'
)


def _box_content(box: list[str] | list[list[str]]) -> str:
    from xml.sax.saxutils import escape

    if box and isinstance(box[0], list):
        rows = "".join(
            "<w:tr>" + "".join(f"<w:tc><w:p><w:r><w:t>{escape(c)}</w:t></w:r></w:p></w:tc>" for c in row) + "</w:tr>"
            for row in box
        )
        return f"<w:tbl>{rows}</w:tbl><w:p/>"
    return "".join(f"<w:p><w:r><w:t>{escape(str(line))}</w:t></w:r></w:p>" for line in box)


def docx_with_text_boxes(title: str, boxes: list, *, fallback: bool = True, vml_only: bool = False) -> bytes:
    """A Word document whose form is laid out in text boxes, as Word 2010+ saves one: each box a
    DrawingML shape in ``mc:Choice`` with (``fallback``) the same box in VML under ``mc:Fallback``;
    ``vml_only``: a plain VML box, as older Word and WPS write it. A box holds lines or a table."""
    import io

    from docx import Document
    from docx.oxml import parse_xml

    doc = Document()
    doc.add_paragraph(title)
    body = doc.element.body
    for box in boxes:
        inner = f"<w:txbxContent>{_box_content(box)}</w:txbxContent>"
        vml = f'<w:pict><v:shape style="width:200pt;height:80pt"><v:textbox>{inner}</v:textbox></v:shape></w:pict>'
        if vml_only:
            run = f"<w:r>{vml}</w:r>"
        else:
            choice = (
                '<mc:Choice Requires="wps"><w:drawing><wp:anchor><a:graphic><a:graphicData>'
                f"<wps:wsp><wps:txbx>{inner}</wps:txbx></wps:wsp>"
                "</a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>"
            )
            alternative = f"<mc:Fallback>{vml}</mc:Fallback>" if fallback else ""
            run = f"<w:r><mc:AlternateContent>{choice}{alternative}</mc:AlternateContent></w:r>"
        body.insert(len(body) - 1, parse_xml(f"<w:p {_BOX_NS}>{run}</w:p>"))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def docx_with_picture(image: bytes, title: str = "") -> bytes:
    """A Word document holding only a picture (a form scanned and pasted in)."""
    import io

    from docx import Document
    from docx.shared import Cm

    doc = Document()
    if title:
        doc.add_paragraph(title)
    doc.add_picture(io.BytesIO(image), width=Cm(16))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- scans and photos

_CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
)


def rendered_pages(docx: bytes, dpi: int = 200) -> list:  # type: ignore[type-arg]
    """A Word document as printed: converted to PDF by LibreOffice, rasterised at ``dpi``."""
    import pypdfium2

    from intake.ingest.convert import convert

    pdf = pypdfium2.PdfDocument(convert(docx, "docx", "pdf"))
    return [page.render(scale=dpi / 72).to_pil().convert("RGB") for page in pdf]


def red_seal(image, centre: tuple[int, int], radius: int = 90, text: str = "市场监督管理局"):  # type: ignore[no-untyped-def]
    """A round red seal (ring, star, the unit's name round the top) stamped on ``image``: the ink
    multiplies with the print, as stamp ink does, so black under it stays black."""
    import math
    from pathlib import Path

    from PIL import Image, ImageChops, ImageDraw, ImageFont

    red = (215, 35, 45)
    layer = Image.new("RGB", image.size, (255, 255, 255))
    draw = ImageDraw.Draw(layer)
    cx, cy = centre
    draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], outline=red, width=max(3, radius // 14))
    points = []
    for k in range(10):
        angle = -math.pi / 2 + k * math.pi / 5
        r = radius * (0.3 if k % 2 == 0 else 0.12)
        points.append((cx + r * math.cos(angle), cy + r * math.sin(angle)))
    draw.polygon(points, fill=red)
    font_path = next((f for f in _CJK_FONTS if Path(f).exists()), None)
    font = ImageFont.truetype(font_path, max(10, radius // 5)) if font_path else ImageFont.load_default()
    for i, ch in enumerate(text):
        angle = math.radians(-155 + 130 * i / max(1, len(text) - 1))
        draw.text(
            (cx + radius * 0.72 * math.cos(angle), cy + radius * 0.72 * math.sin(angle)),
            ch,
            fill=red,
            font=font,
            anchor="mm",
        )
    return ImageChops.multiply(image, layer)


def scanned(image, angle: float, seed: int, quality: int = 55) -> bytes:  # type: ignore[no-untyped-def]
    """``image`` as a scanner or a phone gives it back: turned by ``angle`` degrees, noisy,
    slightly blurred, JPEG-compressed."""
    import io

    import numpy as np
    from PIL import Image, ImageFilter

    turned = image.rotate(angle, resample=Image.BICUBIC, expand=True, fillcolor=(250, 250, 248))
    pixels = np.asarray(turned).astype(np.int16)
    pixels = pixels + np.random.default_rng(seed).normal(0, 10, pixels.shape).astype(np.int16)
    noisy = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))
    buf = io.BytesIO()
    noisy.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def opinion_cells(image) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """Where a seal goes on a rendered 推荐表: the middle of each opinion cell's value, found as the
    two lowest tall boxes of the table's last rows (the page is white, the rules black)."""
    import numpy as np

    gray = np.asarray(image.convert("L"))
    dark_rows = np.where((gray < 128).sum(axis=1) > gray.shape[1] * 0.5)[0]
    rules = [int(y) for i, y in enumerate(dark_rows) if i == 0 or y - dark_rows[i - 1] > 3]
    bottom_three = rules[-3:]
    dark_cols = np.where(
        (gray[bottom_three[0] : bottom_three[-1]] < 128).sum(axis=0) > 0.9 * (bottom_three[-1] - bottom_three[0])
    )[0]
    cols = [int(x) for i, x in enumerate(dark_cols) if i == 0 or x - dark_cols[i - 1] > 3]
    x = (cols[1] + cols[-1]) // 2 - (cols[-1] - cols[1]) // 4
    return [(x, (bottom_three[0] + bottom_three[1]) // 2), (x, (bottom_three[1] + bottom_three[2]) // 2)]
