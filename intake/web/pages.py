"""What the console's pages show, as plain data: one function a page, each reading through the
repository. The numbers are those of ``intake summary`` and ``intake export`` at the same moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from intake.campaign.standing import display_name, local, nominee_fields
from intake.core.settings import Settings
from intake.core.vocabulary import deadline_phrase, labels
from intake.ingest.overrides import flag_key
from intake.office.actions import FIELD_NAMES, REVIEW_STATES
from intake.reports.summary import print_on_a4, province_rows
from store.repo import Flag, Message, Nominee, Repo, Store

FIELD_ORDER = [
    "sex",
    "birth",
    "ethnicity",
    "political",
    "education",
    "work_start",
    "party_date",
    "workplace",
    "post",
    "phone",
    "unit_name",
    "head",
    "address",
    "contact",
    "staff",
    "level",
    "deeds",
]
MORE_FIELD_NAMES = {
    "work_start": "参加工作时间",
    "party_date": "入党时间",
    "unit_name": "单位名称",
    "contact": "联系人",
    "staff": "职工人数",
    "level": "单位级别",
    "kind": "类别（表内）",
    "seq": "序号",
    "province": "省份（表内）",
    "remark": "备注",
}


def field_label(name: str) -> str:
    return FIELD_NAMES.get(name) or MORE_FIELD_NAMES.get(name) or name


def _flag_view(f: Flag, checked: dict[str, Any], who: str = "") -> dict[str, Any]:
    check = checked.get(flag_key(f.scope, f.code, f.message_pk, f.nominee_id, f.province_code))
    return {
        "id": f.id,
        "code": f.code,
        "label": labels("flag", f.code),
        "detail": f.detail,
        "advice": labels("advice", f.code),
        "who": who,
        "checked": {"by": check.by, "at": check.at, "note": check.note} if check else None,
    }


def board(repo: Repo, settings: Settings, now: datetime) -> dict[str, Any]:
    """The 总览: the numbers of ``intake summary`` for today, and what waits for a person."""
    tz = settings.campaign.tz
    until = datetime.combine(now.astimezone(tz).date(), settings.schedule.summary_at, tzinfo=tz)
    rows = province_rows(repo, settings, until - timedelta(days=1), until)
    deadline = settings.campaign.deadline.astimezone(tz)
    waiting = repo.waiting_for_people()
    return {
        "rows": rows,
        "totals": {
            "individuals": sum(r.individuals for r in rows),
            "units": sum(r.units for r in rows),
            "quota_individuals": settings.quota_individuals,
            "quota_units": settings.quota_units,
            "silent": sum(1 for r in rows if r.messages == 0),
            "problems": sum(r.problems for r in rows),
            "reviews": review_totals(rows),
        },
        "deadline": deadline,
        "deadline_phrase": deadline_phrase((deadline.date() - now.astimezone(tz).date()).days),
        "receipts_waiting": waiting["receipts"],
        "unknown_province": [
            {"id": pk, "subject": display_name(subject), "from": sender, "received": local(at, settings)}
            for pk, subject, sender, at in waiting["unknown_province"]
        ],
        "set_aside_documents": [
            {"id": pk, "subject": display_name(subject), "from": sender, "class": labels("classification", cls)}
            for pk, subject, sender, cls in waiting["set_aside"]
        ],
        "orphans": len(repo.orphan_corrections()),
    }


def review_totals(rows: list[Any]) -> list[tuple[str, int]]:
    """Current nominees by review state over all provinces, as (待审, 12) pairs in the review's order."""
    from intake.office.actions import REVIEW_STATES

    return [(label, sum(r.reviews.get(state, 0) for r in rows)) for state, label in REVIEW_STATES.items()]


def _message_row(m: Message, settings: Settings) -> dict[str, Any]:
    return {
        "id": m.id,
        "subject": display_name(m.subject) or "（无主题）",
        "from": m.from_addr,
        "received": local(m.received_at, settings),
        "classification": labels("classification", m.classification or m.state),
        "nominees": len(m.nominees),
        "attachments": len(m.attachments),
        "flags": [labels("flag", f.code) for f in m.flags],
        "receipt": labels("receipt", m.receipt.state) if m.receipt else "",
    }


