"""What is known, shaped for people (receipts, summary) and for programs (the JSON export)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from intake.core.settings import Settings
from intake.core.vocabulary import INFORMATIONAL, PROVINCE_UNKNOWN, labels
from parsers.charsets import one_line
from store.repo import Flag, Message, Repo

PROVINCE_FLAG_ORDER = ("late", "over_quota_individuals", "over_quota_units", "ranking_missing", "sender_unregistered")


def local(dt: datetime | None, settings: Settings) -> datetime | None:
    return dt.astimezone(settings.campaign.tz) if dt else None


class ProvinceFacts:
    """A province's standing and its own flags as receipts show them, read once per province for
    a batch of receipts made together (nothing a receipt sends changes them)."""

    def __init__(self, repo: Repo, settings: Settings) -> None:
        self.repo, self.settings = repo, settings
        self._standing: dict[str | None, dict[str, Any]] = {}
        self._flags: dict[str, list[Flag]] = {}

    def standing(self, code: str | None) -> dict[str, Any]:
        if code not in self._standing:
            self._standing[code] = province_standing(self.repo, self.settings, code)
        return self._standing[code]

    def flags(self, code: str) -> list[Flag]:
        if code not in self._flags:
            self._flags[code] = self.repo.province_flags(code)
        return self._flags[code]


def message_report(
    repo: Repo, message: Message, settings: Settings, facts: ProvinceFacts | None = None
) -> dict[str, Any]:
    """What one message's receipt says. Every problem shown anywhere in it (an unreadable file, a
    nominee's flag, nothing recognised, the province unknown) is also listed under ``problems``;
    ``notices`` carries what the province should know but need not fix."""
    facts = facts or ProvinceFacts(repo, settings)
    province = settings.province(message.province_code)
    standing = facts.standing(message.province_code)
    entries = [problem_entry(f.code, f.detail) for f in message.flags]
    nominees = []
    for n in message.nominees:
        nominees.append(
            {
                "name": display_name(n.name),
                "kind": labels("kind", n.kind),
                "rank": n.rank,
                "current": n.current,
                "narrative_chars": n.narrative_chars,
                "flags": [labels("flag", f.code) for f in n.flags],
            }
        )
        entries.extend(problem_entry(f.code, f.detail, display_name(n.name)) for f in n.flags)
    for f in facts.flags(message.province_code or ""):
        if f.code in ("over_quota_individuals", "over_quota_units", "ranking_missing"):
            entries.append(problem_entry(f.code, f.detail))
    if province is None:
        label, advice = PROVINCE_UNKNOWN
        entries.append({"code": "", "label": label, "detail": "", "advice": advice, "who": ""})
    problems = [e for e in entries if e["code"] not in INFORMATIONAL]
    notices = [e for e in entries if e["code"] in INFORMATIONAL]
    attachments = [
        {
            "filename": display_name(a.filename),
            "type": a.type,
            "role": labels("role", a.role),
            "status": labels("status", a.status),
            "detail": a.detail,
        }
        for a in message.attachments
    ]
    deadline = settings.campaign.deadline.astimezone(settings.campaign.tz)
    received = local(message.received_at, settings)
    return {
        "message": message,
        "subject": display_name(message.subject or "") or "（无主题）",
        "received_at": received,
        "late": received is not None and received > deadline,
        "province": province,
        "standing": standing,
        "attachments": attachments,
        "nominees": nominees,
        "problems": problems,
        "notices": notices,
        "deadline": deadline,
        "campaign": settings.campaign,
        "narrative_limit": settings.campaign.narrative_limit,
    }


def display_name(text: str) -> str:
    """A name from mail as shown to people: one line, no control or bidi-override characters."""
    return one_line(text)


def problem_entry(code: str, detail: str, who: str = "") -> dict[str, str]:
    """One problem as people read it: what, the detail, what to do, and about whom."""
    return {"code": code, "label": labels("flag", code), "detail": detail, "advice": labels("advice", code), "who": who}


def province_standing(repo: Repo, settings: Settings, code: str | None) -> dict[str, Any]:
    p = settings.province(code)
    counts = {"individual": 0, "unit": 0, **repo.current_counts(code)}
    return {
        "individuals": counts["individual"],
        "units": counts["unit"],
        "quota_individuals": p.individuals if p else None,
        "quota_units": p.units if p else None,
    }


def export_data(repo: Repo, settings: Settings) -> dict[str, Any]:
    messages = repo.all_messages()
    nominees = repo.nominees()
    flags = repo.all_flags()
    msg_by_pk = {m.id: m for m in messages}
    flags_by_nominee: dict[int, list[str]] = {}
    flags_by_message: dict[int, list[str]] = {}
    flags_by_province: dict[str, list[str]] = {}
    for f in flags:
        if f.scope == "nominee" and f.nominee_id is not None:
            flags_by_nominee.setdefault(f.nominee_id, []).append(f.code)
        elif f.scope == "message" and f.message_pk is not None:
            flags_by_message.setdefault(f.message_pk, []).append(f.code)
        elif f.scope == "province" and f.province_code:
            flags_by_province.setdefault(f.province_code, []).append(f.code)
    # Message flags that also stand for the province.
    for m in messages:
        if m.classification == "submission" and m.province_code:
            for code in flags_by_message.get(m.id, []):
                if code == "sender_unregistered":
                    flags_by_province.setdefault(m.province_code, []).append(code)
    received: dict[tuple[str | None, str], int] = {}
    reviewed: dict[str | None, dict[str, int]] = {}
    reviews = repo.review_states()
    for n in nominees:
        if not n.current:
            continue
        state = reviews[n.id].state if n.id in reviews else "pending"
        counts = reviewed.setdefault(n.province_code, {})
        counts[state] = counts.get(state, 0) + 1
        if state != "withdrawn":
            received[(n.province_code, n.kind)] = received.get((n.province_code, n.kind), 0) + 1

    provinces = [
        {
            "code": p.code,
            "name": p.name,
            "quota": {"individuals": p.individuals, "units": p.units},
            "received": {
                "individuals": received.get((p.code, "individual"), 0),
                "units": received.get((p.code, "unit"), 0),
            },
            "flags": _ordered(flags_by_province.get(p.code, [])),
            "review": reviewed.get(p.code, {}),
        }
        for p in settings.provinces
    ]
    corrections: dict[int, list[dict[str, Any]]] = {}
    for c in repo.all_corrections():
        if c.nominee_id is not None:
            corrections.setdefault(c.nominee_id, []).append(
                {
                    "field": c.field,
                    "from": c.old_value,
                    "to": c.new_value,
                    "by": c.by,
                    "at": _iso(local(c.at, settings)),
                    "reason": c.reason,
                }
            )
    out_nominees = [
        {
            "id": n.id,
            "province": n.province_code,
            "kind": n.kind,
            "name": n.name,
            "rank": n.rank,
            "narrative_chars": n.narrative_chars,
            "current": n.current,
            "flags": _ordered(flags_by_nominee.get(n.id, [])),
            "message_id": msg_by_pk[n.message_pk].message_id if n.message_pk in msg_by_pk else None,
            "message": n.message_pk,
            "source": n.source,
            "fields": nominee_fields(n.fields or {}),
            "files": list((n.info or {}).get("files", [])),
            "narrative_chars_nospace": n.narrative_chars_nospace,
            "corrections": corrections.get(n.id, []),
            "review": {
                "state": reviews[n.id].state if n.id in reviews else "pending",
                "reason": reviews[n.id].reason or None if n.id in reviews else None,
            },
        }
        for n in nominees
    ]
    out_messages = []
    for m in messages:
        receipt = None
        if m.receipt is not None:
            receipt = {"state": m.receipt.state, "to": m.receipt.to_addr}
        out_messages.append(
            {
                "id": m.id,
                "message_id": m.message_id,
                "from": m.from_addr,
                "subject": m.subject,
                "received_at": _iso(local(m.received_at, settings)),
                "received_source": m.received_source,
                "classification": m.classification or m.state,
                "province": m.province_code,
                "flags": _ordered(flags_by_message.get(m.id, [])),
                "attachments": [
                    {
                        "filename": a.filename,
                        "type": a.type,
                        "role": a.role,
                        "status": a.status,
                        **({"detail": a.detail} if a.detail else {}),
                    }
                    for a in m.attachments
                ],
                "receipt": receipt,
                "state": m.state,
                **({"error": (m.error or "").strip().splitlines()[-1]} if m.error else {}),
            }
        )
    return {"provinces": provinces, "nominees": out_nominees, "messages": out_messages}


def nominee_fields(stored: dict[str, Any]) -> dict[str, Any]:
    """Every parsed field by name; the opinions as a list of {label, text, kind}."""
    out = {k: v for k, v in stored.items() if k != "opinions"}
    out["opinions"] = [
        {"label": o.get("label", ""), "text": o.get("text", ""), "kind": o.get("kind", "")}
        for o in stored.get("opinions", [])
    ]
    return out


def _ordered(codes: list[str]) -> list[str]:
    seen: list[str] = []
    for c in codes:
        if c not in seen:
            seen.append(c)
    return seen


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None
