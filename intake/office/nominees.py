"""A person's decisions about nominees: a field put right, a review state (待审, 初审通过, 不予推荐,
备选, 已撤回), a province accepted within its quota by rank. Each on record, laid over what the
parsers read, the rules run again at once."""

from __future__ import annotations

from datetime import UTC, datetime

from intake.campaign.corrections import KINDS, current_value, set_value
from intake.campaign.rebuild import refresh
from intake.core.errors import ActionError
from intake.core.settings import Settings
from intake.core.vocabulary import FIELD_NAMES, REVIEW_STATES
from intake.office.audit import actor_name, audit
from store.repo import Correction, MaterialMove, Nominee, Repo, Review, Store, User


def correct_nominee(
    store: Store,
    settings: Settings,
    nominee_id: int,
    changes: dict[str, str],
    *,
    by: str | User | None,
    reason: str,
    now: datetime | None = None,
) -> list[str]:
    """Put right parsed fields of a nominee. Returns what changed, as people read it."""
    if not reason.strip():
        raise ActionError("请填写更正理由")
    if not changes:
        raise ActionError("没有要更正的内容")
    done: list[str] = []
    with store.session() as repo:
        actor = actor_name(by)
        nominee = repo.nominee_or_alias(nominee_id)
        if nominee is None:
            raise ActionError(f"没有编号为 {nominee_id} 的推荐对象")
        for field, value in changes.items():
            value = value.strip()
            if field not in FIELD_NAMES:
                raise ActionError(f"不能更正的字段：{field}")
            if field == "kind" and value not in KINDS:
                raise ActionError("类别只能是 individual（个人）或 unit（单位）")
            if field == "rank" and value and not value.isdigit():
                raise ActionError("推荐排序应为正整数")
            if field == "name" and not value:
                raise ActionError("姓名/单位名称不能为空")
            old = current_value(nominee, field)
            old_text = None if old is None else str(old)
            if old_text == value:
                continue
            set_value(nominee, field, value)
            repo.add(
                Correction(
                    nominee_id=nominee.id,
                    message_pk=nominee.message_pk,
                    nominee_name=nominee.name,
                    field=field,
                    old_value=old_text,
                    new_value=value,
                    by=actor,
                    reason=reason.strip(),
                )
            )
            label = FIELD_NAMES[field]
            done.append(f"{label}：{old_text or '（空）'} → {value or '（空）'}")
        if not done:
            return []
        audit(
            repo,
            actor,
            "correct",
            f"nominee:{nominee.id}",
            f"更正推荐对象 {nominee.name}：" + "；".join(done),
            reason.strip(),
            fields=sorted(changes),
        )
        repo.flush()
        refresh(repo, settings, now or datetime.now(UTC))
    return done


def _set_review(repo: Repo, nominee: Nominee, state: str, reason: str, actor: str) -> bool:
    standing = repo.review_states().get(nominee.id)
    before = standing.state if standing else "pending"
    if before == state and (standing is None or standing.reason == reason):
        return False
    repo.add(Review(nominee_id=nominee.id, nominee_name=nominee.name, state=state, reason=reason, by=actor))
    audit(
        repo,
        actor,
        "review",
        f"nominee:{nominee.id}",
        f"{nominee.name}：{REVIEW_STATES[before]} → {REVIEW_STATES[state]}",
        reason,
    )
    return True


def _approvals_over_quota(repo: Repo, settings: Settings, province: str | None) -> list[str]:
    """Warnings, never refusals: a province whose approvals pass its quota."""
    p = settings.province(province)
    if p is None:
        return []
    states = repo.review_states()
    approved = {"individual": 0, "unit": 0}
    for n in repo.nominees():
        if n.province_code == province and n.current and n.id in states and states[n.id].state == "approved":
            approved[n.kind] = approved.get(n.kind, 0) + 1
    out = []
    for kind, quota, label in (("individual", p.individuals, "个人"), ("unit", p.units, "单位")):
        if approved[kind] > quota:
            out.append(f"{p.name}初审通过的{label} {approved[kind]} 个，超过名额 {quota} 个")
    return out


