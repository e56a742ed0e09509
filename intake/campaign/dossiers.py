"""The campaign as a set of dossiers, one per nominee, filled over several mails.

Pure: the facts of every submission (its province, when it came, its own words) and the materials
each brought, in, dossiers out. Mails are taken in the order they arrived; each adds what it
carries to the dossiers it names:

- a form or a row of a list joins the dossier of its province, kind and name (one person however
  the name is written, ``parsers.names``; two records of one name are two people only when both
  give 出生年月 and they differ), and a later one replaces the earlier;
- a list replaces the province's earlier list of that kind;
- a narrative joins the nominee it names (its file name, its heading, the mail's own words), or
  a form written before it in the same file; one naming nobody waits, and joins the nominee when
  they appear; one that could be either of two people goes to the office;
- a mail replaces the province's whole set of one kind only when its own words say so (更正,
  以此为准, 重新报送) and it carries a list of that kind or every nominee of that kind on record;
- a nominee is dropped only when a mail's own words withdraw them by name (撤回, 撤销, 不再推荐).

Reprocess reads the same materials again and rebuilds the same dossiers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from parsers.names import names_in, normal_name

WITHDRAWS = re.compile(r"撤回|撤销|不再推荐|取消推荐")
KINDS = ("individual", "unit")


@dataclass(frozen=True)
class MessageFact:
    id: int
    province: str | None
    received_at: datetime
    words: str  # its own words: subject, file names, the body without what it quotes
    replaces: bool  # those words say the mail replaces what was sent before


@dataclass
class MatFact:
    id: int
    message: int
    position: int
    kind: str  # form | narrative | list_row | opinion
    person_kind: str = ""
    name: str = ""
    key: str = ""
    birth: str = ""
    rank: int | None = None
    source: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    words: int | None = None
    chars_nospace: int | None = None
    attachment_id: int | None = None


@dataclass(eq=False)
class Dossier:
    province: str | None
    kind: str
    key: str
    birth: str = ""
    materials: list[MatFact] = field(default_factory=list)
    current: bool = True
    dropped_by: int | None = None  # the message that replaced or withdrew the nominee
    withdrawn: bool = False

    def has(self, kind: str) -> bool:
        return any(m.kind == kind for m in self.materials)


@dataclass
class Assembly:
    dossiers: list[Dossier]
    unmatched: list[tuple[MatFact, str]]  # (material, why it joined nobody)
    replaced_sets: dict[int, int]  # message → how many nominees on record it replaced
    lists: dict[tuple[str | None, str], list[int]]  # (province, kind) → its lists' messages, in order
    order: dict[int, int]  # message → its place in arrival order
    dossier_of: dict[int, Dossier] = field(default_factory=dict)  # material → dossier


class _Campaign:
    def __init__(self) -> None:
        self.dossiers: dict[tuple[str | None, str, str], list[Dossier]] = {}
        self.waiting: list[tuple[MatFact, MessageFact]] = []
        self.unmatched: list[tuple[MatFact, str]] = []
        self.replaced_sets: dict[int, int] = {}
        self.lists: dict[tuple[str | None, str], list[int]] = {}

    # ------------------------------------------------------------------ who is who

    def _of(self, province: str | None, kind: str | None = None) -> list[Dossier]:
        return [d for (p, k, _), ds in self.dossiers.items() if p == province and kind in (None, k) for d in ds]

    def resolve(self, province: str | None, x: MatFact) -> Dossier:
        """The dossier a form or a list row joins: the same name (and 出生年月 where both give one)."""
        found = self.dossiers.setdefault((province, x.person_kind, x.key), [])
        same = [d for d in found if not (x.birth and d.birth and d.birth != x.birth)]
        if x.birth:
            exact = [d for d in same if d.birth == x.birth]
            same = exact or [d for d in same if not d.birth]
        if same:
            d = same[0]
            d.birth = d.birth or x.birth
            return d
        d = Dossier(province, x.person_kind, x.key, x.birth)
        found.append(d)
        return d

    def named(self, province: str | None, text: str) -> list[Dossier] | None:
        """The dossiers ``text`` names (longest names first); None when a name it gives is
        shared by two people (the office must say which)."""
        pool = self._of(province)
        hits = names_in(text, [d.key for d in pool])
        out: list[Dossier] = []
        for key in hits:
            owners = [d for d in pool if d.key == key]
            if len(owners) > 1:
                return None
            out += owners
        return out

    # ------------------------------------------------------------------ one mail

    def take(self, m: MessageFact, mine: list[MatFact]) -> None:
        records = [x for x in mine if x.kind in ("form", "list_row") and x.person_kind in KINDS]
        if m.replaces:
            self._replace_sets(m, records)
        for kind in KINDS:
            if any(x.kind == "list_row" and x.person_kind == kind for x in records):
                self.lists.setdefault((m.province, kind), []).append(m.id)
        with_forms: list[Dossier] = []
        for x in records:
            d = self.resolve(m.province, x)
            d.materials.append(x)
            d.current, d.dropped_by, d.withdrawn = True, None, False
            if x.kind == "form" and d not in with_forms:
                with_forms.append(d)
        left = [x for x in mine if x.kind in ("narrative", "opinion") and self._place(x, m) != "joined"]
        lonely = [d for d in with_forms if not d.has("narrative")]
        if len(lonely) == 1 and len(left) == 1 and left[0].kind == "narrative":
            lonely[0].materials.append(left[0])  # one form, one narrative naming nobody: each other's
            left = []
        self.waiting += [(x, m) for x in left]
        self._withdraw(m)

    def _replace_sets(self, m: MessageFact, records: list[MatFact]) -> None:
        for kind in KINDS:
            carried = {x.key for x in records if x.person_kind == kind}
            with_list = any(x.kind == "list_row" and x.person_kind == kind for x in records)
            on_record = [d for d in self._of(m.province, kind) if d.current]
            if not carried or not on_record:
                continue
            if with_list or {d.key for d in on_record} <= carried:
                for d in on_record:
                    if d.key not in carried:
                        d.current, d.dropped_by = False, m.id
                self.replaced_sets[m.id] = self.replaced_sets.get(m.id, 0) + len(on_record)

    def _place(self, x: MatFact, m: MessageFact) -> str:
        """Join a narrative to the nominee it names: "joined", "ambiguous" (a name two people
        share) or "none" (it names nobody, yet)."""
        explicit = [normal_name(n) for n in x.info.get("for", [])]
        if explicit:
            owners = [d for d in self._of(m.province) if d.key in explicit and d.has("form")]
            if owners:
                owners[-1].materials.append(x)
                return "joined"
        texts = (x.info.get("file", ""), "\n".join(x.info.get("head", [])), m.words)
        for i, text in enumerate(texts):
            found = self.named(m.province, text)
            if found is None:
                return "ambiguous"
            if len(found) == 1:
                found[0].materials.append(x)
                return "joined"
            if len(found) > 1 and i < 2:
                # One file holding several nominees' narratives, each under its name.
                x.info = {**x.info, "sections": [d.key for d in found]}
                for d in found:
                    d.materials.append(x)
                return "joined"
        return "none"

    def _withdraw(self, m: MessageFact) -> None:
        if not WITHDRAWS.search(m.words):
            return
        for line in m.words.splitlines():
            if WITHDRAWS.search(line):
                for d in self.named(m.province, line) or []:
                    d.current, d.dropped_by, d.withdrawn = False, m.id, True

    # ------------------------------------------------------------------ at the end

    def settle_waiting(self) -> None:
        """Narratives that came before their nominee join them now; the rest stay unmatched, for
        the office (which may move them to their nominee)."""
        for x, m in self.waiting:
            placed = self._place(x, m)
            if placed != "joined":
                self.unmatched.append((x, placed))


def assemble(messages: list[MessageFact], materials: list[MatFact]) -> Assembly:
    by_message: dict[int, list[MatFact]] = {}
    for x in sorted(materials, key=lambda x: (x.message, x.position)):
        by_message.setdefault(x.message, []).append(x)
    ordered = sorted(messages, key=lambda m: (m.received_at, m.id))
    c = _Campaign()
    for m in ordered:
        c.take(m, by_message.get(m.id, []))
    c.settle_waiting()
    dossiers = [d for ds in c.dossiers.values() for d in ds if d.materials]
    order = {m.id: i for i, m in enumerate(ordered)}
    for d in dossiers:
        d.materials.sort(key=lambda x: (order.get(x.message, 0), x.position))
    return Assembly(
        dossiers=dossiers,
        unmatched=c.unmatched,
        replaced_sets=c.replaced_sets,
        lists=c.lists,
        order=order,
        dossier_of={x.id: d for d in dossiers for x in d.materials if x.kind in ("form", "list_row")},
    )
