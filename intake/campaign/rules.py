"""The campaign's rules, as pure functions of (submissions, dossiers, campaign, now).

``evaluate`` takes plain facts (the dossiers already assembled, ``dossiers``) and returns the
flags that stand: late mail, what a nominee's dossier lacks or holds against the notice, and each
province against its quota. ``apply`` loads the facts from the store, evaluates, and writes the
flags back. Running it again, or over the same messages ingested in another order or twice,
gives the same result.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from intake.core.settings import Province, Settings
from intake.core.vocabulary import field_label
from parsers.labels import formula_like
from store.repo import Flag, Repo

PLACEHOLDER = re.compile(
    r"[（(]?\s*(盖\s*章|签\s*字|签\s*名|公\s*章)\s*[)）]?|年\s*月\s*日|[0-9０-９]{0,4}\s*年\s*[0-9０-９]{0,2}\s*月\s*[0-9０-９]{0,2}\s*日"
    r"|负责人|签章|（?单位公章）?|[\s\u3000_—\-:：.。,，、/]"
)
MARKET_DEPT = re.compile(
    r"工商|市场监管|市场监督|市场和质量|市场质量|质监|食品药品|食药|市监|消费者协会|个体劳动者协会|个私协"
)
# 市 but not the 市 of 市场 (市场监督管理局 is any level's name).
LOCAL_LEVEL = re.compile(r"市(?!场)|[县区旗镇乡]|街道|分局|工商所|市场监管所|监管所|管理所|科|股|队|中心")
CHECKED_OPINIONS = ("recommender", "organization")


@dataclass(frozen=True)
class MessageFacts:
    id: int
    province: str | None
    received_at: datetime
    classification: str


@dataclass(frozen=True)
class NomineeFacts:
    id: int
    province: str | None
    kind: str
    name: str
    rank: int | None
    narrative_chars: int | None
    current: bool = True
    workplace: str = ""
    opinions: tuple[tuple[str, str, str], ...] = ()  # (label, text, kind)
    withdrawn: bool = False  # 已撤回 by a reviewer: out of the quota count
    decided: bool = False  # a reviewer has set a state other than 待审
    post: str = ""
    recognised: tuple[str, ...] = ()  # fields read by text recognition from a scan
    unsealed: tuple[str, ...] = ()  # opinions on a scan, signed or dated, with no seal found


@dataclass(frozen=True)
class RuleFlag:
    scope: str
    code: str
    detail: str
    message: int | None = None
    nominee: int | None = None
    province: str | None = None


@dataclass
class Outcome:
    flags: list[RuleFlag] = field(default_factory=list)
    received: dict[tuple[str, str], int] = field(default_factory=dict)  # (province, kind) → count


def opinion_empty(text: str) -> bool:
    """Empty, or only the printed placeholders: （盖章）, 年 月 日, 签字 and the like."""
    return not PLACEHOLDER.sub("", text or "").strip()


def evaluate(
    messages: list[MessageFacts],
    nominees: list[NomineeFacts],
    provinces: tuple[Province, ...],
    deadline: datetime,
    narrative_limit: int,
    now: datetime,
) -> Outcome:
    out = Outcome()
    subs = sorted((m for m in messages if m.classification == "submission"), key=lambda m: (m.received_at, m.id))
    for m in subs:
        if m.received_at > deadline:
            out.flags.append(
                RuleFlag(
                    "message",
                    "late",
                    f"收到时间 {_local(m.received_at, deadline)}，晚于截止时间 {_local(deadline, deadline)}",
                    message=m.id,
                    province=m.province,
                )
            )
    current = [n for n in nominees if n.current]
    for n in current:
        out.flags.extend(nominee_flags(n, provinces, narrative_limit))
    for p in provinces:
        mine = [n for n in current if n.province == p.code and not n.withdrawn]
        out.flags.extend(_province_flags(p, mine, [m for m in subs if m.province == p.code], deadline, out))
    return out


def nominee_flags(n: NomineeFacts, provinces: tuple[Province, ...], narrative_limit: int) -> list[RuleFlag]:
    """What stands against one current nominee: the narrative, the opinions, who they are."""
    out = []

    def flag(code: str, detail: str) -> None:
        out.append(RuleFlag("nominee", code, detail, nominee=n.id, province=n.province))

    if n.narrative_chars is None:
        flag("narrative_missing", "未找到事迹材料")
    elif n.narrative_chars > narrative_limit:
        flag("narrative_too_long", f"事迹材料 {n.narrative_chars} 字，超过 {narrative_limit} 字")
    for label, text, kind in n.opinions:
        if kind in CHECKED_OPINIONS and opinion_empty(text):
            flag("opinion_missing", f"{label}为空")
    for label in n.unsealed:
        flag("seal_missing", f"扫描件的{label}有签字或日期，未见公章")
    if n.recognised:
        names = "、".join(dict.fromkeys(field_label(f.removeprefix("opinion:")) for f in n.recognised))
        flag("read_by_ocr", f"由扫描件文字识别读出（{names}），待人工核对")
    warn = eligibility(n, _province_names(provinces, n.province))
    if warn:
        flag("eligibility_warning", warn)
    for label, value in (("姓名（名称）", n.name), ("工作单位及职务", n.workplace), ("职务", n.post)):
        if formula_like(value):
            flag("suspicious_text", f"{label}“{value[:60]}”以公式符号开头，已按文字保存，待人工确认")
    return out


def _province_flags(
    p: Province, mine: list[NomineeFacts], p_subs: list[MessageFacts], deadline: datetime, out: Outcome
) -> list[RuleFlag]:
    """Late, over the quota, and a ranking missing where one is needed: unless the office has
    decided every nominee of that kind (a ranking then asks for nothing)."""
    flags = []
    if any(m.received_at > deadline for m in p_subs):
        flags.append(RuleFlag("province", "late", "有报送邮件晚于截止时间", province=p.code))
    for kind, quota, code in (
        ("individual", p.individuals, "over_quota_individuals"),
        ("unit", p.units, "over_quota_units"),
    ):
        group = [n for n in mine if n.kind == kind]
        out.received[(p.code, kind)] = len(group)
        if len(group) <= quota:
            continue
        flags.append(RuleFlag("province", code, f"{_kind_text(kind)} {len(group)}，名额 {quota}", province=p.code))
        problem = ranking_problem(group)
        if problem and not all(n.decided for n in group):
            flags.append(RuleFlag("province", "ranking_missing", f"{_kind_text(kind)}：{problem}", province=p.code))
    return flags


def _local(dt: datetime, deadline: datetime) -> str:
    return dt.astimezone(deadline.tzinfo).strftime("%Y-%m-%d %H:%M:%S")


def _kind_text(kind: str) -> str:
    return "个人" if kind == "individual" else "单位"


def _province_names(provinces: tuple[Province, ...], code: str | None) -> tuple[str, ...]:
    for p in provinces:
        if p.code == code:
            return (p.name, p.short_name)
    return ()


def ranking_problem(group: list[NomineeFacts]) -> str:
    """Empty when the ranks are exactly 1..n; otherwise what is wrong with them."""
    ranks = [n.rank for n in group]
    missing = [n.name for n in group if n.rank is None]
    if len(missing) == len(group):
        return "未注明排序"
    if missing:
        return f"{'、'.join(missing[:5])} 未注明排序"
    seen: dict[int, int] = defaultdict(int)
    for r in ranks:
        seen[r] += 1  # type: ignore[index]
    repeats = sorted(r for r, c in seen.items() if c > 1)
    if repeats:
        return f"排序 {'、'.join(map(str, repeats))} 重复"
    expected = set(range(1, len(group) + 1))
    gaps = sorted(expected - set(seen))
    if gaps:
        return f"排序应为 1 至 {len(group)}，缺 {'、'.join(map(str, gaps[:5]))}"
    return ""


def eligibility(n: NomineeFacts, province_names: tuple[str, ...]) -> str:
    if n.kind == "individual":
        if n.workplace and not MARKET_DEPT.search(n.workplace):
            return f"工作单位“{n.workplace}”不是工商或市场监管部门"
        return ""
    name = n.name
    for prefix in sorted(province_names, key=len, reverse=True):
        if prefix and name.startswith(prefix):
            name = name[len(prefix) :]
            break
    if name and not LOCAL_LEVEL.search(name):
        return f"“{n.name}”不像市县及以下单位"
    return ""


# --------------------------------------------------------------------------- store side


def apply(repo: Repo, settings: Settings, now: datetime) -> Outcome:
    """Evaluate over everything in the store (the dossiers as ``rebuild`` left them) and write the
    flags back."""
    repo.lock_rules()  # before reading: the next process to evaluate sees what this one wrote
    m_facts = [
        MessageFacts(m.id, m.province_code, m.received_at or m.created_at, m.classification)
        for m in repo.all_messages(with_children=False)
        if m.state == "processed"
    ]
    reviews = {pk: r.state for pk, r in repo.review_states().items()}
    n_facts = [
        NomineeFacts(
            id=n.id,
            province=n.province_code,
            kind=n.kind,
            name=n.name,
            rank=n.rank,
            narrative_chars=n.narrative_chars,
            current=n.current,
            workplace=(n.fields or {}).get("workplace", ""),
            post=(n.fields or {}).get("post", ""),
            recognised=tuple((n.info or {}).get("ocr", {})),
            unsealed=tuple(
                o.get("label", "") for o in (n.fields or {}).get("opinions", []) if o.get("seal") == "missing"
            ),
            opinions=tuple(
                (o.get("label", ""), o.get("text", ""), o.get("kind", "")) for o in (n.fields or {}).get("opinions", [])
            ),
            withdrawn=reviews.get(n.id) == "withdrawn",
            decided=reviews.get(n.id, "pending") != "pending",
        )
        for n in repo.nominees()
    ]
    outcome = evaluate(
        m_facts, n_facts, settings.provinces, settings.campaign.deadline, settings.campaign.narrative_limit, now
    )
    repo.clear_rule_flags()
    for f in outcome.flags:
        repo.add(
            Flag(
                scope=f.scope,
                origin="rules",
                code=f.code,
                detail=f.detail,
                message_pk=f.message if f.scope != "nominee" else None,
                nominee_id=f.nominee,
                province_code=f.province,
            )
        )
    return outcome
