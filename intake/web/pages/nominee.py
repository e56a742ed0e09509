"""A nominee: every field read (corrected where a person corrected it), the opinions, the 字数,
the original files, the problems, the reviews and corrections on record."""

from __future__ import annotations

from typing import Any

from intake.campaign.standing import Standing
from intake.core.settings import Settings
from intake.core.text import display_name
from intake.core.vocabulary import FIELD_NAMES, FIELD_ORDER, REVIEW_STATES, field_label
from intake.office.nominees import MATERIAL_TEXT
from intake.reports.export import nominee_fields
from intake.web.pages.common import nominee_row
from store.repo import Nominee, Repo


def _files(n: Nominee, attachments: dict[int, Any]) -> list[dict[str, Any]]:
    files: list[dict[str, Any]] = []
    for att_id, what in ((n.attachment_id, "推荐表/汇总表"), (n.narrative_attachment_id, "事迹材料")):
        a = attachments.get(att_id) if att_id else None
        if a is not None and all(f["id"] != a.id for f in files):
            files.append({"id": a.id, "filename": display_name(a.filename), "what": what, "type": a.type})
    return files


def nominee_page(repo: Repo, settings: Settings, pk: int) -> dict[str, Any] | None:
    n = repo.nominee_or_alias(pk)
    if n is None:
        return None
    m = repo.message(n.message_pk)
    standing = Standing(repo, settings)
    fields = nominee_fields(n.fields or {})
    shown = [(k, field_label(k), fields[k]) for k in FIELD_ORDER if fields.get(k)]
    # The name and the rank stand at the top, corrected where a person corrected them.
    hidden = {*FIELD_ORDER, "opinions", "name", "unit_name", "subject", "rank"}
    shown = [x for x in shown if x[0] not in ("name", "unit_name")]
    shown += [(k, field_label(k), v) for k, v in fields.items() if k not in hidden and v]
    return {
        "nominee": nominee_row(n, settings, standing, m),
        "reviews": [
            {"state": REVIEW_STATES[r.state], "reason": r.reason, "by": r.by, "at": r.at}
            for r in repo.reviews_for(n.id)
        ],
        "review_states": list(REVIEW_STATES.items()),
        "fields": shown,
        "opinions": fields["opinions"],
        "files": _files(n, {a.id: a for a in (m.attachments if m else [])}),
        "narrative_chars_nospace": n.narrative_chars_nospace,
        "limit": settings.campaign.narrative_limit,
        "flags": [x.view() for x in standing.of_nominee(n.id)],
        "corrections": [
            {
                "field": field_label(c.field),
                "old": c.old_value,
                "new": c.new_value,
                "by": c.by,
                "at": c.at,
                "reason": c.reason,
            }
            for c in repo.corrections_for([n.id])
        ],
        "correctable": list(FIELD_NAMES.items()),
        "subject": display_name(m.subject) if m else "",
        "dossier": dossier_rows(repo, n.id),
        "recognised": recognised_rows(n, fields),
        "awaiting": bool(recognised_rows(n, fields))
        or any(p.code in ("suspicious_text", "read_by_ocr") and p.open for p in standing.of_nominee(n.id)),
        "others": [
            {"id": o.id, "name": display_name(o.name)}
            for o in repo.nominees()
            if o.province_code == n.province_code and o.id != n.id
        ],
    }


def recognised_rows(n: Nominee, fields: dict[str, Any]) -> list[dict[str, Any]]:
    """Fields read by text recognition from a scan: what was read, how sure the recogniser was, and
    the picture of the cell it was read from, side by side for a person to check."""
    opinions = {o.get("label", ""): o for o in fields.get("opinions", [])}
    rows = []
    for key, seen in ((n.info or {}).get("ocr") or {}).items():
        if key.startswith("opinion:"):
            label = key.removeprefix("opinion:")
            value = opinions.get(label, {}).get("text", "")
        else:
            label, value = field_label(key), fields.get(key, "")
        rows.append(
            {
                "key": key,
                "label": label,
                "value": value,
                "confidence": f"{float(seen.get('confidence') or 0) * 100:.0f}%",
                "crop": bool(seen.get("crop")),
            }
        )
    return rows


def dossier_rows(repo: Repo, nominee_id: int) -> list[dict[str, Any]]:
    """The nominee's materials from every mail, in the order the mails came: what each is, which
    file of which mail, and what replaced it."""
    subjects = dict(repo.message_subjects())
    rows = []
    for x, message in repo.dossier(nominee_id):
        rows.append(
            {
                "kind": MATERIAL_TEXT.get(x.kind, x.kind),
                "file": display_name((x.info or {}).get("file", "")),
                "attachment_id": x.attachment_id,
                "message_id": message.id,
                "subject": display_name(message.subject) or "（无主题）",
                "at": message.received_at,
                "position": x.position,
                "replaced_by": x.replaced_by,
                "replaced_subject": display_name(subjects.get(x.replaced_by or 0, "")),
            }
        )
    return rows
