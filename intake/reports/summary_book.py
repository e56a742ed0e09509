"""The summary as a workbook the office prints and files: 汇总, 人员名单, 问题清单, 邮件, and the two
charts on a sheet of their own, one to a page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Font
from openpyxl.worksheet.pagebreak import Break
from openpyxl.worksheet.worksheet import Worksheet

from intake.core.vocabulary import deadline_phrase, review_line
from intake.reports import workbooks
from intake.reports.summary import Summary

# Each chart fills one landscape A4 page: 25 × 14 cm, and a page is 32 rows of the default height.
CHART_CM = (25.0, 14.0)
CHART_PAGE_ROWS = 32
TOTALS_HEADERS = [
    "省份",
    "个人名额",
    "个人收到",
    "单位名额",
    "单位收到",
    "情况",
    "逾期",
    "问题数",
    "审核",
    "最后来件",
    "回执已发",
    "回执失败",
    "新到邮件",
]


def _when(dt: datetime | None) -> str:
    return dt.strftime("%Y-%m-%d %H:%M") if dt else ""


def write_workbook(summary: Summary) -> bytes:
    wb = workbooks.new_workbook()
    heading = f"推荐材料接收情况日报（{summary.day.isoformat()}）"
    totals = _totals(wb.active, summary, heading)
    _people(wb.create_sheet(), summary, heading)
    _problems(wb.create_sheet(), summary, heading)
    _mail(wb.create_sheet(), summary, heading)
    _charts(wb.create_sheet("图表"), totals, len(summary.rows), heading)
    return workbooks.saved(wb)


def _totals(ws: Worksheet, summary: Summary, heading: str) -> Worksheet:
    rows = [
        [
            r.name,
            r.quota_individuals,
            r.individuals,
            r.quota_units,
            r.units,
            r.standing if r.messages else "未报送",
            "是" if r.late else "",
            r.problems,
            r.review_line,
            _when(r.last_received),
            r.receipts_sent,
            r.receipts_failed,
            r.new_today,
        ]
        for r in summary.rows
    ]
    flagged = [
        bool(r.late or r.problems or r.individuals > r.quota_individuals or r.units > r.quota_units)
        for r in summary.rows
    ]
    ws.title = "汇总"
    widths = [16, 9, 9, 9, 9, 16, 6, 8, 16, 17, 9, 9, 9]
    workbooks.table(ws, f"{heading}　汇总", TOTALS_HEADERS, rows, widths, heading=heading, flagged=flagged)
    total = workbooks.append(
        ws,
        [
            "合计",
            summary.total_quota_individuals,
            summary.total_individuals,
            summary.total_quota_units,
            summary.total_units,
            deadline_phrase(summary.days_left),
            "",
            sum(r.problems for r in summary.rows),
            review_line(summary.review_counts),
            "",
            sum(r.receipts_sent for r in summary.rows),
            sum(r.receipts_failed for r in summary.rows),
            summary.new_messages,
        ],
    )
    for cell in ws[total]:
        cell.font, cell.border = workbooks.BOLD, workbooks.BORDER
        cell.alignment = workbooks.NUMBER if isinstance(cell.value, int | float) else workbooks.WRAP
    return ws


def _people(ws: Worksheet, summary: Summary, heading: str) -> None:
    ws.title = "人员名单"
    headers = [
        "省份",
        "类别",
        "姓名/单位名称",
        "排序",
        "工作单位及职务",
        "事迹字数",
        "是否有效",
        "问题",
        "来件时间",
        "邮件主题",
    ]
    rows = [
        [
            x["province"],
            x["kind"],
            x["name"],
            x["rank"],
            x["workplace"],
            x["narrative_chars"],
            "是" if x["current"] else "已被更正替换",
            x["flags"],
            _when(x["received"]),
            x["subject"],
        ]
        for x in summary.nominees
    ]
    widths = [12, 6, 24, 6, 30, 9, 9, 22, 17, 30]
    workbooks.table(
        ws, f"{heading}　人员名单", headers, rows, widths, heading=heading, flagged=[bool(r[7]) for r in rows]
    )


def _problems(ws: Worksheet, summary: Summary, heading: str) -> None:
    ws.title = "问题清单"
    headers = ["省份", "对象", "问题", "说明", "处理意见", "邮件主题", "来件时间"]
    rows: list[list[Any]] = [
        [p["province"], p["who"], p["label"], p["detail"], p["advice"], p["subject"], _when(p["received"])]
        for p in summary.problems
    ]
    widths = [12, 18, 14, 36, 44, 30, 17]
    workbooks.table(ws, f"{heading}　问题清单", headers, rows, widths, heading=heading, flagged=[True] * len(rows))


def _mail(ws: Worksheet, summary: Summary, heading: str) -> None:
    ws.title = "邮件"
    headers = ["收到时间", "发件人", "主题", "类别", "省份", "附件数", "推荐对象数", "问题", "回执", "回执收件人"]
    rows = [
        [
            _when(m["received"]),
            m["from"],
            m["subject"],
            m["classification"],
            m["province"],
            m["attachments"],
            m["nominees"],
            m["flags"],
            m["receipt"],
            m["receipt_to"],
        ]
        for m in summary.messages
    ]
    widths = [17, 28, 36, 10, 12, 7, 9, 24, 9, 28]
    workbooks.table(ws, f"{heading}　邮件", headers, rows, widths, heading=heading, flagged=[bool(r[7]) for r in rows])


def _charts(charts: Worksheet, totals: Worksheet, n: int, heading: str) -> None:
    """The charts on a sheet of their own, one to an A4 page: never over the table, never split."""
    workbooks.print_setup(charts, heading, title_rows="")
    workbooks.put(charts, 1, 1, f"{heading}　各省收到与名额")
    charts["A1"].font = Font(name=workbooks.FONT, size=14, bold=True)
    cats = Reference(totals, min_col=1, min_row=3, max_row=n + 2)
    for i, (title, first_col) in enumerate((("个人：收到与名额", 2), ("单位：收到与名额", 4))):
        chart = BarChart()
        chart.type = "col"
        chart.title = title
        chart.y_axis.title = "人数" if first_col == 2 else "个数"
        chart.add_data(
            Reference(totals, min_col=first_col, max_col=first_col + 1, min_row=2, max_row=n + 2),
            titles_from_data=True,
        )
        chart.set_categories(cats)
        chart.width, chart.height = CHART_CM
        charts.add_chart(chart, f"A{2 + i * CHART_PAGE_ROWS}")
    charts.row_breaks.append(Break(id=CHART_PAGE_ROWS))
