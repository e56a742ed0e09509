"""Spreadsheets: .xlsx through openpyxl, .xls through xlrd. Rows come out as lists of strings."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import openpyxl
import xlrd
from openpyxl.utils.exceptions import InvalidFileException

from parsers.archives import OFFICE_XML_BYTES, ZIP_ERRORS, oversized_part

MAX_ROWS = 10000  # rows holding anything; empty and merely formatted rows are passed over
MAX_COLS = 60


class SheetError(Exception):
    def __init__(self, message: str, retry_with_conversion: bool = False, limit: bool = False) -> None:
        super().__init__(message)
        self.retry_with_conversion = retry_with_conversion
        self.limit = limit  # left unread because of a size limit, not because it is damaged


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if type(value) is str:
        return value.strip()
    if type(value) is float:
        return str(int(value)) if value.is_integer() else repr(value)
    if type(value) is int:
        return str(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def read_sheets(payload: bytes, fmt: str) -> list[tuple[str, list[list[str]]]]:
    if fmt == "xlsx":
        return _read_xlsx(payload)
    return _read_xls(payload)


def _read_xlsx(payload: bytes) -> list[tuple[str, list[list[str]]]]:
    """Cached values as Excel shows them; a formula cell without one (a file written by a program
    that does not compute them) is read as its formula's text, never dropped."""
    _check_parts(payload)
    values = _load_xlsx(payload, data_only=True)
    if not _has_formulas(payload):
        return [(title, [cells for _, cells in rows]) for title, rows in values]
    formulas = _load_xlsx(payload, data_only=False)
    merged = []
    for (title, rows), (_, f_rows) in zip(values, formulas, strict=False):
        by_index = dict(rows)
        for index, f_cells in f_rows:
            cells = by_index.get(index, [""] * len(f_cells))
            by_index[index] = [v or (f if f.startswith("=") else "") for v, f in zip(cells, f_cells, strict=False)]
        kept = [cells for _, cells in sorted(by_index.items()) if any(cells)]
        merged.append((title, kept[:MAX_ROWS]))
    return merged


def _has_formulas(payload: bytes) -> bool:
    """Whether any worksheet holds a formula (an ``<f>`` element), read in chunks."""
    pattern = re.compile(rb"<(?:\w+:)?f[ >/]")
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as zf:
            for info in zf.infolist():
                if not info.filename.startswith("xl/worksheets/"):
                    continue
                with zf.open(info) as fh:
                    tail = b""
                    while chunk := fh.read(1 << 20):
                        if pattern.search(tail + chunk):
                            return True
                        tail = chunk[-8:]
    except ZIP_ERRORS:
        return False
    return False


def _load_xlsx(payload: bytes, data_only: bool) -> list[tuple[str, list[tuple[int, list[str]]]]]:
    """Each sheet's rows that hold anything, with their row numbers."""
    try:
        wb = openpyxl.load_workbook(io.BytesIO(payload), read_only=True, data_only=data_only)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
        raise SheetError("Excel文件已损坏") from exc
    except Exception as exc:  # XML errors from the parser underneath
        raise SheetError("Excel文件已损坏") from exc
    out = []
    try:
        for ws in wb.worksheets:
            rows: list[tuple[int, list[str]]] = []
            for index, row in enumerate(ws.iter_rows(values_only=True, max_col=MAX_COLS)):
                if not any(v is not None and v != "" for v in row):
                    continue
                # Text and empty cells inline: a call per cell is most of the cost on a wide sheet.
                rows.append((index, [v.strip() if type(v) is str else "" if v is None else _cell_text(v) for v in row]))
                if len(rows) >= MAX_ROWS:
                    break
            out.append((ws.title, rows))
    except Exception as exc:
        raise SheetError("Excel文件已损坏") from exc
    finally:
        wb.close()
    return out


def _check_parts(payload: bytes) -> None:
    """openpyxl loads shared strings, styles and the workbook part whole (worksheets it streams):
    a workbook whose parts are past the limit is not opened."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as zf:
            big = oversized_part(zf, streamed=("xl/worksheets/",))
    except ZIP_ERRORS:
        return  # openpyxl says what is wrong with it
    if big is not None:
        raise SheetError(
            f"Excel文件内部的 {big.filename} 解压后为 {big.file_size / 1048576:.0f} MB，"
            f"超过 {OFFICE_XML_BYTES // 1048576} MB 的上限，未读取",
            limit=True,
        )


def _read_xls(payload: bytes) -> list[tuple[str, list[list[str]]]]:

    try:
        book = xlrd.open_workbook(file_contents=payload, on_demand=True)
    except xlrd.biffh.XLRDError as exc:
        raise SheetError("Excel 97文件无法直接读取", retry_with_conversion=True) from exc
    except (ValueError, IndexError, KeyError, AssertionError, OSError, UnicodeError, TypeError) as exc:
        raise SheetError("XLS文件已损坏", retry_with_conversion=True) from exc
    out = []
    try:
        for sheet in book.sheets():
            rows = []
            for r in range(sheet.nrows):
                if len(rows) >= MAX_ROWS:
                    break
                values = []
                for c in range(min(sheet.ncols, MAX_COLS)):
                    cell = sheet.cell(r, c)
                    if cell.ctype == xlrd.XL_CELL_DATE:
                        try:
                            values.append(_cell_text(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode)))
                            continue
                        except (ValueError, OverflowError):
                            pass
                    values.append(_cell_text(cell.value))
                if any(values):
                    rows.append(values)
            # Merged cells: xlrd leaves the covered cells empty, which is what a title row wants.
            out.append((sheet.name, rows))
    except (ValueError, IndexError, KeyError, AssertionError, UnicodeError) as exc:
        raise SheetError("XLS文件已损坏", retry_with_conversion=True) from exc
    finally:
        book.release_resources()
    return out
