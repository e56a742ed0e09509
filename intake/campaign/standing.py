"""The campaign's standing, computed in one place: what each province has sent against its quota,
which problems are open and which a person checked, receipts, reviews. The board, the province,
message and nominee pages, the receipt, the reminder, the return, the summary and the documents
all read it, so two of them never disagree about the same fact.

A problem is a flag that asks for something to be done; the flags that are only news (a
correction replaced earlier nominees, a count over the quota with a valid ranking) are notices. A
flag a person has checked stays on record and is shown as checked, never as open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from intake.core.keys import flag_key
from intake.core.settings import Province, Settings
from intake.core.text import display_name
from intake.core.time import local
from intake.core.vocabulary import INFORMATIONAL, labels, review_line
from store.repo import FlagCheck, Repo

# Province flags a message's receipt also names: they follow from what that message brought.
QUOTA_FLAGS = ("over_quota_individuals", "over_quota_units", "ranking_missing")


@dataclass(frozen=True)
class Check:
    by: str
    at: datetime
    note: str


@dataclass(frozen=True)
class Problem:
    """One flag as people read it, with who it is about and whether a person checked it."""

    flag_id: int
    scope: str
    code: str
    detail: str
    who: str = ""
    message_id: int | None = None
    nominee_id: int | None = None
    province: str | None = None
    check: Check | None = None

    @property
    def label(self) -> str:
        return labels("flag", self.code)

    @property
    def advice(self) -> str:
        return labels("advice", self.code)

    @property
    def informational(self) -> bool:
        return self.code in INFORMATIONAL

    @property
    def open(self) -> bool:
        return self.check is None

    def line(self) -> str:
        """张三：缺少事迹材料（未找到事迹材料）: how a letter lists it."""
        who = f"{self.who}：" if self.who else ""
        return f"{who}{self.label}（{self.detail}）" if self.detail else f"{who}{self.label}"

    def view(self) -> dict[str, Any]:
        """For a template: what, about whom, the detail, what to do, and the check if any."""
        return {
            "id": self.flag_id,
            "code": self.code,
            "label": self.label,
            "detail": self.detail,
            "advice": self.advice,
            "who": self.who,
            "checked": {"by": self.check.by, "at": self.check.at, "note": self.check.note} if self.check else None,
        }


@dataclass
class ProvinceRow:
    """A province against its quota, as the board and the summary show it."""

    code: str
    name: str
    quota_individuals: int
    quota_units: int
    individuals: int = 0
    units: int = 0
    late: bool = False
    problems: int = 0  # open problems
    messages: int = 0
    last_received: datetime | None = None
    receipts_sent: int = 0
    receipts_failed: int = 0
    receipts_waiting: int = 0
    new_today: int = 0
    flags: list[str] = field(default_factory=list)
    reviews: dict[str, int] = field(default_factory=dict)  # current nominees by review state

    @property
    def review_line(self) -> str:
        return review_line(self.reviews)

    @property
    def standing(self) -> str:
        parts = []
        for label, got, quota in (
            ("个人", self.individuals, self.quota_individuals),
            ("单位", self.units, self.quota_units),
        ):
            if got > quota:
                parts.append(f"{label}超{got - quota}")
            elif got < quota:
                parts.append(f"{label}缺{quota - got}")
        return "，".join(parts) or "齐"


@dataclass(frozen=True)
class _MessageFact:
    id: int
    province: str | None
    classification: str
    received_at: datetime | None


@dataclass(frozen=True)
class _NomineeFact:
    id: int
    message: int
    kind: str
    name: str
    current: bool
    province: str | None


class Standing:
    """Everything above, read from the store in a few queries, at one moment."""

    def __init__(self, repo: Repo, settings: Settings) -> None:
        self.settings = settings
        facts = repo.summary_facts()
        self.checks: dict[str, FlagCheck] = repo.flag_checks()
        self.reviews: dict[int, str] = {pk: r.state for pk, r in repo.review_states().items()}
        self.messages = {row[0]: _MessageFact(*row) for row in facts["messages"]}
        self.nominees = {row[0]: _NomineeFact(*row) for row in facts["nominees"]}
        self.receipts = {mid: state for mid, state in facts["receipts"] if mid is not None}
        # What each message brought to which nominees (its materials in their dossiers).
        self.joined: dict[int, dict[int, list[str]]] = {}
        for mid, nid, kind, info in facts["joined"]:
            for n in (info or {}).get("nominees") or [nid]:
                kinds = self.joined.setdefault(mid, {}).setdefault(n, [])
                if kind not in kinds:
                    kinds.append(kind)
        self._problems: list[Problem] = [self._problem(*row) for row in facts["flags"]]

    # ------------------------------------------------------------------ problems

    def _problem(
        self, pk: int, scope: str, code: str, detail: str, mid: int | None, nid: int | None, province: str | None
    ) -> Problem:
        check = self.checks.get(flag_key(scope, code, mid, nid, province))
        nominee = self.nominees.get(nid) if nid is not None else None
        return Problem(
            flag_id=pk,
            scope=scope,
            code=code,
            detail=detail,
            who=display_name(nominee.name) if nominee else "",
            message_id=mid if mid is not None else (nominee.message if nominee else None),
            nominee_id=nid,
            province=province,
            check=Check(check.by, check.at, check.note) if check else None,
        )

    def _counts(self, p: Problem) -> bool:
        """Whether a flag stands today: a message's of a submission, a current nominee's, or the
        province's own (its ``late`` is the late messages', listed with them)."""
        if p.scope == "message":
            m = self.messages.get(p.message_id or 0)
            return m is not None and m.classification == "submission"
        if p.scope == "nominee":
            n = self.nominees.get(p.nominee_id or 0)
            return n is not None and n.current
        return p.code != "late"

    def of_message(self, mid: int) -> list[Problem]:
        """A message's problems and notices, checked ones included: its own flags, those of the
        nominees it brought anything to (what each still lacks), and its province's quota flags (a
        receipt names them)."""
        m = self.messages.get(mid)
        brought = self.joined.get(mid, {})
        own = [
            p
            for p in self._problems
            if (p.scope == "message" and p.message_id == mid)
            or (p.scope == "nominee" and p.nominee_id in brought and self.nominees[p.nominee_id].current)
        ]
        if m is not None and m.classification == "submission" and m.province:
            own += [
                p
                for p in self._problems
                if p.scope == "province" and p.province == m.province and p.code in QUOTA_FLAGS
            ]
        return own

    def of_province(self, code: str) -> list[Problem]:
        """A province's problems and notices that stand, checked ones included."""
        out = []
        for p in self._problems:
            if not self._counts(p):
                continue
            if p.scope == "province":
                mine = p.province == code
            elif p.scope == "message":
                mine = self.messages[p.message_id or 0].province == code
            else:
                mine = self.nominees[p.nominee_id or 0].province == code
            if mine:
                out.append(p)
        return out

    def of_nominee(self, nid: int) -> list[Problem]:
        return [p for p in self._problems if p.scope == "nominee" and p.nominee_id == nid]

    def open_problems(self, problems: list[Problem]) -> list[Problem]:
        """Of ``problems``, those that ask for something and no person has checked."""
        return [p for p in problems if p.open and not p.informational]

    def all_standing(self) -> list[Problem]:
        return [p for p in self._problems if self._counts(p)]

    # ------------------------------------------------------------------ provinces

    def brought(self, mid: int) -> dict[int, list[str]]:
        """The nominees a message brought something to, and what (form, narrative, list_row…)."""
        return self.joined.get(mid, {})

    def rows(self, since: datetime | None = None, until: datetime | None = None) -> list[ProvinceRow]:
        """Every province against its quota, in the campaign's order; ``new_today`` counts the
        submissions received in [since, until)."""
        rows = {p.code: ProvinceRow(p.code, p.name, p.individuals, p.units) for p in self.settings.provinces}
        tz = self.settings.campaign.tz
        for m in self.messages.values():
            row = rows.get(m.province or "")
            if row is None or m.classification != "submission":
                continue
            row.messages += 1
            received = local(m.received_at, tz)
            if received and (row.last_received is None or received > row.last_received):
                row.last_received = received
            if received and since and until and since <= received < until:
                row.new_today += 1
            state = self.receipts.get(m.id)
            row.receipts_sent += state == "sent"
            row.receipts_failed += state == "failed"
            row.receipts_waiting += state in ("queued", "sending")
        for n in self.nominees.values():
            row = rows.get(n.province or "")
            m = self.messages.get(n.message)
            if row is None or not n.current or m is None or m.classification != "submission":
                continue
            state = self.reviews.get(n.id, "pending")
            row.reviews[state] = row.reviews.get(state, 0) + 1
            if state != "withdrawn":  # 已撤回: out of the count
                if n.kind == "individual":
                    row.individuals += 1
                else:
                    row.units += 1
        for code, row in rows.items():
            standing = self.of_province(code)
            row.late = any(p.code == "late" for p in standing)
            row.problems = len(self.open_problems(standing))
            row.flags = [p.code for p in self._problems if p.scope == "province" and p.province == code]
        return list(rows.values())

    def counts(self, code: str | None) -> dict[str, Any]:
        """A province's current nominees by kind against its quota (withdrawn ones left out)."""
        p: Province | None = self.settings.province(code)
        got = {"individual": 0, "unit": 0}
        for n in self.nominees.values():
            m = self.messages.get(n.message)
            if n.current and n.province == code and m is not None and m.classification == "submission":
                if self.reviews.get(n.id, "pending") != "withdrawn":
                    got[n.kind] = got.get(n.kind, 0) + 1
        return {
            "individuals": got["individual"],
            "units": got["unit"],
            "quota_individuals": p.individuals if p else None,
            "quota_units": p.units if p else None,
        }

    def review_state(self, nid: int) -> str:
        return self.reviews.get(nid, "pending")
