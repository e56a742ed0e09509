"""The daily intake summary: every province against its quota, the open problems, the mail of the
day; read from the campaign's standing (the board shows the same numbers). Printed as a table,
written as a workbook (``summary_book``), mailed to the office."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import encoders
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

from rich.console import Console
from rich.table import Table

from intake.campaign.standing import Problem, ProvinceRow, Standing
from intake.core.settings import Settings
from intake.core.templates import render_template
from intake.core.text import display_name
from intake.core.time import local
from intake.core.vocabulary import REVIEW_STATES, deadline_phrase, labels
from store.repo import Message as StoredMessage
from store.repo import Repo


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
    def review_counts(self) -> dict[str, int]:
        return {s: sum(r.reviews.get(s, 0) for r in self.rows) for s in REVIEW_STATES}

    @property
    def review_totals(self) -> str:
        return "，".join(f"{REVIEW_STATES[s]}{n}" for s, n in self.review_counts.items())

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


def summary_window(settings: Settings, day: date) -> tuple[datetime, datetime]:
    """The day a summary covers: from the summary hour the day before to the hour of ``day``."""
    until = datetime.combine(day, settings.schedule.summary_at, tzinfo=settings.campaign.tz)
    return until - timedelta(days=1), until


def build_summary(repo: Repo, settings: Settings, day: date, now: datetime) -> Summary:
    tz = settings.campaign.tz
    since, until = summary_window(settings, day)
    deadline = settings.campaign.deadline.astimezone(tz)
    standing = Standing(repo, settings)
    messages = repo.all_messages()
    by_id = {m.id: m for m in messages}
    return Summary(
        day=day,
        generated_at=now.astimezone(tz),
        since=since,
        until=until,
        deadline=deadline,
        days_left=(deadline.date() - day).days,
        rows=standing.rows(since, until),
        nominees=[
            _nominee(n, by_id[n.message_pk], standing, settings) for n in repo.nominees() if n.message_pk in by_id
        ],
        problems=[
            _problem(p, by_id.get(p.message_id or 0), settings) for p in standing.open_problems(standing.all_standing())
        ],
        messages=[_message(m, settings, standing) for m in messages],
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


def _province_name(settings: Settings, code: str | None) -> str:
    p = settings.province(code)
    return p.name if p else ""


def _nominee(n: Any, m: StoredMessage, standing: Standing, settings: Settings) -> dict[str, Any]:
    return {
        "province": _province_name(settings, m.province_code),
        "kind": labels("kind", n.kind),
        "name": display_name(n.name),
        "rank": n.rank,
        "workplace": display_name(str((n.fields or {}).get("workplace", ""))),
        "narrative_chars": n.narrative_chars,
        "current": n.current,
        "flags": "、".join(p.label for p in standing.of_nominee(n.id) if p.open),
        "received": local(m.received_at, settings.campaign.tz),
        "subject": display_name(m.subject),
    }


def _problem(p: Problem, m: StoredMessage | None, settings: Settings) -> dict[str, Any]:
    return {
        "code": p.code,
        "label": p.label,
        "detail": p.detail,
        "advice": p.advice,
        "who": p.who,
        "province": _province_name(settings, p.province if p.scope == "province" else (m.province_code if m else None)),
        "subject": display_name(m.subject) if m else "",
        "received": local(m.received_at, settings.campaign.tz) if m else None,
    }


def _message(m: StoredMessage, settings: Settings, standing: Standing) -> dict[str, Any]:
    return {
        "received": local(m.received_at, settings.campaign.tz),
        "from": m.from_addr,
        "subject": display_name(m.subject),
        "classification": labels("classification", m.classification or m.state),
        "province": _province_name(settings, m.province_code),
        "attachments": len(m.attachments),
        "nominees": len(standing.brought(m.id)),
        "flags": "、".join(labels("flag", f.code) for f in m.flags),
        "receipt": labels("receipt", m.receipt.state) if m.receipt else "",
        "receipt_to": m.receipt.to_addr if m.receipt else "",
    }


# --------------------------------------------------------------------------- terminal


def print_summary(summary: Summary) -> None:
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


# --------------------------------------------------------------------------- mail


def workbook_filename(summary: Summary) -> str:
    return f"推荐材料接收日报{summary.day.isoformat()}.xlsx"


def summary_mail(summary: Summary, settings: Settings, workbook: bytes) -> Message:
    """The summary as a mail with its workbook (its Message-ID and To are set per recipient)."""
    msg = MIMEMultipart()
    name, addr = parseaddr(settings.smtp.sender)
    msg["Subject"] = Header(f"推荐材料接收情况日报（{summary.day.isoformat()}）", "utf-8")
    msg["From"] = formataddr((str(Header(name, "utf-8").encode()), addr)) if name else addr
    msg["Date"] = format_datetime(summary.generated_at)
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
