"""发件箱: every mail we send, one list: drafts for a reviewer, what went and what could not, the
returns still waiting for a correction."""

from __future__ import annotations

from typing import Any

from intake.core.keys import failure_key
from intake.core.settings import Settings
from intake.core.text import display_name
from intake.core.vocabulary import labels
from intake.outbox.reminders import returns_waiting
from store.repo import OutgoingMail, Repo

RECEIPTS_SHOWN = 500  # the newest; every receipt is also on its message's page


def _view(o: OutgoingMail, settings: Settings, checked: dict[str, Any], subjects: dict[int, str]) -> dict[str, Any]:
    p = settings.province(o.province_code)
    subject = o.subject
    if o.kind == "receipt" and not subject:
        subject = f"回执：{display_name(subjects.get(o.message_pk or 0, '')) or '（无主题）'}"
    return {
        "id": o.id,
        "kind": labels("outbox_kind", o.kind),
        "province": p.name if p else "",
        "to": o.to_addr,
        "subject": subject,
        "body": o.body,
        "state": labels("outbox", o.state),
        "failed": o.state == "failed",
        "reason": o.reason,
        "by": o.created_by,
        "created": o.created_at,
        "sent": o.sent_at,
        "next": o.next_attempt_at if o.state == "queued" else None,
        "error": o.last_error or (o.reason if o.state == "suppressed" else ""),
        "message_id": o.message_pk,
        "acknowledged": failure_key("outbox", o.id) in checked,
    }


def outbox_page(repo: Repo, settings: Settings) -> dict[str, Any]:
    checked = repo.flag_checks()
    subjects = dict(repo.message_subjects())
    mails = repo.outgoing_mail()
    others = [o for o in reversed(mails) if o.state != "draft" and o.kind != "receipt"]
    receipts = [o for o in reversed(mails) if o.kind == "receipt"][:RECEIPTS_SHOWN]
    return {
        "drafts": [_view(o, settings, checked, subjects) for o in mails if o.state == "draft"],
        "others": [_view(o, settings, checked, subjects) for o in others],
        "receipts": [_view(o, settings, checked, subjects) for o in receipts],
        "waiting": returns_waiting(repo),
    }
