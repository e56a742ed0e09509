"""Every change a person makes, for the console and the command line alike.

Each action checks what it is asked, makes the change, and writes its audit row in the same
transaction; then the rules run again, so the board, the summary, the export and the receipts
that follow all show it. What people decide is stored beside what the parsers read (corrections,
message overrides, checked flags) and laid over it after every parse, so ``reprocess`` keeps it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from intake.campaign import rules
from intake.core.errors import ActionError, LoginRefused
from intake.core.settings import Settings
from intake.ingest.overrides import KINDS, current_value, flag_key, set_value
from intake.outbox import receipts
from store.repo import AuditEntry, Correction, Flag, FlagCheck, MessageOverride, Nominee, Repo, Review, Store, User

ROLES = ("viewer", "reviewer", "admin")
# Who may do what: a viewer reads; a reviewer corrects, assigns, reclassifies and checks flags;
# an admin also manages users.
CAN_CHANGE = ("reviewer", "admin")
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_FAILURES = 5

# The fields a reviewer may correct, with their names in the console.
FIELD_NAMES: dict[str, str] = {
    "name": "姓名/单位名称",
    "kind": "类别",
    "rank": "推荐排序",
    "sex": "性别",
    "birth": "出生年月",
    "ethnicity": "民族",
    "political": "政治面貌",
    "workplace": "工作单位及职务",
    "post": "职务",
    "phone": "联系电话",
    "education": "学历",
    "head": "单位负责人",
    "address": "单位地址",
    "deeds": "主要事迹",
}
CLASSIFICATIONS = ("submission", "auto_reply", "bounce", "unrelated", "duplicate")


def audit(repo: Repo, actor: str, action: str, target: str, summary: str, reason: str = "", **detail: Any) -> None:
    """The record of one change, added in the change's own transaction."""
    repo.add(AuditEntry(actor=actor, action=action, target=target, summary=summary, reason=reason, detail=detail))


def actor_name(by: str | User | None, roles: tuple[str, ...] = CAN_CHANGE) -> str:
    """The person acting: a console user (checked against ``roles``) or a name given on the
    command line, which runs with the server's own rights."""
    if isinstance(by, User) or by is None:
        if by is None or not by.active or by.role not in roles:
            raise ActionError("没有权限进行此操作")
        return by.name
    return by


# --------------------------------------------------------------------------- users


