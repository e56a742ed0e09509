"""Text recognition of scans and photos, offline: RapidOCR (its Chinese models ship inside the
``rapidocr-onnxruntime`` wheel; nothing is downloaded) over pages straightened and cut into the
form's cells with OpenCV. The only module that imports the recogniser, OpenCV, NumPy, pypdfium2
or pillow-heif.

A page comes back as its cells in rows (each cell's text, the lowest confidence of its words,
whether red ink (a seal) lies on it, and a small picture of it for a person to check), and the
text outside any cell. Red ink is read out of the way: the page is recognised in its red channel,
where a red seal fades and black print stays.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
import pillow_heif
import pypdfium2
from PIL import Image, ImageOps

pillow_heif.register_heif_opener()

DPI = 200
MAX_PIXELS = 24_000_000  # a page past this (a poster-sized PDF page, a 50-megapixel photo) is scaled down
MAX_SIDE = 3400  # a phone's photo is scaled to about an A4 page at 200 dpi before recognition
CROP_WIDTH = 640


class OcrError(Exception):
    """The file holds no picture that can be decoded (damaged, or not an image at all)."""


@dataclass
class OcrCell:
    box: tuple[int, int, int, int]  # x, y, width, height on the straightened page
    text: str = ""
    confidence: float = 1.0
    seal: bool = False  # red ink of a seal's size lies on the cell
    crop: bytes = b""  # PNG of the cell, for a person to check what was read


@dataclass
class OcrPage:
    index: int
    angle: float  # degrees the page was turned to straighten it
    rows: list[list[OcrCell]] = field(default_factory=list)  # the table's cells with text, row by row
    loose: list[str] = field(default_factory=list)  # lines of text outside any cell, top to bottom
    seconds: float = 0.0

    @property
    def text(self) -> str:
        cells = ["\t".join(c.text.replace("\n", "") for c in row) for row in self.rows]
        return "\n".join([*self.loose, *cells])


@lru_cache(maxsize=1)
def _engine() -> Any:
    # Deferred for start-up time: onnxruntime and the models load only when a scan comes.
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def page_count(payload: bytes, kind: str) -> int:
    if kind == "pdf":
        try:
            return len(pypdfium2.PdfDocument(payload))
        except pypdfium2.PdfiumError as exc:
            raise OcrError("PDF文件已损坏，无法识别") from exc
    return 1


def pages(payload: bytes, kind: str, first: int = 0) -> Iterator[np.ndarray]:
    """The pages of a PDF (rendered at 200 dpi) or of an image (its EXIF turn applied; a TIFF's
    frames; a GIF's first), as BGR arrays, one at a time."""
    if kind == "pdf":
        try:
            doc = pypdfium2.PdfDocument(payload)
        except pypdfium2.PdfiumError as exc:
            raise OcrError("PDF文件已损坏，无法识别") from exc
        try:
            for i in range(first, len(doc)):
                page = doc[i]
                width, height = page.get_size()
                scale = min(DPI / 72, math.sqrt(MAX_PIXELS / max(1.0, width * height)))
                image = page.render(scale=scale).to_pil().convert("RGB")
                page.close()
                yield _bgr(image)
        finally:
            doc.close()
        return
    try:
        with Image.open(io.BytesIO(payload)) as opened:
            frames = getattr(opened, "n_frames", 1) if kind == "tiff" else 1
            for i in range(first, frames):
                opened.seek(i)
                image = ImageOps.exif_transpose(opened.convert("RGB"))
                yield _bgr(_bounded(image))
    except (OSError, ValueError, Image.DecompressionBombError, EOFError) as exc:
        raise OcrError("图片无法打开（已损坏或格式不支持）") from exc


def _bounded(image: Image.Image) -> Image.Image:
    longest = max(image.size)
    if longest > MAX_SIDE:
        ratio = MAX_SIDE / longest
        image = image.resize((max(1, int(image.width * ratio)), max(1, int(image.height * ratio))), Image.LANCZOS)
    return image


def _bgr(image: Image.Image) -> np.ndarray:
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)


# --------------------------------------------------------------------------- one page


