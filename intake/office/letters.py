"""A person's letters: a 退回修改 in the submission's thread naming what must be fixed, and the
drafts of the outbox (reminders and returns) sent, edited or discarded. The person who lets a
letter go is its author on record."""

from __future__ import annotations

from datetime import UTC, datetime

from intake.campaign.standing import Standing
from intake.core.errors import ActionError
from intake.core.settings import Settings
from intake.core.templates import render_template
from intake.mail.replies import is_robot, message_id_for, message_ids, recipient
from intake.office.audit import actor_name, audit
from intake.outbox.receipts import message_report
from store.repo import OutgoingMail, Store, User


def queue_return(
    store: Store,
    settings: Settings,
    message_id: int,
    *,
    reason: str,
    by: str | User | None,
    problems: list[str] | None = None,
) -> int:
    """A 退回修改 in the submission's thread, naming what must be fixed. Returns its outbox id."""
    if not reason.strip():
        raise ActionError("请填写退回理由")
    actor = actor_name(by if by is not None else "系统")
    with store.session() as repo:
        message = repo.message(message_id)
        if message is None or message.classification != "submission":
            raise ActionError(f"没有编号为 {message_id} 的报送邮件")
        to = recipient(message)
        if not to or is_robot(to):
            raise ActionError("这封邮件没有可以回复的发件地址")
        report = message_report(repo, message, settings, Standing(repo, settings))
        listed = (
            problems
            if problems is not None
            else [f"{p['who'] + '：' if p['who'] else ''}{p['label']}（{p['detail']}）" for p in report["problems"]]
        )
        count = sum(1 for o in repo.outgoing_mail(kinds=["return"]) if o.message_pk == message.id)
        key = f"return:{message.id}:{count + 1}"
        context = {
            **report,
            "reason": reason.strip(),
            "listed": listed,
            "now": datetime.now(UTC).astimezone(settings.campaign.tz),
        }
        refs = (message.info or {}).get("headers", {}).get("references", "")
        mail = OutgoingMail(
            kind="return",
            key=key,
            province_code=message.province_code,
            message_pk=message.id,
            to_addr=to,
            subject=f"退回修改：{report['subject']}"[:200],  # report subjects are one clean line
            body=render_template(settings, "return.txt.j2", context),
            in_reply_to=" ".join(message_ids(message.message_id)[-1:]),
            references=" ".join([*message_ids(refs)[-10:], *message_ids(message.message_id)[-1:]]),
            rfc_message_id=message_id_for(key, settings),
            state="draft" if settings.returns.review else "queued",
            reason=reason.strip(),
            created_by=actor,
            detail={"problems": listed},
        )
        repo.add(mail)
        audit(
            repo,
            actor,
            "return",
            f"message:{message.id}",
            f"退回修改“{report['subject']}”（{'待审' if mail.state == 'draft' else '待发'}）",
            reason.strip(),
            problems=listed,
        )
        repo.flush()
        return mail.id


def decide(
    store: Store, outgoing_id: int, decision: str, *, by: str | User | None, subject: str = "", body: str = ""
) -> None:
    """A reviewer sends a draft (edited or not) or discards it."""
    actor = actor_name(by if by is not None else "系统")
    with store.session() as repo:
        mail = repo.outgoing(outgoing_id)
        if mail is None or mail.state != "draft":
            raise ActionError("这封邮件不是待审草稿")
        if decision == "send":
            mail.subject = (subject.strip() or mail.subject)[:200]
            mail.body = body.strip() or mail.body
            mail.state = "queued"
            summary = f"审定发送：{mail.subject}（{mail.to_addr}）"
        elif decision == "discard":
            mail.state = "discarded"
            summary = f"作废草稿：{mail.subject}（{mail.to_addr}）"
        else:
            raise ActionError("只能发送或作废")
        audit(repo, actor, f"outbox_{decision}", f"outbox:{mail.id}", summary)


def approve_all(store: Store, outgoing_ids: list[int], *, by: str | User | None) -> list[str]:
    """The drafts a reviewer has read on the page, approved at once as they stand (in one
    transaction, each on record in the reviewer's name); any no longer a draft is left alone."""
    actor = actor_name(by if by is not None else "系统")
    done: list[str] = []
    with store.session() as repo:
        for pk in dict.fromkeys(outgoing_ids):
            mail = repo.outgoing(pk)
            if mail is None or mail.state != "draft":
                continue
            mail.state = "queued"
            mail.created_by = actor
            audit(repo, actor, "outbox_send", f"outbox:{mail.id}", f"审定发送：{mail.subject}（{mail.to_addr}）")
            done.append(f"已审定发送：{mail.subject}（{mail.to_addr}）")
    if not done:
        raise ActionError("没有待审草稿可发送（可能已由他人处理）")
    return done
