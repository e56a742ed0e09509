"""What one message brings, read from its files: a material for each form, each row of a list and
each narrative, in reading order. The campaign joins them to their nominees' dossiers across
mails (``intake.campaign.dossiers``); here a message is read alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from parsers.documents import Reading
from parsers.labels import FormRecord
from parsers.names import birth_month, normal_name
from parsers.wordcount import count_words

# A narrative's text kept with its material (to split a file holding several nominees' narratives
# by their names, and to count a section): more than any narrative is long.
TEXT_KEPT = 60_000


@dataclass
class MaterialDraft:
    kind: str  # form | narrative | list_row
    reading: Reading
    person_kind: str = ""
    name: str = ""
    rank: int | None = None
    source: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    words: int | None = None
    chars_nospace: int | None = None
    info: dict[str, Any] = field(default_factory=dict)
    text: str = ""

    @property
    def key(self) -> str:
        return normal_name(self.name)

    @property
    def birth(self) -> str:
        return birth_month(str(self.fields.get("birth", "")))


def _record(r: Reading, rec: FormRecord) -> MaterialDraft | None:
    if not rec.name or rec.kind not in ("individual", "unit"):
        return None
    return MaterialDraft(
        kind="list_row" if rec.source == "list" else "form",
        reading=r,
        person_kind=rec.kind,
        name=rec.name[:200],
        rank=rec.rank,
        source=rec.source,
        fields={**rec.fields, "opinions": [o.__dict__ for o in rec.opinions]},
        info={"file": r.filename, **({"ocr": _recognised(rec)} if rec.ocr else {})},
    )


def _recognised(rec: FormRecord) -> dict[str, dict[str, Any]]:
    """Fields read by text recognition: confidence, and the hash of the cell's picture in the
    archive (kept there when the file was read)."""
    return {
        name: {
            "confidence": round(float(seen.get("confidence", 0.0)), 3),
            "crop": seen["crop"] if isinstance(seen.get("crop"), str) else "",
        }
        for name, seen in rec.ocr.items()
    }


def _narrative(r: Reading, text: str, for_names: list[str]) -> MaterialDraft:
    whole = r.words is not None and text == (r.narrative_text or r.text)
    words = r.words if whole else count_words(text)
    head = [line.strip() for line in text.splitlines() if line.strip()][:4]
    info: dict[str, Any] = {"file": r.filename, "head": [line[:80] for line in head]}
    if for_names:
        info["for"] = for_names  # written after these forms in the same file
    return MaterialDraft(
        kind="narrative",
        reading=r,
        words=words.words if words else None,
        chars_nospace=words.chars_nospace if words else None,
        info=info,
        text=text[:TEXT_KEPT],
    )


def materials_of(readings: list[Reading]) -> list[MaterialDraft]:
    """Every material of one message's files: forms first within a file, then its list rows,
    then a narrative; files in reading order."""
    out: list[MaterialDraft] = []
    for r in (x for root in readings for x in root.walk()):
        found = [m for rec in r.records if (m := _record(r, rec)) is not None]
        out += [m for m in found if m.kind == "form"] + [m for m in found if m.kind == "list_row"]
        if r.role == "narrative" and r.status == "parsed" and r.narrative_text.strip():
            out.append(_narrative(r, r.narrative_text, []))
        elif r.narrative_text.strip() and any(m.kind == "form" for m in found):
            # A 事迹材料 written after the form in the same file: it is that form's nominee's.
            out.append(_narrative(r, r.narrative_text, [m.name for m in found if m.kind == "form"]))
    return out


def listed_kinds(drafts: list[MaterialDraft]) -> set[str]:
    """The kinds of nominee a list in the message names."""
    return {d.person_kind for d in drafts if d.kind == "list_row"}
