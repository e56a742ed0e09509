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

from intake.campaign.standing import display_name, local, problem_entry
from intake.core.settings import Settings
from intake.core.vocabulary import deadline_phrase, labels, render_template
from intake.ingest.overrides import flag_key
from intake.office.actions import REVIEW_STATES
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
    reviews: dict[str, int] = field(default_factory=dict)  # current nominees by review state

    @property
    def review_line(self) -> str:
        return review_line(self.reviews)

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


def review_line(counts: dict[str, int]) -> str:
    """通过3 备选1 待审2: the review states that have anyone in them, in the order of the review."""
    from intake.office.actions import REVIEW_SHORT

    return " ".join(f"{label}{counts[s]}" for s, label in REVIEW_SHORT.items() if counts.get(s))


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
    # Mail not taken as a submission (auto-reply, bounce, unrelated) that carries Word, Excel or PDF
    # files: listed for a person to check, never silently set aside.
    set_aside: list[dict[str, Any]] = field(default_factory=list)

    @property
    def review_totals(self) -> str:
        from intake.web.pages import review_totals

        return "，".join(f"{label}{n}" for label, n in review_totals(self.rows))

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


def province_rows(repo: Repo, settings: Settings, since: datetime, until: datetime) -> list[ProvinceRow]:
    """Every province against its quota: received, late, open problems, last mail, receipts. Read
    from plain columns, not loaded objects: the console's board asks for it on every view."""
    rows = {p.code: ProvinceRow(p.code, p.name, p.individuals, p.units) for p in settings.provinces}
    facts = repo.summary_facts()
    checked = repo.flag_checks()  # flags a person has checked are no longer open problems
    by_message: dict[int, ProvinceRow | None] = {}
    submissions: dict[int, ProvinceRow] = {}
    for mid, province, classification, received_at in facts["messages"]:
        row = by_message[mid] = rows.get(province or "")
        if classification != "submission" or row is None:
            continue
        submissions[mid] = row
        row.messages += 1
        received = local(received_at, settings)
        if received and (row.last_received is None or received > row.last_received):
            row.last_received = received
        if received and since <= received < until:
            row.new_today += 1
    for mid, state in facts["receipts"]:
        if mid in submissions:
            submissions[mid].receipts_sent += state == "sent"
            submissions[mid].receipts_failed += state == "failed"
    current: dict[int, ProvinceRow] = {}
    states = {pk: r.state for pk, r in repo.review_states().items()}
    for nid, mid, kind, is_current in facts["nominees"]:
        row = by_message.get(mid)
        if not is_current or row is None or mid not in submissions:
            continue
        state = states.get(nid, "pending")
        row.reviews[state] = row.reviews.get(state, 0) + 1
        if state != "withdrawn":  # 已撤回: out of the count
            current[nid] = row
            if kind == "individual":
                row.individuals += 1
            else:
                row.units += 1
    for scope, code, mid, nid, province in facts["flags"]:
        is_open = flag_key(scope, code, mid, nid, province) not in checked
        if scope == "message" and mid in submissions:
            row = submissions[mid]
            row.late = row.late or code == "late"
            row.problems += is_open
        elif scope == "nominee" and nid in current:
            current[nid].problems += is_open
        elif scope == "province" and province in rows:
            row = rows[province]
            row.flags.append(code)
            if code == "late":
                row.late = True
            else:
                row.problems += is_open
    return list(rows.values())


