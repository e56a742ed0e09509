"""parsers/scans.py and parsers/ocr.py on scans the tests make themselves: 推荐表 rendered from Word
by LibreOffice, rasterised at 200 dpi, stamped with red seals, turned up to ±5°, noised,
JPEG-compressed; a phone's HEIC photo lying on its side; an image-only PDF; a picture pasted into
Word; a scanned narrative; a long scan past its budget."""

from __future__ import annotations

import io
import random

import pytest

from intake.dev.samples import Person, individual_form, narrative_doc
from parsers.reading import ReadLimits
from tests.conftest import read_as_pipeline
from tests.makers import docx_with_picture, opinion_cells, red_seal, rendered_pages, scanned
from tests.servers import require

SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = ["建国", "秀英", "志强", "丽娟", "晓东", "海燕", "国庆", "春梅", "文军", "玉兰"]
ANGLES = [-5, -4, -2.5, -1, 0, 0.5, 1.5, 3, 4, 5]


def _need_office() -> None:
    from intake.ingest.convert import office_binary

    require(office_binary() is not None, "LibreOffice is not installed (libreoffice-writer-nogui)")


def _people() -> list[Person]:
    rng = random.Random(24)
    return [
        Person(
            SURNAMES[i] + GIVEN[i],
            "男" if i % 2 == 0 else "女",
            f"某市某区市场监督管理局{rng.choice(['科长', '所长', '副局长'])}",
            rank=1,
            birth=f"19{rng.randint(60, 89)}.{rng.randint(1, 12):02d}",
        )
        for i in range(10)
    ]


def _stamped_scan(person: Person, angle: float, seed: int, seal: bool = True) -> bytes:
    (page,) = rendered_pages(individual_form([person], "贵州省"))[:1]
    if seal:
        for centre in opinion_cells(page):
            page = red_seal(page, centre)
    return scanned(page, angle, seed)


def test_ten_stamped_scans_give_their_nominees_and_their_seals() -> None:
    _need_office()
    people = _people()
    exact = seals = 0
    misses = []
    for i, (person, angle) in enumerate(zip(people, ANGLES, strict=True)):
        r = read_as_pipeline(f"推荐表扫描件{i}.jpg", "image/jpeg", _stamped_scan(person, angle, i))
        assert r.recognised and r.status == "parsed", r.detail
        got = r.records[0] if r.records else None
        read = (got.name, got.fields.get("sex"), got.fields.get("birth")) if got else None
        if read == (person.name, person.sex, person.birth):
            exact += 1
        else:
            misses.append((angle, read, (person.name, person.sex, person.birth)))
        if got and [o.seal for o in got.opinions] == ["found", "found"]:
            seals += 1
        if got:
            # Every field read this way is marked, with its confidence and the picture of its cell.
            assert {"name", "sex", "birth"} <= set(got.ocr) and all(0 < v["confidence"] <= 1 for v in got.ocr.values())
            assert got.ocr["name"]["crop"].startswith(b"\x89PNG")
    assert exact >= 9, misses
    assert seals == 10


def test_an_opinion_signed_and_dated_without_a_seal_is_noted() -> None:
    _need_office()
    person = Person(
        "王建国", "男", "某市市场监督管理局科长", rank=1, opinion="同意推荐。2017年4月18日", birth="1975.03"
    )
    r = read_as_pipeline("推荐表扫描件.jpg", "image/jpeg", _stamped_scan(person, 1.0, 7, seal=False))
    (record,) = r.records
    assert record.opinions[0].seal == "missing"


def test_a_phone_photo_in_heic_lying_on_its_side() -> None:
    _need_office()
    import pillow_heif
    from PIL import Image

    person = _people()[3]
    (page,) = rendered_pages(individual_form([person], "贵州省"))[:1]
    photo = Image.open(io.BytesIO(scanned(page, 2, 3, quality=85))).rotate(90, expand=True)
    heif = pillow_heif.from_pillow(photo)
    buf = io.BytesIO()
    heif.save(buf, quality=80)
    r = read_as_pipeline("IMG_2041.HEIC", "image/heic", buf.getvalue())
    assert r.type == "heic" and r.recognised
    assert [(x.name, x.fields.get("sex")) for x in r.records] == [(person.name, person.sex)]


def test_an_image_only_pdf_and_a_picture_pasted_into_word() -> None:
    _need_office()
    from PIL import Image

    person = _people()[5]
    jpeg = _stamped_scan(person, -2, 5)
    pdf = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(pdf, "PDF", resolution=200)
    for name, data in (("推荐表.pdf", pdf.getvalue()), ("附件2：个人推荐表.docx", docx_with_picture(jpeg))):
        r = read_as_pipeline(name, "", data)
        assert r.recognised and r.role == "individual_form", (name, r.status, r.detail)
        assert [x.name for x in r.records] == [person.name]
        assert "待人工核对" in r.detail


def test_a_scanned_narrative_is_read_as_text_and_counted() -> None:
    _need_office()
    rng = random.Random(3)
    (page,) = rendered_pages(narrative_doc("王建国", 600, rng))[:1]
    r = read_as_pipeline("王建国事迹材料扫描件.jpg", "image/jpeg", scanned(page, 1.5, 9))
    assert r.recognised and r.role == "narrative" and r.words is not None
    assert r.words.words > 400
    assert "王建国" in r.narrative_text


def test_a_long_scan_keeps_what_was_read_within_its_budget() -> None:
    _need_office()

    person = _people()[0]
    (page,) = rendered_pages(individual_form([person], "贵州省"))[:1]
    pdf = io.BytesIO()
    page.convert("L").save(pdf, "PDF", resolution=200, save_all=True, append_images=[page.convert("L")] * 4)
    r = read_as_pipeline("推荐表扫描件.pdf", "", pdf.getvalue(), limits=ReadLimits(ocr_pages=2))
    assert r.status == "parsed" and r.recognised
    assert "已识别前 2 页，其余 3 页未识别" in r.limited
    assert [x.name for x in r.records] == [person.name, person.name]


def test_a_picture_with_no_form_or_text_stays_a_scan() -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (800, 600), (240, 240, 240)).save(buf, "PNG")
    r = read_as_pipeline("照片.png", "image/png", buf.getvalue())
    assert (r.status, r.role) == ("scan_only", "scan")
    assert "文字识别未找到" in r.detail


def test_a_damaged_image_is_unreadable() -> None:
    r = read_as_pipeline("推荐表.jpg", "image/jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 100)
    assert r.status == "unreadable" and "图片无法打开" in r.detail


@pytest.mark.parametrize("text", ["主要重迹", "主要迹", "推荐排厅"])
def test_a_label_the_recogniser_got_one_character_wrong(text: str) -> None:
    from parsers.labels import field_of
    from parsers.scans import _label

    assert field_of(_label(text)) is not None
