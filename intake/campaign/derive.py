"""What a dossier stands as: its current form, list row and narrative (the latest of each kind;
the earlier ones replaced, kept in its history), and the nominee they make: the name as the form
wrote it, the rank, the fields, the 字数. Pure."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from intake.campaign.dossiers import Assembly, Dossier, MatFact
from parsers.names import normal_text
from parsers.wordcount import count_words

# A narrative embedded in a form's 主要事迹 field counts as the 事迹材料 only when it is that long.
EMBEDDED_NARRATIVE_MIN = 500


@dataclass
class Derived:
    """A dossier as a nominee."""

    name: str
    rank: int | None
    source: str
    fields: dict[str, Any]
    form: MatFact | None
    row: MatFact | None
    narrative: MatFact | None
    narrative_words: int | None
    narrative_chars_nospace: int | None
    narrative_from_form: bool = False
    listed: bool = False
    first_message: int = 0
    files: list[str] = field(default_factory=list)


def replacements(a: Assembly) -> dict[int, int]:
    """material id → the message whose material of the same kind replaced it (a later form or
    narrative of the same nominee; a later list of the same province and kind)."""
    out: dict[int, int] = {}
    for d in a.dossiers:
        for kind in ("form", "narrative", "opinion"):
            mine = [x for x in d.materials if x.kind == kind]
            for earlier, later in itertools.pairwise(mine):
                out.setdefault(earlier.id, later.message)
    for d in a.dossiers:
        for x in (x for x in d.materials if x.kind == "list_row"):
            lists = a.lists.get((d.province, x.person_kind), [])
            later = [m for m in lists if a.order.get(m, 0) > a.order.get(x.message, 0)]
            if later:
                out[x.id] = later[0]
    return out


def current_list(a: Assembly, d: Dossier) -> int | None:
    """The message of the province's latest list of the dossier's kind, if it sent one."""
    lists = a.lists.get((d.province, d.kind), [])
    return lists[-1] if lists else None


def derive(a: Assembly, d: Dossier, texts: dict[int, str], replaced: dict[int, int]) -> Derived:
    """The nominee a dossier makes. ``texts``: the whole text of narratives that hold several
    nominees' sections (to count each one's)."""
    live = [x for x in d.materials if x.id not in replaced]
    form = next((x for x in reversed(live) if x.kind == "form"), None)
    row = next((x for x in reversed(d.materials) if x.kind == "list_row"), None)
    narrative = next((x for x in reversed(live) if x.kind == "narrative"), None)
    words = chars = None
    if narrative is not None:
        words, chars = _count(narrative, d, texts)
    from_form = False
    deeds = str((form.fields if form else {}).get("deeds", ""))
    if narrative is None and deeds and count_words(deeds).words >= EMBEDDED_NARRATIVE_MIN:
        counted = count_words(deeds)
        words, chars, from_form = counted.words, counted.chars_nospace, True
    fields = {k: v for k, v in (row.fields if row else {}).items() if v}
    fields.update({k: v for k, v in (form.fields if form else {}).items() if v or k not in fields})
    ranked = [x for x in (row, form) if x is not None and x.rank is not None]
    ranked.sort(key=lambda x: a.order.get(x.message, 0))
    listed = row is not None and row.message == current_list(a, d)
    return Derived(
        name=(form or row or d.materials[0]).name,
        rank=ranked[-1].rank if ranked else None,
        source=form.source or "form" if form else "list",
        fields=fields,
        form=form,
        row=row,
        narrative=narrative,
        narrative_words=words,
        narrative_chars_nospace=chars,
        narrative_from_form=from_form,
        listed=listed,
        first_message=d.materials[0].message,
        files=list(dict.fromkeys(x.info.get("file", "") for x in live if x.info.get("file"))),
    )


def _count(x: MatFact, d: Dossier, texts: dict[int, str]) -> tuple[int | None, int | None]:
    """The narrative's 字数: its own, or that of the dossier's section of a shared file."""
    if not x.info.get("sections") or x.id not in texts:
        return x.words, x.chars_nospace
    section = split_sections(texts[x.id], x.info["sections"]).get(d.key)
    if section is None:
        return x.words, x.chars_nospace
    counted = count_words(section)
    return counted.words, counted.chars_nospace


def split_sections(text: str, keys: list[str]) -> dict[str, str]:
    """A text holding several nominees' narratives, each under a short line with the name: the
    section of each name (normal form) that heads one."""
    lines = text.splitlines()
    marks: list[tuple[int, str]] = []
    for i, line in enumerate(lines):
        compact = normal_text(line)
        if not compact or len(compact) > 40:
            continue
        for key in sorted(keys, key=len, reverse=True):
            if key in compact and all(k != key for _, k in marks):
                marks.append((i, key))
                break
    out = {}
    for j, (start, key) in enumerate(marks):
        end = marks[j + 1][0] if j + 1 < len(marks) else len(lines)
        out[key] = "\n".join(lines[start:end]).strip()
    return out


def list_problems(a: Assembly, d: Dossier) -> list[tuple[str, str]]:
    """What the province's current list and its forms say against each other for one nominee:
    listed without a form, or a form and left off the list (a kind the province sent no list of
    is not checked)."""
    listed_in = current_list(a, d)
    if not d.current or listed_in is None:
        return []
    listed = any(x.kind == "list_row" and x.message == listed_in for x in d.materials)
    if listed and not d.has("form"):
        return [("form_missing", "汇总表列有此推荐对象，但未收到其推荐表")]
    if d.has("form") and not listed:
        return [("not_listed", "收到推荐表，但汇总表中没有此推荐对象")]
    return []


def joined_kinds(materials: list[MatFact]) -> list[str]:
    """form, narrative, list_row…: what a message added to one nominee, each kind once."""
    return list(dict.fromkeys(x.kind for x in materials))
