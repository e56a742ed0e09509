"""Rows the console's pages share: a message in a list, a nominee in a list."""

from __future__ import annotations

from typing import Any

from intake.campaign.standing import Standing
from intake.core.settings import Settings
from intake.core.text import display_name
from intake.core.vocabulary import labels
from store.repo import Message, Nominee


def message_row(m: Message, settings: Settings, standing: Standing) -> dict[str, Any]:
    return {
        "id": m.id,
        "subject": display_name(m.subject) or "（无主题）",
        "from": m.from_addr,
        "received": m.received_at,
        "classification": labels("classification", m.classification or m.state),
        "nominees": len(standing.brought(m.id)),
        "attachments": len(m.attachments),
        "flags": [p.label for p in standing.of_message(m.id) if p.open and p.scope == "message"],
        "receipt": labels("receipt", m.receipt.state) if m.receipt else "",
    }


def nominee_row(n: Nominee, settings: Settings, standing: Standing, message: Message | None = None) -> dict[str, Any]:
    p = settings.province(n.province_code)
    review = standing.review_state(n.id)
    problems = [x for x in standing.of_nominee(n.id) if x.open]
    return {
        "review": labels("review", review),
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
        "source": labels("source", n.source),
        "source_code": n.source,
        "current": n.current,
        "flags": [x.label for x in problems],
        "flag_codes": [x.code for x in problems],
        "message_id": n.message_pk,
        "received": message.received_at if message else None,
    }
