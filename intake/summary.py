"""The daily intake summary: every province against its quota, as a terminal table, an Excel
workbook HQ can print and file, and a mail to the configured recipients."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.header import Header
from email.message import Message
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import Any

from intake.messages import labels, render_template
from intake.report import local, problem_entry
from intake.settings import Settings
from store.repo import Repo

NOMINEE_PROBLEMS = ("narrative_too_long", "narrative_missing", "opinion_missing", "eligibility_warning")


@dataclass
class ProvinceRow:
    code: str
    name: str
    quota_individuals: int
    quota_units: int
    individuals: int = 0
    units: int = 0
    late: bool = False
    problems: int = 0
    messages: int = 0
    last_received: datetime | None = None
    receipts_sent: int = 0
    receipts_failed: int = 0
    new_today: int = 0
    flags: list[str] = field(default_factory=list)

    @property
    def standing(self) -> str:
        parts = []
        for label, got, quota in (
            ("个人", self.individuals, self.quota_individuals),
            ("单位", self.units, self.quota_units),
        ):
            if got > quota:
                parts.append(f"{label}超{got - quota}")
            elif got < quota:
                parts.append(f"{label}缺{quota - got}")
        return "，".join(parts) or "齐"


@dataclass
class Summary:
    day: date
    generated_at: datetime
    since: datetime
    until: datetime
    deadline: datetime
    days_left: int
    rows: list[ProvinceRow]
    nominees: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    total_quota_individuals: int
    total_quota_units: int

    @property
    def total_individuals(self) -> int:
        return sum(r.individuals for r in self.rows)

    @property
    def total_units(self) -> int:
        return sum(r.units for r in self.rows)

    @property
    def silent(self) -> list[str]:
        return [r.name for r in self.rows if r.messages == 0]

    @property
    def new_messages(self) -> int:
        return sum(r.new_today for r in self.rows)


def build_summary(repo: Repo, settings: Settings, day: date, now: datetime) -> Summary:
    tz = settings.campaign.tz
    until = datetime.combine(day, settings.schedule.summary_at, tzinfo=tz)
    since = until - timedelta(days=1)
    deadline = settings.campaign.deadline.astimezone(tz)
    rows = {p.code: ProvinceRow(p.code, p.name, p.individuals, p.units) for p in settings.provinces}
    messages = repo.all_messages()
    nominees_out: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    messages_out: list[dict[str, Any]] = []
    for m in messages:
        received = local(m.received_at, settings)
        row = rows.get(m.province_code or "")
        if m.classification == "submission" and row is not None:
            row.messages += 1
            if received and (row.last_received is None or received > row.last_received):
                row.last_received = received
            if received and since <= received < until:
                row.new_today += 1
            if m.receipt is not None:
                row.receipts_sent += m.receipt.state == "sent"
                row.receipts_failed += m.receipt.state == "failed"
        for f in m.flags:
            problems.append(_problem(f.code, f.detail, m, None, settings))
            if row is not None and m.classification == "submission":
                row.problems += 1
                row.late = row.late or f.code == "late"
        messages_out.append(
            {
                "received": received,
                "from": m.from_addr,
                "subject": m.subject,
                "classification": m.classification,
                "province": settings.province(m.province_code).name if settings.province(m.province_code) else "",
                "attachments": len(m.attachments),
                "nominees": len(m.nominees),
                "flags": "、".join(labels("flag", f.code) for f in m.flags),
                "receipt": m.receipt.state if m.receipt else "",
                "receipt_to": m.receipt.to_addr if m.receipt else "",
            }
        )
        for n in m.nominees:
            nflags = [f.code for f in n.flags]
            if n.current and row is not None:
                if n.kind == "individual":
                    row.individuals += 1
                else:
                    row.units += 1
                row.problems += len(nflags)
            for f in n.flags:
                problems.append(_problem(f.code, f.detail, m, n.name, settings))
            nominees_out.append(
                {
                    "province": row.name if row else "",
                    "kind": labels("kind", n.kind),
                    "name": n.name,
                    "rank": n.rank,
                    "workplace": (n.fields or {}).get("workplace", ""),
                    "narrative_chars": n.narrative_chars,
                    "current": n.current,
                    "flags": "、".join(labels("flag", c) for c in nflags),
                    "received": received,
                    "subject": m.subject,
                }
            )
    for f in repo.province_flags():
        row = rows.get(f.province_code or "")
        if row is None:
            continue
        row.flags.append(f.code)
        if f.code != "late":
            row.problems += 1
            problems.append({**problem_entry(f.code, f.detail), "province": row.name, "subject": "", "received": None})
        else:
            row.late = True
    days_left = (deadline.date() - day).days
    return Summary(
        day=day,
        generated_at=now.astimezone(tz),
        since=since,
        until=until,
        deadline=deadline,
        days_left=days_left,
        rows=list(rows.values()),
        nominees=nominees_out,
        problems=problems,
        messages=messages_out,
        total_quota_individuals=settings.quota_individuals,
        total_quota_units=settings.quota_units,
    )


def _problem(code: str, detail: str, m: Any, who: str | None, settings: Settings) -> dict[str, Any]:
    p = settings.province(m.province_code)
    return {
        **problem_entry(code, detail, who or ""),
        "province": p.name if p else "",
        "subject": m.subject,
        "received": local(m.received_at, settings),
    }


# --------------------------------------------------------------------------- terminal


def print_summary(summary: Summary) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"推荐材料接收情况日报 {summary.day.isoformat()}（截止还有 {summary.days_left} 天）")
    for col in ("省份", "个人 收到/名额", "单位 收到/名额", "情况", "逾期", "问题", "最后来件", "回执 发/败", "新到"):
        t.add_column(col)
    for r in summary.rows:
        t.add_row(
            r.name,
            f"{r.individuals}/{r.quota_individuals}",
            f"{r.units}/{r.quota_units}",
            r.standing if r.messages else "未报送",
            "是" if r.late else "",
            str(r.problems or ""),
            r.last_received.strftime("%m-%d %H:%M") if r.last_received else "",
            f"{r.receipts_sent}/{r.receipts_failed}",
            str(r.new_today or ""),
        )
    t.add_row(
        "合计",
        f"{summary.total_individuals}/{summary.total_quota_individuals}",
        f"{summary.total_units}/{summary.total_quota_units}",
        "",
        "",
        str(sum(r.problems for r in summary.rows)),
        "",
        "",
        str(summary.new_messages),
        style="bold",
    )
    Console().print(t)


# --------------------------------------------------------------------------- workbook


def write_workbook(summary: Summary) -> bytes:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    bold = Font(bold=True)
    problem_fill = PatternFill("solid", fgColor="FFC7CE")
    header_fill = PatternFill("solid", fgColor="DDEBF7")

    def sheet(
        ws: Any,
        title: str,
        headers: list[str],
        rows: list[list[Any]],
        widths: list[int],
        problem_col: int | None = None,
    ) -> None:
        ws.title = title
        ws.append(headers)
        for cell in ws[1]:
            cell.font, cell.fill = bold, header_fill
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for row in rows:
            ws.append(row)
            if problem_col is not None and row[problem_col]:
                for cell in ws[ws.max_row]:
                    cell.fill = problem_fill
        for i, w in enumerate(widths, 1):
            ws.column_dimensions[get_column_letter(i)].width = w
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(ws.max_row, 1)}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_title_rows = "1:1"

    def when(dt: datetime | None) -> str:
        return dt.strftime("%Y-%m-%d %H:%M") if dt else ""

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
            when(r.last_received),
            r.receipts_sent,
            r.receipts_failed,
            r.new_today,
        ]
        for r in summary.rows
    ]
    ws = wb.active
    sheet(
        ws,
        "汇总",
        [
            "省份",
            "个人名额",
            "个人收到",
            "单位名额",
            "单位收到",
            "情况",
            "逾期",
            "问题数",
            "最后来件",
            "回执已发",
            "回执失败",
            "新到邮件",
        ],
        rows,
        [16, 9, 9, 9, 9, 14, 6, 8, 17, 9, 9, 9],
        problem_col=None,
    )
    for i, r in enumerate(summary.rows, start=2):
        if r.late or r.problems or r.individuals > r.quota_individuals or r.units > r.quota_units:
            for cell in ws[i]:
                cell.fill = problem_fill
    ws.append(
        [
            "合计",
            summary.total_quota_individuals,
            summary.total_individuals,
            summary.total_quota_units,
            summary.total_units,
            f"距截止 {summary.days_left} 天",
            "",
            sum(r.problems for r in summary.rows),
            "",
            sum(r.receipts_sent for r in summary.rows),
            sum(r.receipts_failed for r in summary.rows),
            summary.new_messages,
        ]
    )
    for cell in ws[ws.max_row]:
        cell.font = bold
    ws.oddHeader.center.text = f"推荐材料接收情况日报 {summary.day.isoformat()}"
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    n = len(summary.rows)
    chart = BarChart()
    chart.type = "col"
    chart.title = "各省收到与名额（个人）"
    chart.y_axis.title = "人数"
    data = Reference(ws, min_col=2, max_col=3, min_row=1, max_row=n + 1)
    cats = Reference(ws, min_col=1, min_row=2, max_row=n + 1)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(cats)
    chart.width, chart.height = 32, 9
    ws.add_chart(chart, f"A{n + 5}")
    units_chart = BarChart()
    units_chart.type = "col"
    units_chart.title = "各省收到与名额（单位）"
    units_chart.add_data(Reference(ws, min_col=4, max_col=5, min_row=1, max_row=n + 1), titles_from_data=True)
    units_chart.set_categories(cats)
    units_chart.width, units_chart.height = 32, 9
    ws.add_chart(units_chart, f"A{n + 25}")

    sheet(
        wb.create_sheet(),
        "人员名单",
        [
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
        ],
        [
            [
                x["province"],
                x["kind"],
                x["name"],
                x["rank"],
                x["workplace"],
                x["narrative_chars"],
                "是" if x["current"] else "已被更正替换",
                x["flags"],
                when(x["received"]),
                x["subject"],
            ]
            for x in summary.nominees
        ],
        [14, 6, 24, 6, 30, 9, 12, 24, 17, 30],
        problem_col=7,
    )
    sheet(
        wb.create_sheet(),
        "问题清单",
        ["省份", "对象", "问题", "说明", "处理意见", "邮件主题", "来件时间"],
        [
            [p["province"], p["who"], p["label"], p["detail"], p["advice"], p["subject"], when(p["received"])]
            for p in summary.problems
        ],
        [14, 18, 14, 36, 44, 30, 17],
        problem_col=2,
    )
    sheet(
        wb.create_sheet(),
        "邮件",
        ["收到时间", "发件人", "主题", "类别", "省份", "附件数", "推荐对象数", "问题", "回执", "回执收件人"],
        [
            [
                when(m["received"]),
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
        ],
        [17, 28, 36, 11, 14, 7, 9, 24, 9, 28],
        problem_col=7,
    )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- mail


def workbook_filename(summary: Summary) -> str:
    return f"推荐材料接收日报{summary.day.isoformat()}.xlsx"


def summary_mail(summary: Summary, settings: Settings, workbook: bytes) -> Message:
    from email import encoders
    from email.mime.base import MIMEBase
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    msg = MIMEMultipart()
    name, addr = parseaddr(settings.smtp.sender)
    msg["Subject"] = Header(f"推荐材料接收情况日报（{summary.day.isoformat()}）", "utf-8")
    msg["From"] = formataddr((str(Header(name, "utf-8").encode()), addr)) if name else addr
    msg["To"] = ", ".join(settings.summary.recipients)
    msg["Date"] = format_datetime(summary.generated_at)
    msg["Message-ID"] = make_msgid(idstring=f"summary-{summary.day.isoformat()}", domain=addr.rsplit("@", 1)[-1])
    msg["Auto-Submitted"] = "auto-generated"
    late = [r.name for r in summary.rows if r.late]
    body = render_template(settings, "summary.txt.j2", {"s": summary, "late": late})
    msg.attach(MIMEText(body, "plain", "utf-8"))
    # The filename as an RFC 2047 word in quotes: what QQ Mail, 163/126 webmail and Outlook all read.
    encoded = Header(workbook_filename(summary), "utf-8").encode()
    part = MIMEBase("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet", name=encoded)
    part.set_payload(workbook)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=encoded)
    msg.attach(part)
    return msg