def build_summary(repo: Repo, settings: Settings, day: date, now: datetime) -> Summary:
    tz = settings.campaign.tz
    until = datetime.combine(day, settings.schedule.summary_at, tzinfo=tz)
    since = until - timedelta(days=1)
    deadline = settings.campaign.deadline.astimezone(tz)
    rows = province_rows(repo, settings, since, until)
    checked = repo.flag_checks()

    def is_open(f: Any) -> bool:
        return flag_key(f.scope, f.code, f.message_pk, f.nominee_id, f.province_code) not in checked

    def province_name(code: str | None) -> str:
        p = settings.province(code)
        return p.name if p else ""

    nominees_out: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    messages_out: list[dict[str, Any]] = []
    for m in repo.all_messages():
        received = local(m.received_at, settings)
        problems.extend(_problem(f.code, f.detail, m, None, settings) for f in m.flags if is_open(f))
        messages_out.append(
            {
                "received": received,
                "from": m.from_addr,
                "subject": display_name(m.subject),
                "classification": labels("classification", m.classification or m.state),
                "province": province_name(m.province_code),
                "attachments": len(m.attachments),
                "nominees": len(m.nominees),
                "flags": "、".join(labels("flag", f.code) for f in m.flags),
                "receipt": labels("receipt", m.receipt.state) if m.receipt else "",
                "receipt_to": m.receipt.to_addr if m.receipt else "",
            }
        )
        for n in m.nominees:
            open_flags = [f for f in n.flags if is_open(f)]
            problems.extend(_problem(f.code, f.detail, m, display_name(n.name), settings) for f in open_flags)
            nominees_out.append(
                {
                    "province": province_name(m.province_code),
                    "kind": labels("kind", n.kind),
                    "name": display_name(n.name),
                    "rank": n.rank,
                    "workplace": display_name(str((n.fields or {}).get("workplace", ""))),
                    "narrative_chars": n.narrative_chars,
                    "current": n.current,
                    "flags": "、".join(labels("flag", f.code) for f in open_flags),
                    "received": received,
                    "subject": display_name(m.subject),
                }
            )
    names = {r.code: r.name for r in rows}
    for f in repo.province_flags():
        if f.province_code in names and f.code != "late" and is_open(f):
            problems.append(
                {**problem_entry(f.code, f.detail), "province": names[f.province_code], "subject": "", "received": None}
            )
    days_left = (deadline.date() - day).days
    return Summary(
        day=day,
        generated_at=now.astimezone(tz),
        since=since,
        until=until,
        deadline=deadline,
        days_left=days_left,
        rows=rows,
        nominees=nominees_out,
        problems=problems,
        messages=messages_out,
        total_quota_individuals=settings.quota_individuals,
        total_quota_units=settings.quota_units,
        set_aside=[
            {
                "id": pk,
                "subject": display_name(subject) or "（无主题）",
                "from": sender,
                "class": labels("classification", cls),
            }
            for pk, subject, sender, cls in repo.waiting_for_people()["set_aside"]
        ],
    )


def _problem(code: str, detail: str, m: Any, who: str | None, settings: Settings) -> dict[str, Any]:
    p = settings.province(m.province_code)
    return {
        **problem_entry(code, detail, who or ""),
        "province": p.name if p else "",
        "subject": display_name(m.subject),
        "received": local(m.received_at, settings),
    }


# --------------------------------------------------------------------------- terminal


def print_summary(summary: Summary) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"推荐材料接收情况日报 {summary.day.isoformat()}（{deadline_phrase(summary.days_left)}）")
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


WORKBOOK_FONT = "宋体"


