"""A province: its mail in order of arrival, current nominees, open and checked problems, what
corrections replaced."""

from __future__ import annotations

from typing import Any

from intake.campaign.standing import Standing
from intake.core.settings import Settings
from intake.core.text import display_name
from intake.office.nominees import MATERIAL_TEXT
from intake.web.pages.common import message_row, nominee_row
from store.repo import Repo


def province_page(repo: Repo, settings: Settings, code: str) -> dict[str, Any] | None:
    p = settings.province(code)
    if p is None:
        return None
    standing = Standing(repo, settings)
    messages = sorted(
        (m for m in repo.all_messages() if m.province_code == code),
        key=lambda m: (m.received_at or m.created_at, m.id),
    )
    by_id = {m.id: m for m in messages}
    current, replaced = [], []
    for n in repo.nominees():
        if n.province_code == code:
            (current if n.current else replaced).append(nominee_row(n, settings, standing, by_id.get(n.message_pk)))
    problems = [x for x in standing.of_province(code) if not x.informational]
    counts = standing.counts(code)
    return {
        "province": p,
        "messages": [message_row(m, settings, standing) for m in messages],
        "unmatched": [
            {
                "message_id": msg.id,
                "subject": display_name(msg.subject) or "（无主题）",
                "position": x.position,
                "kind": MATERIAL_TEXT.get(x.kind, x.kind),
                "file": display_name((x.info or {}).get("file", "")),
                "attachment_id": x.attachment_id,
            }
            for x, msg in repo.unmatched_materials(code)
        ],
        "current": current,
        "replaced": replaced,
        "open_problems": [x.view() for x in problems if x.open],
        "checked_problems": [x.view() for x in problems if not x.open],
        "notices": [x.view() for x in standing.of_province(code) if x.informational],
        "counts": {"individual": counts["individuals"], "unit": counts["units"]},
    }