def hash_password(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


def add_user(store: Store, name: str, role: str, password: str, *, by: str = "命令行") -> None:
    name = name.strip()
    if not name or len(name) > 100:
        raise ActionError("用户名不能为空，且不超过100个字符")
    if role not in ROLES:
        raise ActionError(f"角色只能是 {'、'.join(ROLES)}")
    if len(password) < 8:
        raise ActionError("密码至少8个字符")
    with store.session() as repo:
        user = repo.user(name)
        if user is None:
            repo.add(User(name=name, role=role, password_hash=hash_password(password), active=True))
            audit(repo, by, "user_add", f"user:{name}", f"新增用户 {name}（{role}）")
        else:
            user.role, user.password_hash, user.active = role, hash_password(password), True
            audit(repo, by, "user_update", f"user:{name}", f"更新用户 {name}（{role}）及密码")


def authenticate(store: Store, name: str, password: str, address: str, now: datetime) -> int:
    """The user's id, or LoginRefused. After five failures within 15 minutes for one name or from
    one address, that name or address waits 15 minutes, whatever password it tries."""
    from argon2 import PasswordHasher
    from argon2.exceptions import InvalidHashError, VerificationError

    from store.models import LoginAttempt

    name = name.strip()[:100]
    with store.session() as repo:
        since = now - LOGIN_WINDOW
        if (
            repo.failed_logins_since(since, name=name) >= LOGIN_FAILURES
            or repo.failed_logins_since(since, address=address) >= LOGIN_FAILURES
        ):
            raise LoginRefused("登录失败次数过多，请15分钟后再试")
        user = repo.user(name)
        ok = False
        if user is not None and user.active:
            try:
                ok = PasswordHasher().verify(user.password_hash, password)
            except (VerificationError, InvalidHashError):
                ok = False
        repo.add(LoginAttempt(name=name, address=address[:100], ok=ok, at=now))
        if not ok or user is None:
            repo.commit()
            raise LoginRefused("用户名或密码不正确")
        return user.id


# --------------------------------------------------------------------------- nominees


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
        nominee = repo.nominee(nominee_id)
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
        rules.apply(repo, settings, now or datetime.now(UTC))
    return done


# --------------------------------------------------------------------------- messages


def _override(repo: Repo, message_pk: int, field: str, value: str, actor: str, reason: str) -> None:
    found = repo.overrides_for(message_pk).get(field)
    if found is None:
        repo.add(MessageOverride(message_pk=message_pk, field=field, value=value, by=actor, reason=reason))
    else:
        found.value, found.by, found.reason, found.at = value, actor, reason, datetime.now(UTC)


def assign_province(
    store: Store,
    settings: Settings,
    message_id: int,
    code: str,
    *,
    by: str | User | None,
    reason: str,
    now: datetime | None = None,
) -> None:
    """Name the province of a submission; a receipt held for want of one then goes out."""
    province = settings.province(code)
    if province is None:
        raise ActionError(f"没有代码为 {code} 的省份")
    if not reason.strip():
        raise ActionError("请填写理由")
    with store.session() as repo:
        actor = actor_name(by)
        message = repo.message(message_id)
        if message is None:
            raise ActionError(f"没有编号为 {message_id} 的邮件")
        before = settings.province(message.province_code)
        _override(repo, message.id, "province", code, actor, reason.strip())
        message.province_code = code
        message.info = {**(message.info or {}), "province_source": "assigned"}
        for n in message.nominees:
            n.province_code = code
            for f in n.flags:
                f.province_code = code
        for f in message.flags:
            f.province_code = code
        receipt = repo.receipt_for(message)
        if receipt is not None and receipt.state == "suppressed" and receipt.reason == receipts.HELD_FOR_PROVINCE:
            receipt.state, receipt.reason = "queued", ""
        audit(
            repo,
            actor,
            "assign_province",
            f"message:{message.id}",
            f"邮件“{message.subject}”的报送省份：{before.name if before else '未确定'} → {province.name}",
            reason.strip(),
        )
        repo.flush()
        rules.apply(repo, settings, now or datetime.now(UTC))


def reclassify(
    store: Store,
    settings: Settings,
    message_id: int,
    classification: str,
    *,
    by: str | User | None,
    reason: str,
    now: datetime | None = None,
) -> None:
    """Set a message's classification; a message made a submission is read and answered."""
    from intake.core.vocabulary import labels
    from intake.jobs.poll import process_message, read_limits

    if classification not in CLASSIFICATIONS:
        raise ActionError(f"类别只能是 {'、'.join(CLASSIFICATIONS)}")
    if not reason.strip():
        raise ActionError("请填写理由")
    now = now or datetime.now(UTC)
    with store.session() as repo:
        actor = actor_name(by)
        message = repo.message(message_id)
        if message is None:
            raise ActionError(f"没有编号为 {message_id} 的邮件")
        before = message.classification
        _override(repo, message.id, "classification", classification, actor, reason.strip())
        audit(
            repo,
            actor,
            "reclassify",
            f"message:{message.id}",
            f"邮件“{message.subject}”：{labels('classification', before)} → {labels('classification', classification)}",
            reason.strip(),
        )
        repo.commit()
        # Read again under the new classification; a new submission's receipt is queued with it.
        queue = classification == "submission" and repo.receipt_for(message) is None
        process_message(repo, store, message, settings, read_limits(settings), now, queue_receipt=queue)
        rules.apply(repo, settings, now)


# --------------------------------------------------------------------------- flags


def key_of(flag: Flag) -> str:
    return flag_key(flag.scope, flag.code, flag.message_pk, flag.nominee_id, flag.province_code)


def confirm_flag(store: Store, flag_id: int, *, by: str | User | None, note: str) -> None:
    """Mark a flag as checked: it leaves the open problems and stays in the history."""
    from intake.core.vocabulary import labels

    if not note.strip():
        raise ActionError("请填写核实说明")
    with store.session() as repo:
        actor = actor_name(by)
        flag = repo.flag(flag_id)
        if flag is None:
            raise ActionError(f"没有编号为 {flag_id} 的问题")
        key = key_of(flag)
        if key in repo.flag_checks():
            return
        repo.add(FlagCheck(key=key, code=flag.code, by=actor, note=note.strip()))
        audit(
            repo,
            actor,
            "confirm_flag",
            f"flag:{key}",
            f"核实问题“{labels('flag', flag.code)}”：{flag.detail}",
            note.strip(),
        )


def acknowledge_failure(store: Store, kind: str, pk: int, *, by: str | User | None, note: str) -> None:
    """A person has seen that a receipt (``kind`` "receipt") or an outgoing mail ("outbox") could not
    be sent: it no longer makes ``intake status`` report a failure, and the check is on record."""
    from intake.ops.status import failure_key

    if not note.strip():
        raise ActionError("请填写处理说明")
    with store.session() as repo:
        actor = actor_name(by)
        row = repo.receipt(pk) if kind == "receipt" else repo.outgoing(pk) if kind == "outbox" else None
        if row is None:
            raise ActionError(f"没有编号为 {pk} 的{'回执' if kind == 'receipt' else '邮件'}")
        if row.state != "failed":
            raise ActionError("这封邮件没有发送失败")
        key = failure_key(kind, pk)
        if key in repo.flag_checks():
            return
        repo.add(FlagCheck(key=key, code="send_failed", by=actor, note=note.strip()))
        audit(
            repo, actor, "acknowledge_failure", key, f"发送失败已知悉：{row.to_addr}（{row.last_error}）", note.strip()
        )


# --------------------------------------------------------------------------- review

REVIEW_STATES: dict[str, str] = {
    "pending": "待审",
    "approved": "初审通过",
    "rejected": "不予推荐",
    "reserve": "备选",
    "withdrawn": "已撤回",
}
REVIEW_SHORT = {"approved": "通过", "rejected": "不予", "reserve": "备选", "pending": "待审", "withdrawn": "撤回"}


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
        nominee = repo.nominee(nominee_id)
        if nominee is None:
            raise ActionError(f"没有编号为 {nominee_id} 的推荐对象")
        if _set_review(repo, nominee, state, reason.strip(), actor):
            repo.flush()
            rules.apply(repo, settings, now or datetime.now(UTC))  # a withdrawal changes the quota count
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
            group.sort(key=lambda n: (n.rank is None, n.rank or 0, n.id))
            for i, n in enumerate(group):
                state = "approved" if i < quota else "reserve"
                note = reason.strip() or ("名额内按排序通过" if state == "approved" else "超出名额，按排序备选")
                if _set_review(repo, n, state, note, actor):
                    changed.append(f"{n.name}：{REVIEW_STATES[state]}")
        repo.flush()
        rules.apply(repo, settings, now or datetime.now(UTC))
    return changed