def _nominee_row(
    n: Nominee, settings: Settings, message: Message | None = None, review: str = "pending"
) -> dict[str, Any]:
    p = settings.province(n.province_code)
    return {
        "review": REVIEW_STATES.get(review, review),
        "review_code": review,
        "id": n.id,
        "name": display_name(n.name),
        "kind": labels("kind", n.kind),
        "kind_code": n.kind,
        "province": p.name if p else "未确定",
        "province_code": n.province_code,
        "rank": n.rank,
        "workplace": display_name(str((n.fields or {}).get("workplace", ""))),
        "narrative_chars": n.narrative_chars,
        "source": {"form": "推荐表", "list": "汇总表", "pdf": "PDF"}.get(n.source, n.source),
        "source_code": n.source,
        "current": n.current,
        "flags": [labels("flag", f.code) for f in n.flags],
        "flag_codes": [f.code for f in n.flags],
        "message_id": n.message_pk,
        "received": local(message.received_at, settings) if message else None,
    }


def province_page(repo: Repo, settings: Settings, code: str) -> dict[str, Any] | None:
    p = settings.province(code)
    if p is None:
        return None
    checked = repo.flag_checks()
    messages = sorted(
        (m for m in repo.all_messages() if m.province_code == code),
        key=lambda m: (m.received_at or m.created_at, m.id),
    )
    current, replaced, problems = [], [], []
    reviews = {pk: r.state for pk, r in repo.review_states().items()}
    for m in messages:
        if m.classification == "submission":
            problems.extend(_flag_view(f, checked) for f in m.flags)
        for n in m.nominees:
            row = _nominee_row(n, settings, m, reviews.get(n.id, "pending"))
            (current if n.current else replaced).append(row)
            if n.current:
                problems.extend(_flag_view(f, checked, display_name(n.name)) for f in n.flags)
    problems.extend(_flag_view(f, checked) for f in repo.province_flags(code))
    counts = {"individual": 0, "unit": 0, **repo.current_counts(code)}
    return {
        "province": p,
        "messages": [_message_row(m, settings) for m in messages],
        "current": current,
        "replaced": replaced,
        "open_problems": [x for x in problems if not x["checked"]],
        "checked_problems": [x for x in problems if x["checked"]],
        "counts": counts,
    }


def message_page(repo: Repo, store: Store, settings: Settings, pk: int) -> dict[str, Any] | None:
    from parsers.mime import parse_message

    m = repo.message(pk)
    if m is None:
        return None
    checked = repo.flag_checks()
    body = ""
    try:
        parsed = parse_message(store.blobs.get(m.sha256))
        # Text only: an HTML body is turned into text, so nothing in it can run or load.
        body = parsed.body_text
    except Exception:  # a body that cannot be read is shown as such, never as an error page
        body = "（正文无法读取）"
    info = m.info or {}
    p = settings.province(m.province_code)
    attachments = [
        {
            "id": a.id,
            "filename": display_name(a.filename) or "（无文件名）",
            "depth": _depth(a, {x.id: x for x in m.attachments}),
            "type": a.type.upper(),
            "role": labels("role", a.role),
            "status": labels("status", a.status),
            "detail": a.detail,
            "size": a.size,
            "records": (a.info or {}).get("records", 0),
        }
        for a in m.attachments
    ]
    receipt = None
    if m.receipt is not None:
        receipt = {
            "state": labels("receipt", m.receipt.state),
            "to": m.receipt.to_addr,
            "reason": m.receipt.reason,
            "sent_at": local(m.receipt.sent_at, settings),
            "error": m.receipt.last_error,
            "body": m.receipt.body,
        }
    overrides = repo.overrides_for(m.id)
    return {
        "message": m,
        "subject": display_name(m.subject) or "（无主题）",
        "from": f"{display_name(m.from_name)} <{m.from_addr}>" if m.from_name else m.from_addr,
        "to": [display_name(x) for x in info.get("to", [])],
        "received": local(m.received_at, settings),
        "received_source": {
            "internaldate": "邮件服务器收件时间",
            "received": "Received 邮件头",
            "date": "邮件 Date 头",
            "fetched": "读取时间",
        }.get(m.received_source, m.received_source),
        "classification": labels("classification", m.classification or m.state),
        "classification_code": m.classification,
        "reason": info.get("reason", ""),
        "province": p.name if p else "未确定",
        "province_code": m.province_code,
        "body": body[:20000],
        "attachments": attachments,
        "nominees": [_nominee_row(n, settings, m) for n in m.nominees],
        "flags": [_flag_view(f, checked) for f in m.flags],
        "problems": [
            f"{(display_name(n.name) + '：') if n else ''}{labels('flag', f.code)}（{f.detail}）"
            for n, f in [(None, f) for f in m.flags] + [(n, f) for n in m.nominees for f in n.flags]
        ],
        "receipt": receipt,
        "overrides": {k: {"value": v.value, "by": v.by, "reason": v.reason} for k, v in overrides.items()},
        "error": (m.error or "").strip().splitlines()[-1] if m.error else "",
    }


