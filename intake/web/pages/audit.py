"""操作记录: who changed what, when and why; and corrections whose nominee is no longer read."""

from __future__ import annotations

from typing import Any

from intake.core.settings import Settings
from intake.core.vocabulary import field_label
from store.repo import Repo


def audit_page(repo: Repo, settings: Settings) -> dict[str, Any]:
    return {
        "entries": [
            {
                "at": e.at,
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
                "at": c.at,
                "message_id": c.message_pk,
            }
            for c in repo.orphan_corrections()
        ],
    }
