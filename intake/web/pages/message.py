"""A message: sender, arrival time and its source, classification and why, the body as text (as
recorded when it was read: the page never parses mailed bytes), every file, the nominees read,
its problems (the same as its receipt's, checked ones shown as checked), the receipt."""

from __future__ import annotations

from typing import Any

from intake.campaign.standing import Standing
from intake.core.settings import Settings
from intake.core.text import display_name
from intake.core.vocabulary import file_status, labels
from intake.outbox.receipts import KIND_ADDED
from intake.web.pages.common import nominee_row
from store.repo import Attachment, Repo


def message_page(repo: Repo, settings: Settings, pk: int) -> dict[str, Any] | None:
    m = repo.message(pk)
    if m is None:
        return None
    standing = Standing(repo, settings)
    info = m.info or {}
    p = settings.province(m.province_code)
    by_id = {a.id: a for a in m.attachments}
    mine = standing.of_message(m.id)
    problems = [x for x in mine if not x.informational]
    return {
        "message": m,
        "subject": display_name(m.subject) or "（无主题）",
        "from": f"{display_name(m.from_name)} <{m.from_addr}>" if m.from_name else m.from_addr,
        "to": [display_name(x) for x in info.get("to", [])],
        "received": m.received_at,
        "received_source": labels("received_source", m.received_source),
        "classification": labels("classification", m.classification or m.state),
        "classification_code": m.classification,
        "reason": info.get("reason", ""),
        "province": p.name if p else "未确定",
        "province_code": m.province_code,
        "body": _body(m.state, m.body_text, info),
        "attachments": [_attachment(a, by_id) for a in m.attachments],
        "nominees": [
            {**nominee_row(n, settings, standing, m), "added": "、".join(KIND_ADDED.get(k, k) for k in kinds)}
            for nid, kinds in standing.brought(m.id).items()
            if (n := repo.nominee(nid)) is not None
        ],
        "flags": [x.view() for x in problems],
        "notices": [x.view() for x in mine if x.informational],
        "problems": [x.line() for x in standing.open_problems(mine)],
        "receipt": _receipt(m.receipt),
        "overrides": {
            k: {"value": v.value, "by": v.by, "reason": v.reason} for k, v in repo.overrides_for(m.id).items()
        },
        "error": (m.error or "").strip().splitlines()[-1] if m.error else "",
    }


def _body(state: str, body: str, info: dict[str, Any]) -> str:
    """Text only (an HTML body was turned into text when the message was read), as recorded."""
    if body or "own_words" in info:
        return body
    if state in ("new", "processing"):
        return "（邮件尚未读取，读取后显示正文）"
    return "（正文未记录：重新处理后显示）"


def _attachment(a: Attachment, by_id: dict[int, Attachment]) -> dict[str, Any]:
    return {
        "id": a.id,
        "filename": display_name(a.filename) or "（无文件名）",
        "depth": _depth(a, by_id),
        "type": a.type.upper(),
        "role": labels("role", a.role),
        "status": file_status(a.status, a.role),
        "detail": a.detail,
        "size": a.size,
        "records": (a.info or {}).get("records", 0),
    }


def _receipt(r: Any) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "state": labels("receipt", r.state),
        "to": r.to_addr,
        "reason": r.reason,
        "sent_at": r.sent_at,
        "error": r.last_error,
        "body": r.body,
    }


def _depth(a: Attachment, by_id: dict[int, Attachment]) -> int:
    depth, parent = 0, a.parent_id
    while parent is not None and depth < 10:
        depth += 1
        parent = by_id[parent].parent_id if parent in by_id else None
    return depth