def _depth(a: Any, by_id: dict[int, Any]) -> int:
    depth, parent = 0, a.parent_id
    while parent is not None and depth < 10:
        depth += 1
        parent = by_id[parent].parent_id if parent in by_id else None
    return depth


@dataclass(frozen=True)
class NomineeFilter:
    province: str = ""
    kind: str = ""
    state: str = ""  # current | replaced
    flag: str = ""
    source: str = ""
    q: str = ""
    sort: str = "province"


def nominees_list(repo: Repo, settings: Settings, f: NomineeFilter) -> list[dict[str, Any]]:
    order = {p.code: i for i, p in enumerate(settings.provinces)}
    messages = {m.id: m for m in repo.all_messages(with_children=False)}
    reviews = {pk: r.state for pk, r in repo.review_states().items()}
    out = []
    for n in repo.nominees():
        review = reviews.get(n.id, "pending")
        if f.state in REVIEW_STATES and (review != f.state or not n.current):
            continue
        if f.province and n.province_code != f.province:
            continue
        if f.kind and n.kind != f.kind:
            continue
        if (f.state == "current" and not n.current) or (f.state == "replaced" and n.current):
            continue
        if f.source and n.source != f.source:
            continue
        if f.q and f.q.strip() not in n.name:
            continue
        row = _nominee_row(n, settings, messages.get(n.message_pk), review)
        if f.flag and f.flag not in row["flag_codes"]:
            continue
        out.append(row)
    keys = {
        "province": lambda r: (order.get(r["province_code"] or "", 999), r["kind_code"], r["rank"] or 999, r["name"]),
        "name": lambda r: r["name"],
        "rank": lambda r: (r["rank"] is None, r["rank"] or 0),
        "narrative": lambda r: -(r["narrative_chars"] or 0),
        "received": lambda r: r["received"] or datetime.min.replace(tzinfo=settings.campaign.tz),
    }
    out.sort(key=keys.get(f.sort, keys["province"]))
    return out