def read_page(image: np.ndarray, index: int = 0) -> OcrPage:
    """Straighten, find the grid, recognise, and put each piece of text in its cell."""
    started = time.monotonic()
    red = _red_ink(image)
    gray = np.ascontiguousarray(image[:, :, 2])  # the red channel: a red seal fades, black print stays
    del image
    angle = _skew(gray)
    if abs(angle) > 0.05:
        gray, red = _turn(gray, angle, 255), _turn(red, angle, 0)
    words = _recognise(gray)
    if _sideways(words) or _too_little(words):
        # A page lying on its side (a phone's photo without its turn recorded), or upside down:
        # the turn whose text reads best, lying as text lies.
        best = (_score(words) if not _sideways(words) else -1.0, words, gray, red)
        for k in (1, 3) if _sideways(words) else (1, 3, 2):
            turned, turned_red = np.ascontiguousarray(np.rot90(gray, k)), np.ascontiguousarray(np.rot90(red, k))
            found = _recognise(turned)
            if not _sideways(found) and _score(found) > best[0]:
                best = (_score(found), found, turned, turned_red)
        _, words, gray, red = best
    cells = _cells(gray)
    page = OcrPage(index=index, angle=angle)
    placed: dict[int, list[tuple[float, float, str, float]]] = {}
    loose: list[tuple[float, float, str, float]] = []
    for box, text, score in words:
        cx, cy = float(box[:, 0].mean()), float(box[:, 1].mean())
        home = next((i for i, (x, y, w, h) in enumerate(cells) if x <= cx <= x + w and y <= cy <= y + h), None)
        (placed.setdefault(home, []) if home is not None else loose).append((cy, cx, text, score))
    seals = _seals(red)
    found = []
    for i, parts in placed.items():
        x, y, w, h = cells[i]
        cell = OcrCell(
            box=(x, y, w, h),
            text=_in_reading_order(parts),
            confidence=round(min(p[3] for p in parts), 3),
            seal=any(_overlaps((x, y, w, h), s) for s in seals),
            crop=_crop(gray, (x, y, w, h)),
        )
        found.append(cell)
    # A cell with a seal but no text (an empty opinion cell that was only stamped) still counts.
    for x, y, w, h in cells:
        if any(_overlaps((x, y, w, h), s) for s in seals) and not any(c.box == (x, y, w, h) for c in found):
            found.append(OcrCell(box=(x, y, w, h), text="", confidence=1.0, seal=True))
    page.rows = _rows(found)
    page.loose = [line for line in _in_reading_order(loose).splitlines() if line.strip()]
    page.seconds = round(time.monotonic() - started, 2)
    return page