def write_workbook(summary: Summary) -> bytes:
    """Five sheets that print on A4: a title and the header row on every page, long text wrapped,
    one font; the two charts on a sheet of their own, one to a page."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.pagebreak import Break

    wb = Workbook()
    plain, bold = Font(name=WORKBOOK_FONT, size=10), Font(name=WORKBOOK_FONT, size=10, bold=True)
    problem_fill = PatternFill("solid", fgColor="FFC7CE")
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="top")
    number = Alignment(horizontal="center", vertical="top")
    heading = f"推荐材料接收情况日报（{summary.day.isoformat()}）"

    def page_setup(ws: Any, landscape: bool = True) -> None:
        ws.page_setup.orientation = "landscape" if landscape else "portrait"
        ws.page_setup.paperSize = ws.PAPERSIZE_A4
        ws.page_margins.left = ws.page_margins.right = 0.5
        ws.page_margins.top = ws.page_margins.bottom = 0.75
        ws.oddHeader.center.text = heading
        ws.oddHeader.center.font = WORKBOOK_FONT
        ws.oddFooter.center.text = "第 &P 页，共 &N 页"
        ws.oddFooter.center.font = WORKBOOK_FONT

    def sheet(
        ws: Any,
        title: str,
        headers: list[str],
        rows: list[list[Any]],
        widths: list[int],
        problem_col: int | None = None,
    ) -> None:
        ws.title = title
        last = get_column_letter(len(headers))
        ws.append([f"{heading}　{title}"])
        ws.merge_cells(f"A1:{last}1")
        ws["A1"].font = Font(name=WORKBOOK_FONT, size=14, bold=True)
        ws["A1"].alignment = Alignment(horizontal="center", vertical="center")
        ws.row_dimensions[1].height = 24
        ws.append(headers)
        for cell in ws[2]:
            cell.font, cell.fill = bold, header_fill
            cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for row in rows:
            ws.append(row)
            flagged = problem_col is not None and row[problem_col]
            for cell in ws[ws.max_row]:
                cell.font = plain
                cell.alignment = number if isinstance(cell.value, int | float) else wrap
                if flagged:
                    cell.fill = problem_fill
        for i, w in enumerate(widths, 1):
            ws.column_dimensions[get_column_letter(i)].width = w
        # Row heights for wrapped text: spreadsheet programs do not all grow rows when they open a file.
        for row in ws.iter_rows(min_row=2):
            lines = max(_lines(c.value, widths[c.column - 1]) for c in row if c.column <= len(widths))
            if lines > 1:
                ws.row_dimensions[row[0].row].height = 13.5 * lines
        ws.freeze_panes = "A3"
        ws.auto_filter.ref = f"A2:{last}{max(ws.max_row, 2)}"
        page_setup(ws)
        print_on_a4(ws)
        ws.print_options.horizontalCentered = True

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
            r.review_line,
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
            "审核",
            "最后来件",
            "回执已发",
            "回执失败",
            "新到邮件",
        ],
        rows,
        [16, 9, 9, 9, 9, 16, 6, 8, 16, 17, 9, 9, 9],
        problem_col=None,
    )
    for i, r in enumerate(summary.rows, start=3):
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
            deadline_phrase(summary.days_left),
            "",
            sum(r.problems for r in summary.rows),
            review_line({s: sum(r.reviews.get(s, 0) for r in summary.rows) for s in REVIEW_STATES}),
            "",
            sum(r.receipts_sent for r in summary.rows),
            sum(r.receipts_failed for r in summary.rows),
            summary.new_messages,
        ]
    )
    for cell in ws[ws.max_row]:
        cell.font = bold
        cell.alignment = number if isinstance(cell.value, int | float) else wrap

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
        [12, 6, 24, 6, 30, 9, 9, 22, 17, 30],
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
        [12, 18, 14, 36, 44, 30, 17],
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
        [17, 28, 36, 10, 12, 7, 9, 24, 9, 28],
        problem_col=7,
    )

    # The charts on a sheet of their own, one to an A4 page: never over the table, never split.
    charts = wb.create_sheet("图表")
    page_setup(charts)
    charts["A1"] = f"{heading}　各省收到与名额"
    charts["A1"].font = Font(name=WORKBOOK_FONT, size=14, bold=True)
    n = len(summary.rows)
    cats = Reference(ws, min_col=1, min_row=3, max_row=n + 2)
    for i, (title, first_col) in enumerate((("个人：收到与名额", 2), ("单位：收到与名额", 4))):
        chart = BarChart()
        chart.type = "col"
        chart.title = title
        chart.y_axis.title = "人数" if first_col == 2 else "个数"
        chart.add_data(
            Reference(ws, min_col=first_col, max_col=first_col + 1, min_row=2, max_row=n + 2), titles_from_data=True
        )
        chart.set_categories(cats)
        chart.width, chart.height = CHART_CM
        charts.add_chart(chart, f"A{2 + i * CHART_PAGE_ROWS}")
    charts.row_breaks.append(Break(id=CHART_PAGE_ROWS))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def print_on_a4(ws: Any, title_rows: str = "1:2") -> None:
    """A sheet that prints on landscape A4, fitted to the page's width, its title rows on every page."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = title_rows


def _lines(value: object, width: int) -> int:
    """How many lines ``value`` wraps to in a column ``width`` characters wide (a CJK character
    takes two)."""
    if value is None:
        return 1
    total = 0
    for line in str(value).splitlines() or [""]:
        units = sum(2 if ord(ch) > 0x2E7F else 1 for ch in line)
        total += max(1, -(-units // max(1, int(width * 1.15))))
    return total


# Each chart fills one landscape A4 page: 25 × 14 cm, and a page is 32 rows of the default height.
CHART_CM = (25.0, 14.0)
CHART_PAGE_ROWS = 32


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
    body = render_template(
        settings, "summary.txt.j2", {"s": summary, "late": late, "deadline_phrase": deadline_phrase(summary.days_left)}
    )
    msg.attach(MIMEText(body, "plain", "utf-8"))
    # The filename as an RFC 2047 word in quotes: what QQ Mail, 163/126 webmail and Outlook all read.
    encoded = Header(workbook_filename(summary), "utf-8").encode()
    part = MIMEBase("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet", name=encoded)
    part.set_payload(workbook)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=encoded)
    msg.attach(part)
    return msg
