"""A person's decisions about messages: the province of a submission nobody could tell (its held
receipt then goes out), and a message's classification (a message made a submission is read and
answered)."""

from __future__ import annotations

from datetime import UTC, datetime

from intake.campaign.rebuild import refresh
from intake.core.errors import ActionError
from intake.core.settings import Settings
from intake.core.vocabulary import CLASSIFICATIONS, HELD_FOR_PROVINCE, labels
from intake.ingest.reading import read_limits
from intake.ingest.record import process_message
from intake.office.audit import actor_name, audit
from store.repo import MessageOverride, Repo, Store, User


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
        receipt = repo.receipt_for(message.id)
        if receipt is not None and receipt.state == "suppressed" and receipt.reason == HELD_FOR_PROVINCE:
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
        refresh(repo, settings, now or datetime.now(UTC))


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
        queue = classification == "submission" and repo.receipt_for(message.id) is None
        process_message(repo, store, message, settings, read_limits(settings), now, queue_receipt=queue)
        refresh(repo, settings, now)