def _recognise(gray: np.ndarray) -> list[tuple[np.ndarray, str, float]]:
    result, _ = _engine()(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    return [(np.asarray(box, dtype=np.float32), str(text), float(score)) for box, text, score in result or []]


def _score(words: list[tuple[np.ndarray, str, float]]) -> float:
    return sum(len(t) * s for _, t, s in words)


def _sideways(words: list[tuple[np.ndarray, str, float]]) -> bool:
    """Most lines of text stand upright (taller than wide): the page lies on its side."""
    lines = [box for box, text, _ in words if len(text) >= 3]
    if len(lines) < 4:
        return False
    upright = 0
    for box in lines:
        width = float(np.linalg.norm(box[1] - box[0]))
        height = float(np.linalg.norm(box[3] - box[0]))
        upright += height > 1.5 * width
    return upright > len(lines) / 2


def _too_little(words: list[tuple[np.ndarray, str, float]]) -> bool:
    return sum(len(t) for _, t, s in words if s >= 0.6) < 12


def _red_ink(image: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    low = cv2.inRange(hsv, (0, 70, 70), (12, 255, 255))
    high = cv2.inRange(hsv, (160, 70, 70), (180, 255, 255))
    return cv2.bitwise_or(low, high)


def _binary(gray: np.ndarray) -> np.ndarray:
    return cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 15)


def _skew(gray: np.ndarray) -> float:
    """The page's tilt from its long near-horizontal lines (a form's rules), else from its lines
    of text (the ink's rows), within ±8°."""
    ink = _binary(gray)
    # The rules are found at half the resolution (a quarter of the pixels, the same angles).
    half = cv2.resize(ink, (ink.shape[1] // 2, ink.shape[0] // 2), interpolation=cv2.INTER_AREA)
    half = cv2.threshold(half, 64, 255, cv2.THRESH_BINARY)[1]
    lines = cv2.HoughLinesP(half, 1, np.pi / 1800, threshold=150, minLineLength=half.shape[1] // 4, maxLineGap=5)
    angles = []
    if lines is not None:
        for x1, y1, x2, y2 in np.asarray(lines).reshape(-1, 4):
            a = math.degrees(math.atan2(float(y2 - y1), float(x2 - x1)))
            if abs(a) <= 8:
                angles.append(a)
    if angles:
        return float(np.median(angles))
    # No rules: smear the text into lines and take their long boxes' angle.
    smeared = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_RECT, (gray.shape[1] // 40 or 1, 3)))
    contours, _ = cv2.findContours(smeared, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found = []
    for c in contours:
        (_, _), (w, h), a = cv2.minAreaRect(c)
        if w < h:
            w, h, a = h, w, a - 90
        if w > gray.shape[1] / 5 and w > 6 * h:
            a = a if a <= 45 else a - 90
            if abs(a) <= 8:
                found.append(a)
    return float(np.median(found)) if found else 0.0


def _turn(image: np.ndarray, angle: float, fill: int) -> np.ndarray:
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    flags = cv2.INTER_CUBIC if fill == 255 else cv2.INTER_NEAREST
    return cv2.warpAffine(image, matrix, (w, h), flags=flags, borderValue=fill)


def _cells(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The boxes a form's rules enclose: horizontal and vertical strokes found by opening with long
    thin kernels, small gaps closed, and the white regions between them taken one by one."""
    ink = _binary(gray)
    h, w = ink.shape
    horizontal = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (max(20, w // 30), 1)))
    vertical = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, max(15, h // 60))))
    grid = cv2.bitwise_or(horizontal, vertical)
    grid = cv2.morphologyEx(grid, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 1)))
    grid = cv2.morphologyEx(grid, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 15)))
    grid = cv2.dilate(grid, np.ones((3, 3), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(cv2.bitwise_not(grid), connectivity=4)
    out = []
    for i in range(1, count):
        x, y, cw, ch, area = (int(v) for v in stats[i])
        if cw < 25 or ch < 20 or cw > w * 0.95 or ch > h * 0.6 or area < 0.6 * cw * ch:
            continue
        out.append((x, y, cw, ch))
    return out


def _seals(red: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes of red ink the size of a seal (a ring or a star of a few millimetres at least)."""
    closed = cv2.morphologyEx(red, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    out = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if min(w, h) >= 60 and 0.5 <= w / h <= 2.0 and area >= 400:
            out.append((x, y, w, h))
    return out


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    dx = min(ax + aw, bx + bw) - max(ax, bx)
    dy = min(ay + ah, by + bh) - max(ay, by)
    return dx > 0 and dy > 0 and dx * dy >= 0.1 * min(aw * ah, bw * bh)


def _in_reading_order(parts: list[tuple[float, float, str, float]]) -> str:
    """Pieces of text as lines (by their middles, close ones on one line), left to right."""
    lines: list[tuple[float, list[tuple[float, str]]]] = []
    for cy, cx, text, _ in sorted(parts):
        if lines and abs(lines[-1][0] - cy) < 18:
            lines[-1][1].append((cx, text))
        else:
            lines.append((cy, [(cx, text)]))
    return "\n".join("".join(t for _, t in sorted(items)) for _, items in lines)


def _rows(cells: list[OcrCell]) -> list[list[OcrCell]]:
    """Cells whose tops are level, as rows, top to bottom, each left to right."""
    rows: list[tuple[int, list[OcrCell]]] = []
    for cell in sorted(cells, key=lambda c: (c.box[1], c.box[0])):
        if rows and abs(rows[-1][0] - cell.box[1]) < 15:
            rows[-1][1].append(cell)
        else:
            rows.append((cell.box[1], [cell]))
    return [sorted(row, key=lambda c: c.box[0]) for _, row in rows]


def _crop(gray: np.ndarray, box: tuple[int, int, int, int]) -> bytes:
    x, y, w, h = box
    piece = gray[max(0, y - 4) : y + h + 4, max(0, x - 4) : x + w + 4]
    if piece.size == 0:
        return b""
    if piece.shape[1] > CROP_WIDTH:
        ratio = CROP_WIDTH / piece.shape[1]
        piece = cv2.resize(piece, (CROP_WIDTH, max(1, int(piece.shape[0] * ratio))), interpolation=cv2.INTER_AREA)
    ok, png = cv2.imencode(".png", piece)
    return png.tobytes() if ok else b""
