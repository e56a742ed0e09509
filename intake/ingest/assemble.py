"""From the readings of one message to its nominees: forms and list rows merged, narratives matched."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from parsers.documents import Reading
from parsers.labels import FormRecord, Opinion
from parsers.wordcount import count_words

# A narrative embedded in a form's 主要事迹 field counts as the 事迹材料 only when it is that long.
EMBEDDED_NARRATIVE_MIN = 500


@dataclass
class NomineeDraft:
    kind: str
    name: str
    rank: int | None
    source: str
    fields: dict[str, str] = field(default_factory=dict)
    opinions: list[Opinion] = field(default_factory=list)
    reading: Reading | None = None
    narrative: Reading | None = None
    narrative_text: str = ""
    has_form: bool = False
    listed: bool = False
    attachments: list[Reading] = field(default_factory=list)

    def problems(self, listed_kinds: set[str]) -> list[tuple[str, str]]:
        """(flag code, detail) for what the message's own files say against each other."""
        if not self.has_form:
            return [("form_missing", "汇总表列有此推荐对象，但未收到其推荐表")]
        if self.kind in listed_kinds and not self.listed:
            return [("not_listed", "收到推荐表，但汇总表中没有此推荐对象")]
        return []


def _key(kind: str, name: str) -> tuple[str, str]:
    return kind, re.sub(r"\s", "", name)


def listed_kinds(readings: list[Reading]) -> set[str]:
    """The kinds of nominee that a list in the message names (its forms are checked against it)."""
    return {rec.kind for root in readings for r in root.walk() for rec in r.records if rec.source == "list"}


def assemble(readings: list[Reading]) -> tuple[list[NomineeDraft], list[Reading]]:
    """Nominees of one message, and the narratives that matched nobody."""
    drafts: dict[tuple[str, str], NomineeDraft] = {}
    all_readings = [r for root in readings for r in root.walk()]
    # Forms first: they carry the most; list rows fill in what the forms lack.
    for sources in (("form", "pdf"), ("list",)):
        for r in all_readings:
            for rec in r.records:
                if rec.source not in sources or not rec.name or rec.kind not in ("individual", "unit"):
                    continue
                _add(drafts, rec, r)
    nominees = list(drafts.values())
    unmatched: list[Reading] = []
    narratives = [r for r in all_readings if r.role == "narrative" and r.status == "parsed"]
    for r in narratives:
        if not _match_narrative(r, nominees):
            unmatched.append(r)
    for r in all_readings:
        if r.narrative_text and r.role != "narrative":
            # Forms followed by a 事迹材料 section in the same file.
            for n in nominees:
                if n.reading is r and n.narrative is None:
                    n.narrative, n.narrative_text = r, r.narrative_text
    # Exactly one nominee left without a narrative and one narrative that matched nobody.
    lonely = [n for n in nominees if n.narrative is None]
    if len(lonely) == 1 and len(unmatched) == 1:
        lonely[0].narrative, lonely[0].narrative_text = unmatched[0], unmatched[0].narrative_text
        unmatched = []
    for n in nominees:
        deeds = n.fields.get("deeds", "")
        if n.narrative is None and count_words(deeds).words >= EMBEDDED_NARRATIVE_MIN:
            n.narrative, n.narrative_text = n.reading, deeds
    return nominees, unmatched


def _add(drafts: dict[tuple[str, str], NomineeDraft], rec: FormRecord, reading: Reading) -> None:
    key = _key(rec.kind, rec.name)
    found = drafts.get(key)
    if found is None:
        found = drafts[key] = NomineeDraft(
            kind=rec.kind,
            name=rec.name,
            rank=rec.rank,
            source=rec.source,
            fields=dict(rec.fields),
            opinions=list(rec.opinions),
            reading=reading,
        )
    else:
        for k, v in rec.fields.items():
            if v and not found.fields.get(k):
                found.fields[k] = v
        if found.rank is None:
            found.rank = rec.rank
        if not found.opinions:
            found.opinions = list(rec.opinions)
    if rec.source == "list":
        found.listed = True
    else:
        found.has_form = True
    if all(a is not reading for a in found.attachments):
        found.attachments.append(reading)


def _match_narrative(r: Reading, nominees: list[NomineeDraft]) -> bool:
    head_lines = [ln.strip() for ln in r.narrative_text.splitlines() if ln.strip()][:4]
    hay_name = re.sub(r"\s", "", r.filename)
    hay_head = re.sub(r"\s", "", "\n".join(head_lines))
    # Longest names first: 张三丰 before 张三.
    for where in (hay_name, hay_head):
        for n in sorted(nominees, key=lambda x: -len(x.name)):
            if n.narrative is None and re.sub(r"\s", "", n.name) in where:
                n.narrative, n.narrative_text = r, r.narrative_text
                return True
    # One document holding several nominees' narratives, each under a heading with the name.
    sections = _split_by_names(r.narrative_text, nominees)
    if sections:
        for n, text in sections:
            n.narrative, n.narrative_text = r, text
        return True
    return False


def _split_by_names(text: str, nominees: list[NomineeDraft]) -> list[tuple[NomineeDraft, str]]:
    lines = text.splitlines()
    marks: list[tuple[int, NomineeDraft]] = []
    for i, line in enumerate(lines):
        compact = re.sub(r"\s", "", line)
        if not compact or len(compact) > 40:
            continue
        for n in nominees:
            if n.narrative is None and re.sub(r"\s", "", n.name) in compact and all(m[1] is not n for m in marks):
                marks.append((i, n))
                break
    if len(marks) < 2:
        return []
    out = []
    for j, (start, n) in enumerate(marks):
        end = marks[j + 1][0] if j + 1 < len(marks) else len(lines)
        out.append((n, "\n".join(lines[start:end]).strip()))
    return out
