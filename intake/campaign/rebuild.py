"""The campaign rebuilt from every submission's materials: the dossiers assembled (``dossiers``),
written as nominees whose ids never change, the flags the dossiers raise, what people decided
(corrections, moved materials) laid over them; then the rules.

Called after every run that read anything, after ``reprocess``, and after every change a person
makes: the board, the receipts and the summary that follow all read the same dossiers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from intake.campaign import rules
from intake.campaign.corrections import apply_corrections
from intake.campaign.derive import Derived, derive, list_problems, replacements
from intake.campaign.dossiers import Assembly, Dossier, MatFact, MessageFact, assemble
from parsers.names import birth_month, normal_name
from store.repo import Correction, Flag, Material, Nominee, Repo


def refresh(repo: Repo, settings: Any, now: datetime) -> None:
    """Dossiers, then rules, over everything in the store (one process at a time)."""
    repo.lock_rules()  # before reading: the next process to evaluate sees what this one wrote
    rebuild(repo)
    repo.flush()
    rules.apply(repo, settings, now)


def rebuild(repo: Repo) -> Assembly:
    messages = [
        MessageFact(pk, province, received or made or datetime.min.replace(tzinfo=UTC), words, intent == "correction")
        for pk, province, received, made, intent, words in repo.submissions_for_campaign()
    ]
    wanted = {m.id for m in messages}
    rows = [x for x in repo.materials() if x.message_pk in wanted]
    facts = {x.id: _fact(x) for x in rows}
    assembly = assemble(messages, list(facts.values()))
    nominees = _rows_for(repo, assembly.dossiers)
    _apply_moves(repo, assembly, facts, nominees)
    replaced = replacements(assembly)
    shared = [x.id for d in assembly.dossiers for x in d.materials if x.info.get("sections")]
    texts = repo.material_texts(shared) if shared else {}
    corrections = _corrections_by_nominee(repo)
    for d in assembly.dossiers:
        n = nominees[id(d)]
        derived = derive(assembly, d, texts, replaced)
        _fill(n, d, derived)
        apply_corrections(n, corrections.get(n.id, []))
    _link(rows, assembly, nominees, replaced)
    _flags(repo, assembly, nominees, facts)
    return assembly


def _link(rows: list[Material], a: Assembly, nominees: dict[int, Nominee], replaced: dict[int, int]) -> None:
    """Each material its nominee (a file holding several nominees' narratives: all of them, the
    first in the column, every one in its info) and what replaced it."""
    owners: dict[int, list[int]] = {}
    for d in a.dossiers:
        for x in d.materials:
            owners.setdefault(x.id, []).append(nominees[id(d)].id)
    for x in rows:
        mine = owners.get(x.id, [])
        x.nominee_id = mine[0] if mine else None
        x.replaced_by = replaced.get(x.id)
        info = {k: v for k, v in (x.info or {}).items() if k != "nominees"}
        x.info = {**info, "nominees": mine} if len(mine) > 1 else info


def _fact(x: Material) -> MatFact:
    return MatFact(
        id=x.id,
        message=x.message_pk,
        position=x.position,
        kind=x.kind,
        person_kind=x.person_kind,
        name=x.name,
        key=x.key,
        birth=x.birth,
        rank=x.rank,
        source=x.source,
        fields=dict(x.fields or {}),
        info=dict(x.info or {}),
        words=x.words,
        chars_nospace=x.chars_nospace,
        attachment_id=x.attachment_id,
    )


def _identity(n: Nominee) -> tuple[str | None, str, str, str]:
    """Who an existing nominee row is: its province, kind, name (normal form) and 出生年月. Rows
    made before dossiers carry no key: it is taken from the name the parser read."""
    parsed = (n.info or {}).get("parsed") or {}
    key = n.key or normal_name(parsed.get("name") or n.name)
    birth = n.birth or birth_month(str((n.fields or {}).get("birth", "")))
    return n.province_code, parsed.get("kind") or n.kind, key, birth


def _rows_for(repo: Repo, dossiers: list[Dossier]) -> dict[int, Nominee]:
    """Each dossier's nominee row: the row of its first record where there is one (two rows of
    one person are merged into the older, the other id kept as an alias), else a new one. Rows
    no dossier claims any more are removed (their corrections stay, shown to the office)."""
    existing = sorted(repo.nominees(), key=lambda n: n.id)
    claimed: set[int] = set()
    out: dict[int, Nominee] = {}
    for d in dossiers:
        mine = [
            n
            for n in existing
            if n.id not in claimed
            and _identity(n)[:3] == (d.province, d.kind, d.key)
            and not (d.birth and _identity(n)[3] and _identity(n)[3] != d.birth)
        ]
        if mine:
            keep, *others = mine
            claimed.update(n.id for n in mine)
            for other in others:
                repo.merge_nominee(other.id, keep.id)
            out[id(d)] = keep
        else:
            first = d.materials[0]
            n = Nominee(message_pk=first.message, kind=d.kind, name=(first.name or d.key)[:200], key=d.key)
            repo.add(n)
            out[id(d)] = n
    for n in existing:
        if n.id not in claimed:
            repo.delete(n)
    repo.flush()
    return out


def _apply_moves(repo: Repo, a: Assembly, facts: dict[int, MatFact], nominees: dict[int, Nominee]) -> None:
    """A reviewer's moves: the material leaves the dossier (or the unmatched) it was in and joins
    the nominee it was moved to."""
    by_place = {(x.message, x.position): x for x in facts.values()}
    aliases = repo.aliases()
    by_row = {nominees[id(d)].id: d for d in a.dossiers}
    moved_from: dict[int, set[int]] = {}
    for move in repo.material_moves():
        x = by_place.get((move.message_pk, move.position))
        target = by_row.get(aliases.get(move.nominee_id or 0, move.nominee_id or 0))
        if x is None or target is None or x.kind != move.kind:
            continue
        for d in a.dossiers:
            if any(m.id == x.id for m in d.materials):
                moved_from.setdefault(id(d), set()).add(x.id)
            d.materials = [m for m in d.materials if m.id != x.id]
        a.unmatched = [(m, why) for m, why in a.unmatched if m.id != x.id]
        x.info = {k: v for k, v in x.info.items() if k != "sections"}
        target.materials.append(x)
        target.materials.sort(key=lambda m: (a.order.get(m.message, 0), m.position))
    for d in [d for d in a.dossiers if not d.materials]:
        # Everything of it moved to another nominee: a reviewer said they are one person.
        into = next(t for t in a.dossiers if t.materials and any(m.id in moved_from[id(d)] for m in t.materials))
        repo.merge_nominee(nominees[id(d)].id, nominees[id(into)].id)
        a.dossiers.remove(d)


def _corrections_by_nominee(repo: Repo) -> dict[int, list[Correction]]:
    out: dict[int, list[Correction]] = {}
    for c in repo.all_corrections():
        if c.nominee_id is not None:
            out.setdefault(c.nominee_id, []).append(c)
    return out


def _fill(n: Nominee, d: Dossier, got: Derived) -> None:
    n.province_code, n.kind, n.key, n.birth = d.province, d.kind, d.key, d.birth
    n.message_pk = got.first_message
    n.name = got.name[:200]
    n.rank = got.rank
    n.source = got.source
    n.fields = got.fields
    n.attachment_id = (got.form or got.row).attachment_id if (got.form or got.row) else None
    if got.narrative is not None:
        n.narrative_attachment_id = got.narrative.attachment_id
    else:
        n.narrative_attachment_id = got.form.attachment_id if got.narrative_from_form and got.form else None
    n.narrative_chars, n.narrative_chars_nospace = got.narrative_words, got.narrative_chars_nospace
    n.current = d.current
    n.info = {
        "files": got.files,
        "listed": got.listed,
        "has_form": got.form is not None,
        "parsed": {"kind": d.kind, "name": got.name[:200], "rank": got.rank},
        # The current form read by text recognition: its fields wait for a person (intake confirm).
        **({"ocr": got.form.info["ocr"]} if got.form is not None and got.form.info.get("ocr") else {}),
        **({"dropped_by": d.dropped_by, "withdrawn": d.withdrawn} if not d.current else {}),
    }


def _flags(repo: Repo, a: Assembly, nominees: dict[int, Nominee], facts: dict[int, MatFact]) -> None:
    """What the dossiers say against themselves: a mail that replaced a set, a narrative that
    joined nobody, a nominee listed without a form or with a form and left off the list."""
    repo.clear_dossier_flags()

    def flag(scope: str, code: str, detail: str, **where: Any) -> None:
        repo.add(Flag(scope=scope, origin="dossier", code=code, detail=detail[:4000], **where))

    provinces = {m: d.province for d in a.dossiers for m in (x.message for x in d.materials)}
    for message, count in a.replaced_sets.items():
        flag("message", "supersedes_earlier", f"替换本省此前报送的 {count} 个推荐对象", message_pk=message)
    for x, why in a.unmatched:
        file = x.info.get("file", "")
        detail = f"{file}：文中姓名有同名的两人，请人工指定" if why == "ambiguous" else f"{file}：未能对应到推荐对象"
        flag("message", "narrative_unmatched", detail, message_pk=x.message, province_code=provinces.get(x.message))
    for d in a.dossiers:
        for code, detail in list_problems(a, d):
            flag("nominee", code, detail, nominee_id=nominees[id(d)].id, province_code=d.province)