def review_nominee(
    store: Store,
    settings: Settings,
    nominee_id: int,
    state: str,
    *,
    by: str | User | None,
    reason: str = "",
    now: datetime | None = None,
) -> list[str]:
    """Set a nominee's review state; returns warnings (approvals past the quota)."""
    if state not in REVIEW_STATES:
        raise ActionError(f"审核状态只能是 {'、'.join(REVIEW_STATES)}")
    if state == "rejected" and not reason.strip():
        raise ActionError("不予推荐须注明理由")
    with store.session() as repo:
        actor = actor_name(by)
        nominee = repo.nominee_or_alias(nominee_id)
        if nominee is None:
            raise ActionError(f"没有编号为 {nominee_id} 的推荐对象")
        if _set_review(repo, nominee, state, reason.strip(), actor):
            repo.flush()
            refresh(repo, settings, now or datetime.now(UTC))  # a withdrawal changes the quota count
        return _approvals_over_quota(repo, settings, nominee.province_code)


def review_province(
    store: Store,
    settings: Settings,
    code: str,
    *,
    by: str | User | None,
    reason: str = "",
    now: datetime | None = None,
) -> list[str]:
    """Accept a province's nominees within its quota by rank; the rest become 备选. Nominees
    already rejected or withdrawn keep their state. Returns what changed."""
    province = settings.province(code)
    if province is None:
        raise ActionError(f"没有代码为 {code} 的省份")
    changed: list[str] = []
    with store.session() as repo:
        actor = actor_name(by)
        states = repo.review_states()
        for kind, quota in (("individual", province.individuals), ("unit", province.units)):
            group = [
                n
                for n in repo.nominees()
                if n.province_code == code
                and n.kind == kind
                and n.current
                and not (n.id in states and states[n.id].state in ("rejected", "withdrawn"))
            ]
            within = len(group) <= quota
            unranked = [n.name for n in group if n.rank is None]
            if not within and unranked:
                # Reading order is no ranking: the province must say who comes first.
                word = "个人" if kind == "individual" else "单位"
                raise ActionError(
                    f"{province.name}推荐{word}{len(group)}个，超出名额{quota}个，但未排序"
                    f"（{'、'.join(unranked[:5])}{'等' if len(unranked) > 5 else ''}没有排序）："
                    "无法按排序审定。请先请该省报送排序，或逐一审核"
                )
            group.sort(key=lambda n: (n.rank is None, n.rank or 0, n.id))
            for i, n in enumerate(group):
                state = "approved" if i < quota else "reserve"
                default = (
                    "未超出名额，予以通过"
                    if within
                    else ("名额内按排序通过" if state == "approved" else "超出名额，按排序备选")
                )
                note = reason.strip() or default
                if _set_review(repo, n, state, note, actor):
                    changed.append(f"{n.name}：{REVIEW_STATES[state]}")
        repo.flush()
        refresh(repo, settings, now or datetime.now(UTC))
    return changed


MATERIAL_TEXT = {"form": "推荐表", "narrative": "事迹材料", "list_row": "汇总表中的一行", "opinion": "意见"}


def move_material(
    store: Store,
    settings: Settings,
    message_pk: int,
    position: int,
    nominee_id: int,
    *,
    by: str | User | None,
    reason: str,
    now: datetime | None = None,
) -> None:
    """A material belongs to another nominee than the campaign found (or to one where it found
    none): moved there, on record, and kept across every rebuild and reprocess."""
    if not reason.strip():
        raise ActionError("请填写理由")
    with store.session() as repo:
        actor = actor_name(by)
        material = next((x for x in repo.materials_of(message_pk) if x.position == position), None)
        if material is None:
            raise ActionError("没有这份材料")
        target = repo.nominee_or_alias(nominee_id)
        if target is None:
            raise ActionError(f"没有编号为 {nominee_id} 的推荐对象")
        before = repo.nominee(material.nominee_id) if material.nominee_id else None
        repo.add(
            MaterialMove(
                message_pk=message_pk,
                position=position,
                kind=material.kind,
                nominee_id=target.id,
                by=actor,
                reason=reason.strip(),
            )
        )
        what = f"{MATERIAL_TEXT.get(material.kind, material.kind)}“{(material.info or {}).get('file', '')}”"
        audit(
            repo,
            actor,
            "move_material",
            f"nominee:{target.id}",
            f"{what}：{before.name if before else '未对应'} → {target.name}",
            reason.strip(),
            message=message_pk,
            position=position,
        )
        repo.flush()
        refresh(repo, settings, now or datetime.now(UTC))
