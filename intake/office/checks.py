"""A person's checks: a problem marked as checked (it leaves the open problems everywhere and stays
in the history), and a mail that could not be sent acknowledged (``intake status`` stops
reporting it)."""

from __future__ import annotations

from intake.core.errors import ActionError
from intake.core.keys import failure_key, flag_key
from intake.core.vocabulary import labels
from intake.office.audit import actor_name, audit
from store.repo import Flag, FlagCheck, Store, User


def key_of(flag: Flag) -> str:
    return flag_key(flag.scope, flag.code, flag.message_pk, flag.nominee_id, flag.province_code)


def confirm_flag(store: Store, flag_id: int, *, by: str | User | None, note: str) -> None:
    """Mark a flag as checked: it leaves the open problems and stays in the history."""
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


CONFIRMED_BY_A_PERSON = ("suspicious_text", "read_by_ocr")


def confirm_nominee(store: Store, nominee_id: int, *, by: str | User | None, reason: str) -> list[str]:
    """A reviewer confirms what was held for a person's eyes (text that looks like a formula,
    fields read by text recognition): those problems of the nominee are checked, on record, and
    the nominee may stand in the documents. Returns the labels of what was confirmed."""
    with store.session() as repo:
        actor = actor_name(by)
        nominee = repo.nominee_or_alias(nominee_id)
        if nominee is None:
            raise ActionError(f"没有编号为 {nominee_id} 的推荐对象")
        checked = set(repo.flag_checks())
        done = []
        for flag in repo.all_flags():
            if flag.nominee_id != nominee.id or flag.code not in CONFIRMED_BY_A_PERSON:
                continue
            key = key_of(flag)
            if key in checked:
                continue
            note = reason.strip() or "已核对原件，内容无误"
            repo.add(FlagCheck(key=key, code=flag.code, by=actor, note=note))
            checked.add(key)
            what = f"确认“{labels('flag', flag.code)}”：{flag.detail}"
            audit(repo, actor, "confirm", f"nominee:{nominee.id}", what, note)
            done.append(labels("flag", flag.code))
        if not done:
            raise ActionError(f"推荐对象 {nominee.id}（{nominee.name}）没有待确认的内容")
        return done


def acknowledge_failure(store: Store, kind: str, pk: int, *, by: str | User | None, note: str) -> None:
    """A person has seen that a receipt (``kind`` "receipt") or an outgoing mail ("outbox") could not
    be sent: it no longer makes ``intake status`` report a failure, and the check is on record."""
    if not note.strip():
        raise ActionError("请填写处理说明")
    with store.session() as repo:
        actor = actor_name(by)
        row = repo.outgoing(pk) if kind in ("receipt", "outbox") else None
        if row is None:
            raise ActionError(f"没有编号为 {pk} 的邮件")
        if row.state != "failed":
            raise ActionError("这封邮件没有发送失败")
        key = failure_key("outbox", pk)
        if key in repo.flag_checks():
            return
        repo.add(FlagCheck(key=key, code="send_failed", by=actor, note=note.strip()))
        audit(
            repo, actor, "acknowledge_failure", key, f"发送失败已知悉：{row.to_addr}（{row.last_error}）", note.strip()
        )
