"""``intake export --format json``: everything known, for programs. The schema is the contract's;
it grows, nothing in it is renamed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from intake.core.keys import flag_key
from intake.core.settings import Settings
from intake.core.time import local
from store.repo import Correction, Flag, Material, Message, Nominee, Repo, Review


def export_data(repo: Repo, settings: Settings) -> dict[str, Any]:
    messages = repo.all_messages()
    nominees = repo.nominees()
    reviews = repo.review_states()
    all_flags = repo.all_flags()
    flags = _flags_by_scope(all_flags, messages)
    dossiers, joined = _dossiers(repo.materials(), {m.id: m for m in messages}, settings)
    out_nominees = _nominees(repo, settings, nominees, messages, reviews, flags["nominee"])
    awaiting = _awaiting_confirmation(all_flags, repo.flag_checks())
    by_id = {n.id: n for n in nominees}
    for n in out_nominees:
        n["dossier"] = dossiers.get(n["id"], [])
        recognised = (by_id[n["id"]].info or {}).get("ocr", {}) if n["id"] in awaiting else {}
        n["ocr_fields"] = [{"field": f, "confidence": seen.get("confidence")} for f, seen in recognised.items()]
    out_messages = []
    for m in messages:
        out = _message(m, settings, flags["message"].get(m.id, []))
        out["joined"] = [{"nominee": nid, "kinds": kinds} for nid, kinds in joined.get(m.id, {}).items()]
        out_messages.append(out)
    return {
        "provinces": _provinces(settings, nominees, reviews, flags["province"]),
        "nominees": out_nominees,
        "messages": out_messages,
    }


def _awaiting_confirmation(flags: list[Flag], checked: dict[str, Any]) -> set[int]:
    """Nominees whose fields read by text recognition no reviewer has confirmed yet."""
    return {
        f.nominee_id
        for f in flags
        if f.code == "read_by_ocr"
        and f.nominee_id is not None
        and flag_key(f.scope, f.code, f.message_pk, f.nominee_id, f.province_code) not in checked
    }


def _dossiers(
    materials: list[Material], messages: dict[int, Message], settings: Settings
) -> tuple[dict[int, list[dict[str, Any]]], dict[int, dict[int, list[str]]]]:
    """Each nominee's materials from every mail, in the order the mails arrived; and what each
    message added to which nominee."""
    dossiers: dict[int, list[dict[str, Any]]] = {}
    joined: dict[int, dict[int, list[str]]] = {}
    ordered = sorted(materials, key=lambda x: (_arrival(messages.get(x.message_pk)), x.message_pk, x.position))
    for x in ordered:
        owners = (x.info or {}).get("nominees") or ([x.nominee_id] if x.nominee_id else [])
        for nid in owners:
            m = messages.get(x.message_pk)
            dossiers.setdefault(nid, []).append(
                {
                    "kind": x.kind,
                    "message": x.message_pk,
                    "file": (x.info or {}).get("file", ""),
                    "at": _iso(local(m.received_at, settings.campaign.tz)) if m else None,
                    "replaced_by": x.replaced_by,
                }
            )
            kinds = joined.setdefault(x.message_pk, {}).setdefault(nid, [])
            if x.kind not in kinds:
                kinds.append(x.kind)
    return dossiers, joined


def _arrival(m: Message | None) -> datetime:
    moment = (m.received_at or m.created_at) if m is not None else None
    return moment or datetime.min.replace(tzinfo=UTC)


def _flags_by_scope(flags: list[Flag], messages: list[Message]) -> dict[str, dict[Any, list[str]]]:
    out: dict[str, dict[Any, list[str]]] = {"nominee": {}, "message": {}, "province": {}}
    for f in flags:
        if f.scope == "nominee" and f.nominee_id is not None:
            out["nominee"].setdefault(f.nominee_id, []).append(f.code)
        elif f.scope == "message" and f.message_pk is not None:
            out["message"].setdefault(f.message_pk, []).append(f.code)
        elif f.scope == "province" and f.province_code:
            out["province"].setdefault(f.province_code, []).append(f.code)
    # Message flags that also stand for the province.
    for m in messages:
        if m.classification == "submission" and m.province_code:
            for code in out["message"].get(m.id, []):
                if code == "sender_unregistered":
                    out["province"].setdefault(m.province_code, []).append(code)
    return out


def _provinces(
    settings: Settings, nominees: list[Nominee], reviews: dict[int, Review], flags: dict[Any, list[str]]
) -> list[dict[str, Any]]:
    received: dict[tuple[str | None, str], int] = {}
    reviewed: dict[str | None, dict[str, int]] = {}
    for n in nominees:
        if not n.current:
            continue
        state = reviews[n.id].state if n.id in reviews else "pending"
        counts = reviewed.setdefault(n.province_code, {})
        counts[state] = counts.get(state, 0) + 1
        if state != "withdrawn":
            received[(n.province_code, n.kind)] = received.get((n.province_code, n.kind), 0) + 1
    return [
        {
            "code": p.code,
            "name": p.name,
            "quota": {"individuals": p.individuals, "units": p.units},
            "received": {
                "individuals": received.get((p.code, "individual"), 0),
                "units": received.get((p.code, "unit"), 0),
            },
            "flags": _ordered(flags.get(p.code, [])),
            "review": reviewed.get(p.code, {}),
        }
        for p in settings.provinces
    ]


def _corrections(corrections: list[Correction], settings: Settings) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for c in corrections:
        if c.nominee_id is not None:
            out.setdefault(c.nominee_id, []).append(
                {
                    "field": c.field,
                    "from": c.old_value,
                    "to": c.new_value,
                    "by": c.by,
                    "at": _iso(local(c.at, settings.campaign.tz)),
                    "reason": c.reason,
                }
            )
    return out


def _nominees(
    repo: Repo,
    settings: Settings,
    nominees: list[Nominee],
    messages: list[Message],
    reviews: dict[int, Review],
    flags: dict[Any, list[str]],
) -> list[dict[str, Any]]:
    msg_by_pk = {m.id: m for m in messages}
    corrections = _corrections(repo.all_corrections(), settings)
    return [
        {
            "id": n.id,
            "province": n.province_code,
            "kind": n.kind,
            "name": n.name,
            "rank": n.rank,
            "narrative_chars": n.narrative_chars,
            "current": n.current,
            "flags": _ordered(flags.get(n.id, [])),
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


def _message(m: Message, settings: Settings, flags: list[str]) -> dict[str, Any]:
    receipt = {"state": m.receipt.state, "to": m.receipt.to_addr} if m.receipt is not None else None
    return {
        "id": m.id,
        "message_id": m.message_id,
        "from": m.from_addr,
        "subject": m.subject,
        "received_at": _iso(local(m.received_at, settings.campaign.tz)),
        "received_source": m.received_source,
        "classification": m.classification or m.state,
        "province": m.province_code,
        "flags": _ordered(flags),
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
