"""Every workbook we write, set up one way: A4 landscape fitted to the page's width, the title and
header rows on every page, borders round every cell of the table, long text wrapped, one font,
page numbers in the footer. No cell holds a formula: totals are values, and text from mail is
written as text (a string cell, marked as text where a spreadsheet would still evaluate it)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

FONT = "宋体"
PLAIN = Font(name=FONT, size=10)
BOLD = Font(name=FONT, size=10, bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
PROBLEM_FILL = PatternFill("solid", fgColor="FFC7CE")
WRAP = Alignment(wrap_text=True, vertical="top")
NUMBER = Alignment(horizontal="center", vertical="top")
_THIN = Side(style="thin", color="808080")
BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
# What a spreadsheet program takes for the start of a formula, typed or pasted.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def new_workbook() -> Workbook:
    return Workbook()


def saved(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def put(ws: Worksheet, row: int, column: int, value: Any) -> Any:
    """One cell, never a formula: text that looks like one is kept as text and marked so."""
    cell = ws.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = value
        cell.data_type = "s"  # openpyxl takes "=…" for a formula: this is text from a mail
        if value.startswith(FORMULA_START):
            cell.quotePrefix = True
    else:
        cell.value = value
    return cell


def append(ws: Worksheet, values: Sequence[Any]) -> int:
    """A row after the last one, written cell by cell with ``put``; its number."""
    row = ws.max_row + 1 if ws.max_row > 1 or ws.cell(1, 1).value is not None else 1
    for column, value in enumerate(values, start=1):
        put(ws, row, column, value)
    return row


def print_setup(ws: Worksheet, heading: str = "", title_rows: str = "1:2", landscape: bool = True) -> None:
    """A4, fitted to the page's width, the title rows on every page, page numbers below."""
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.5
    ws.page_margins.top = ws.page_margins.bottom = 0.75
    if title_rows:
        ws.print_title_rows = title_rows
    if heading:
        ws.oddHeader.center.text = heading
        ws.oddHeader.center.font = FONT
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    ws.oddFooter.center.font = FONT
    ws.print_options.horizontalCentered = True


def table(
    ws: Worksheet,
    title: str,
    headers: list[str],
    rows: list[list[Any]],
    widths: list[int],
    *,
    heading: str = "",
    flagged: Sequence[bool] | None = None,
) -> None:
    """A titled table: the title over every column, a header row, one row each, bordered and
    wrapped; rows ``flagged`` filled in the colour of a problem."""
    last = get_column_letter(len(headers))
    put(ws, 1, 1, title)
    ws.merge_cells(f"A1:{last}1")
    ws["A1"].font = Font(name=FONT, size=14, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    ws.row_dimensions[1].height = 24
    for column, text in enumerate(headers, start=1):
        cell = put(ws, 2, column, text)
        cell.font, cell.fill, cell.border = BOLD, HEADER_FILL, BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for i, values in enumerate(rows):
        r = append(ws, values)
        for cell in ws[r][: len(headers)]:
            cell.font, cell.border = PLAIN, BORDER
            cell.alignment = NUMBER if isinstance(cell.value, int | float) else WRAP
            if flagged is not None and flagged[i]:
                cell.fill = PROBLEM_FILL
    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w
    # Row heights for wrapped text: spreadsheet programs do not all grow rows when they open a file.
    for row in ws.iter_rows(min_row=2):
        lines = max(wrapped_lines(c.value, widths[c.column - 1]) for c in row if c.column <= len(widths))
        if lines > 1:
            ws.row_dimensions[row[0].row].height = 13.5 * lines
    ws.freeze_panes = "A3"
    ws.auto_filter.ref = f"A2:{last}{max(ws.max_row, 2)}"
    print_setup(ws, heading)


def wrapped_lines(value: object, width: int) -> int:
    """How many lines ``value`` wraps to in a column ``width`` characters wide (a CJK character
    takes two)."""
    if value is None:
        return 1
    total = 0
    for line in str(value).splitlines() or [""]:
        units = sum(2 if ord(ch) > 0x2E7F else 1 for ch in line)
        total += max(1, -(-units // max(1, int(width * 1.15))))
    return total