def nominees_workbook(rows: list[dict[str, Any]], day: date) -> bytes:
    """The console's current list of nominees as a workbook."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "推荐对象"
    ws.append([f"推荐对象名单（{day.isoformat()}）"])
    ws["A1"].font = Font(size=14, bold=True)
    headers = ["省份", "类别", "姓名/单位名称", "排序", "工作单位及职务", "事迹字数", "来源", "是否有效", "问题"]
    ws.append(headers)
    for r in rows:
        ws.append(
            [
                r["province"],
                r["kind"],
                r["name"],
                r["rank"],
                r["workplace"],
                r["narrative_chars"],
                r["source"],
                "是" if r["current"] else "已被更正替换",
                "、".join(r["flags"]),
            ]
        )
    for col, width in zip("ABCDEFGHI", (12, 6, 26, 6, 32, 9, 8, 12, 28), strict=True):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    print_on_a4(ws)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def nominee_page(repo: Repo, settings: Settings, pk: int) -> dict[str, Any] | None:
    n = repo.nominee(pk)
    if n is None:
        return None
    m = repo.message(n.message_pk)
    checked = repo.flag_checks()
    fields = nominee_fields(n.fields or {})
    shown = [(k, field_label(k), fields[k]) for k in FIELD_ORDER if fields.get(k)]
    # The name and the rank stand at the top, corrected where a person corrected them.
    hidden = {*FIELD_ORDER, "opinions", "name", "unit_name", "subject", "rank"}
    shown = [x for x in shown if x[0] not in ("name", "unit_name")]
    shown += [(k, field_label(k), v) for k, v in fields.items() if k not in hidden and v]
    attachments = {a.id: a for a in (m.attachments if m else [])}
    files = []
    for att_id, what in ((n.attachment_id, "推荐表/汇总表"), (n.narrative_attachment_id, "事迹材料")):
        a = attachments.get(att_id) if att_id else None
        if a is not None and all(f["id"] != a.id for f in files):
            files.append({"id": a.id, "filename": display_name(a.filename), "what": what, "type": a.type})
    reviews = repo.reviews_for(n.id)
    return {
        "nominee": _nominee_row(n, settings, m, reviews[-1].state if reviews else "pending"),
        "reviews": [
            {"state": REVIEW_STATES[r.state], "reason": r.reason, "by": r.by, "at": local(r.at, settings)}
            for r in reviews
        ],
        "review_states": list(REVIEW_STATES.items()),
        "fields": shown,
        "opinions": fields["opinions"],
        "files": files,
        "narrative_chars_nospace": n.narrative_chars_nospace,
        "limit": settings.campaign.narrative_limit,
        "flags": [_flag_view(f, checked) for f in n.flags],
        "corrections": [
            {
                "field": field_label(c.field),
                "old": c.old_value,
                "new": c.new_value,
                "by": c.by,
                "at": local(c.at, settings),
                "reason": c.reason,
            }
            for c in repo.corrections_for([n.id])
        ],
        "correctable": [(k, v) for k, v in FIELD_NAMES.items()],
        "subject": display_name(m.subject) if m else "",
    }


def audit_page(repo: Repo, settings: Settings) -> dict[str, Any]:
    return {
        "entries": [
            {
                "at": local(e.at, settings),
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "summary": e.summary,
                "reason": e.reason,
            }
            for e in repo.audit()
        ],
        "orphans": [
            {
                "name": c.nominee_name,
                "field": field_label(c.field),
                "new": c.new_value,
                "by": c.by,
                "at": local(c.at, settings),
                "message_id": c.message_pk,
            }
            for c in repo.orphan_corrections()
        ],
    }


RECEIPTS_SHOWN = 500  # the newest; every receipt is also on its message's page


def outbox_page(repo: Repo, settings: Settings) -> dict[str, Any]:
    from intake.ops.status import failure_key
    from intake.outbox.letters import returns_waiting

    def view(o: Any) -> dict[str, Any]:
        p = settings.province(o.province_code)
        return {
            "id": o.id,
            "kind": {"reminder": "催报", "return": "退回修改", "summary": "每日汇总"}.get(o.kind, o.kind),
            "province": p.name if p else "",
            "to": o.to_addr,
            "subject": o.subject,
            "body": o.body,
            "state": {
                "draft": "待审",
                "queued": "待发",
                "sending": "发送中",
                "sent": "已发送",
                "failed": "发送失败",
                "discarded": "已作废",
            }.get(o.state, o.state),
            "reason": o.reason,
            "by": o.created_by,
            "created": local(o.created_at, settings),
            "sent": local(o.sent_at, settings),
            "error": o.last_error,
            "message_id": o.message_pk,
            "acknowledged": failure_key("outbox", o.id) in checked,
        }

    checked = repo.flag_checks()
    mails = repo.outgoing_mail()
    subjects = dict(repo.message_subjects())
    receipts = [
        {
            "id": r.id,
            "failed": r.state == "failed",
            "acknowledged": failure_key("receipt", r.id) in checked,
            "message_id": r.message_pk,
            "subject": display_name(subjects.get(r.message_pk, "")) or "（无主题）",
            "to": r.to_addr,
            "state": labels("receipt", r.state),
            "sent": local(r.sent_at, settings),
            "next": local(r.next_attempt_at, settings) if r.state == "queued" else None,
            "error": r.last_error or r.reason,
        }
        for r in reversed(repo.receipts_in(["queued", "sending", "sent", "failed", "suppressed"])[-RECEIPTS_SHOWN:])
    ]
    return {
        "drafts": [view(o) for o in mails if o.state == "draft"],
        "others": [view(o) for o in reversed(mails) if o.state != "draft"],
        "receipts": receipts,
        "waiting": [{**w, "sent_at": local(w["sent_at"], settings)} for w in returns_waiting(repo)],
    }
