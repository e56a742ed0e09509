"""A province: its mail in order of arrival, current nominees, open and checked problems, what
corrections replaced."""

from __future__ import annotations

from typing import Any

from intake.campaign.standing import Standing
from intake.core.settings import Settings
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
    current, replaced = [], []
    for m in messages:
        for n in m.nominees:
            (current if n.current else replaced).append(nominee_row(n, settings, standing, m))
    problems = [x for x in standing.of_province(code) if not x.informational]
    counts = standing.counts(code)
    return {
        "province": p,
        "messages": [message_row(m, settings, standing) for m in messages],
        "current": current,
        "replaced": replaced,
        "open_problems": [x.view() for x in problems if x.open],
        "checked_problems": [x.view() for x in problems if not x.open],
        "notices": [x.view() for x in standing.of_province(code) if x.informational],
        "counts": {"individual": counts["individuals"], "unit": counts["units"]},
    }
