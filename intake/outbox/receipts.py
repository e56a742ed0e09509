"""The receipt (回执): what one submission brought and what must be fixed, from the campaign's
standing at the moment it goes (a receipt is made when it is sent, never before)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

from intake.campaign.standing import Standing
from intake.core.settings import Settings
from intake.core.templates import render_template
from intake.core.text import display_name, header_text
from intake.core.time import local
from intake.core.vocabulary import PROVINCE_UNKNOWN, file_status, labels
from intake.mail.replies import message_ids
from store.repo import Message, OutgoingMail, Repo


def problem_entry(code: str, detail: str, who: str = "") -> dict[str, str]:
    """One problem as a letter lists it: what, the detail, what to do, and about whom."""
    return {"code": code, "label": labels("flag", code), "detail": detail, "advice": labels("advice", code), "who": who}


KIND_ADDED = {"form": "推荐表", "narrative": "事迹材料", "list_row": "汇总表中的一行", "opinion": "意见"}


def message_report(repo: Repo, message: Message, settings: Settings, standing: Standing) -> dict[str, Any]:
    """What one message's receipt (and a return of it) says. ``nominees`` are those this mail
    brought something to, each with what it added and what their dossier still lacks;
    ``problems`` are the open ones of the standing (a problem a person checked is not asked of
    the province); ``notices`` carry what the province should know but need not fix."""
    province = settings.province(message.province_code)
    mine = standing.of_message(message.id)
    problems = [problem_entry(p.code, p.detail, p.who) for p in standing.open_problems(mine)]
    notices = [problem_entry(p.code, p.detail, p.who) for p in mine if p.informational and p.open]
    if province is None:
        label, advice = PROVINCE_UNKNOWN
        problems.append({"code": "", "label": label, "detail": "", "advice": advice, "who": ""})
    nominees = []
    for nid, kinds in standing.brought(message.id).items():
        n = repo.nominee(nid)
        if n is None:
            continue
        nominees.append(
            {
                "name": display_name(n.name),
                "kind": labels("kind", n.kind),
                "rank": n.rank,
                "current": n.current,
                "narrative_chars": n.narrative_chars,
                "added": "、".join(KIND_ADDED.get(k, k) for k in kinds),
                "flags": [p.label for p in standing.open_problems(standing.of_nominee(nid))],
            }
        )
    attachments = [
        {
            "filename": display_name(a.filename),
            "type": a.type,
            # A file that could not be read is of no known kind: its role is not guessed at.
            "role": "" if a.role == "other" and a.status in ("unreadable", "skipped") else labels("role", a.role),
            "status": file_status(a.status, a.role),
            "detail": a.detail,
        }
        for a in message.attachments
    ]
    tz = settings.campaign.tz
    deadline = settings.campaign.deadline.astimezone(tz)
    received = local(message.received_at, tz)
    return {
        "message": message,
        "subject": display_name(message.subject or "") or "（无主题）",
        "received_at": received,
        "late": received is not None and received > deadline,
        "province": province,
        "standing": standing.counts(message.province_code),
        "attachments": attachments,
        "nominees": nominees,
        "problems": problems,
        "notices": notices,
        "deadline": deadline,
        "campaign": settings.campaign,
        "narrative_limit": settings.campaign.narrative_limit,
    }


def build_receipt(
    repo: Repo, message: Message, receipt: OutgoingMail, settings: Settings, now: datetime, standing: Standing
) -> MIMEMultipart:
    report = message_report(repo, message, settings, standing)
    context = {
        **report,
        "reference": receipt_reference(receipt, settings),
        "reply_address": parseaddr(settings.smtp.sender)[1],
        "now": now.astimezone(settings.campaign.tz),
        "labels": labels,
    }
    text = render_template(settings, "receipt.txt.j2", context)
    html = render_template(settings, "receipt.html.j2", context)
    # Written with the email package's classic classes: several times cheaper than its newer
    # header objects, which parse each header we set and fold it again (most of a receipt's cost).
    msg = MIMEMultipart("alternative")
    msg["Subject"] = Header(f"回执：{header_text(report['subject'], 200)}", "utf-8")
    msg["From"] = formataddr(parseaddr(settings.smtp.sender), charset="utf-8")
    msg["To"] = receipt.to_addr
    msg["Date"] = format_datetime(now.astimezone(settings.campaign.tz))
    msg["Message-ID"] = receipt.rfc_message_id
    own_id = message_ids(message.message_id)[-1:]
    if own_id:
        msg["In-Reply-To"] = own_id[0]
        refs = message_ids((message.info or {}).get("headers", {}).get("references", ""))
        msg["References"] = " ".join([*refs[-10:], *own_id])
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Precedence"] = "auto_reply"
    msg.attach(MIMEText(text, "plain", "utf-8"))  # base64
    msg.attach(MIMEText(html, "html", "utf-8"))
    return msg


def receipt_reference(receipt: OutgoingMail, settings: Settings) -> str:
    """HZ, the day the receipt was made in the campaign's time zone (Beijing), the message's number."""
    created = (receipt.created_at or datetime.now(UTC)).astimezone(settings.campaign.tz)
    return f"HZ{created:%Y%m%d}-{receipt.message_pk or 0:05d}"
