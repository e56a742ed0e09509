"""An allocation table (名额分配表, the notice's 附件1) as a workbook: province, individuals, units."""

from __future__ import annotations

import re
from dataclasses import dataclass

from parsers.labels import normalise_label
from parsers.sheets import SheetError, read_sheets
from parsers.sniff import sniff

PROVINCE = ("省份", "省(区、市)", "省区市", "地区", "单位", "省市", "省（区、市）")


_PROVINCE_SUFFIX = re.compile(r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区)$")


def short_province_name(name: str) -> str:
    """北京市 → 北京, 广西壮族自治区 → 广西: the name as people write it in a subject."""
    return _PROVINCE_SUFFIX.sub("", name.strip()) or name


class QuotaTableError(Exception):
    pass


@dataclass(frozen=True)
class QuotaRow:
    province: str
    individuals: int
    units: int


def read_quota_table(payload: bytes) -> list[QuotaRow]:
    kind = sniff(payload)
    if kind not in ("xlsx", "xls"):
        raise QuotaTableError(f"not an Excel workbook ({kind})")
    try:
        sheets = read_sheets(payload, kind)
    except SheetError as exc:
        raise QuotaTableError(str(exc)) from exc
    for _title, rows in sheets:
        for i, row in enumerate(rows):
            cols = {}
            for j, cell in enumerate(row):
                n = normalise_label(cell)
                if not n:
                    continue
                if "province" not in cols and any(n == normalise_label(o) for o in PROVINCE):
                    cols["province"] = j
                elif "individuals" not in cols and ("个人" in n):
                    cols["individuals"] = j
                elif "units" not in cols and ("单位" in n) and "province" in cols:
                    cols["units"] = j
            if len(cols) == 3:
                return _rows(rows[i + 1 :], cols)
    raise QuotaTableError("no header row with 省份 / 个人名额 / 单位名额 found")


def _rows(rows: list[list[str]], cols: dict[str, int]) -> list[QuotaRow]:
    out: list[QuotaRow] = []
    seen: set[str] = set()
    for row in rows:

        def cell(key: str, row: list[str] = row) -> str:
            j = cols[key]
            return row[j].strip() if j < len(row) else ""

        name = normalise_label(cell("province"))
        if not name or name in ("合计", "总计", "小计"):
            continue
        try:
            ind = int(float(cell("individuals") or 0))
            units = int(float(cell("units") or 0))
        except ValueError as exc:
            raise QuotaTableError(f"row {name}: quota is not a number") from exc
        if short_province_name(name) in seen:
            raise QuotaTableError(f"province {name} appears twice")
        seen.add(short_province_name(name))
        out.append(QuotaRow(name, ind, units))
    if not out:
        raise QuotaTableError("the table lists no province")
    return out
