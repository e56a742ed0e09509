"""Reminders (催报) and returns (退回修改): drafted, read by a person where the campaign says so,
then sent exactly once.

A reminder is made once per province, deadline slot and registered address (its key says so), so a
restart or a second run makes none twice. A return is a reply in the submission's thread naming
what must be fixed; the province's next submission closes it. Sending records ``sent`` before the
server takes the message, as receipts do, so a crash never sends one twice.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from typing import Any

from intake.campaign.standing import display_name
from intake.core.errors import ActionError, ReplyAuthError, ReplyError, SmtpUnavailable, TemporaryReplyError
from intake.core.settings import Province, Settings
from intake.core.vocabulary import labels, render_template
from intake.ingest.overrides import flag_key
from intake.office.actions import actor_name, audit
from intake.outbox import receipts
from store.repo import OutgoingMail, Repo, Store, User

log = logging.getLogger(__name__)

# What a province still owes, for a reminder: its open problems of these kinds.
OWED = (
    "nothing_recognised",
    "narrative_missing",
    "narrative_too_long",
    "opinion_missing",
    "attachment_unreadable",
    "scan_only",
    "ranking_missing",
    "form_missing",
)


def message_id_for(key: str, settings: Settings) -> str:
    """The Message-ID of an outbox row: fixed by its key, so a resend after a crash is recognised."""
    domain = settings.smtp.sender_address.rsplit("@", 1)[-1] or "intake.local"
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@{domain}>"


# --------------------------------------------------------------------------- reminders


def current_slot(settings: Settings, now: datetime) -> int | None:
    """The reminder slot (days before the deadline) that is due today, or None."""
    tz = settings.campaign.tz
    today = now.astimezone(tz).date()
    deadline = settings.campaign.deadline.astimezone(tz).date()
    days = (deadline - today).days
    if days < 0 and not settings.reminders.after_deadline:
        return None
    due = [d for d in settings.reminders.days_before if days <= d]
    # The latest slot reached: a worker that was down for a while sends one reminder, not three.
    return min(due) if due else None


def owed(repo: Repo, settings: Settings) -> dict[str, list[str]]:
    """What each province still owes: nothing sent yet, or its open problems."""
    checked = repo.flag_checks()
    sent: set[str] = set()
    problems: dict[str, list[str]] = {}
    for m in repo.all_messages():
        if m.classification != "submission" or not m.province_code:
            continue
        sent.add(m.province_code)
        flags = list(m.flags) + [f for n in m.nominees if n.current for f in n.flags]
        for f in flags:
            if f.code in OWED and flag_key(f.scope, f.code, f.message_pk, f.nominee_id, f.province_code) not in checked:
                who = next((display_name(n.name) for n in m.nominees if n.id == f.nominee_id), "")
                line = f"{who + '：' if who else ''}{labels('flag', f.code)}（{f.detail}）"
                problems.setdefault(m.province_code, []).append(line)
    for f in repo.province_flags():
        if f.code in OWED and f.province_code:
            if flag_key(f.scope, f.code, f.message_pk, f.nominee_id, f.province_code) not in checked:
                problems.setdefault(f.province_code, []).append(f"{labels('flag', f.code)}（{f.detail}）")
    out: dict[str, list[str]] = {}
    for p in settings.provinces:
        if p.code not in sent:
            out[p.code] = []  # nothing received at all
        elif problems.get(p.code):
            out[p.code] = problems[p.code]
    return out


def plan_reminders(repo: Repo, settings: Settings, now: datetime) -> list[dict[str, Any]]:
    """The reminders due now that were not made before: one per province that owes something and
    registered address, for the current slot."""
    slot = current_slot(settings, now)
    if slot is None:
        return []
    tz = settings.campaign.tz
    deadline = settings.campaign.deadline.astimezone(tz)
    days = (deadline.date() - now.astimezone(tz).date()).days
    plans = []
    for code, problems in owed(repo, settings).items():
        p = settings.province(code)
        assert p is not None
        for addr in _addresses(p):
            key = f"reminder:{code}:{slot}:{addr}"
            if repo.outgoing_by_key(key) is not None:
                continue
            context = {
                "province": p,
                "problems": problems,
                "deadline": deadline,
                "days": days,
                "now": now.astimezone(tz),
            }
            plans.append(
                {
                    "key": key,
                    "province": p,
                    "to": addr,
                    "subject": f"关于报送{settings.campaign.title}材料的提醒（{p.name}）",
                    "body": render_template(settings, "reminder.txt.j2", context),
                    "problems": problems,
                    "slot": slot,
                }
            )
    return plans


def _addresses(p: Province) -> list[str]:
    return [a.lower() for a in p.senders if "@" in a and not receipts.ROBOT.match(a.split("@", 1)[0])]


def queue_reminders(store: Store, settings: Settings, now: datetime, *, by: str = "系统") -> list[dict[str, Any]]:
    """Make the reminders due now: drafts for a reviewer, or queued where the campaign says so."""
    with store.session() as repo:
        plans = plan_reminders(repo, settings, now)
        state = "draft" if settings.reminders.review else "queued"
        for plan in plans:
            repo.add(
                OutgoingMail(
                    kind="reminder",
                    key=plan["key"],
                    province_code=plan["province"].code,
                    to_addr=plan["to"],
                    subject=plan["subject"],
                    body=plan["body"],
                    rfc_message_id=message_id_for(plan["key"], settings),
                    state=state,
                    reason=f"截止前 {plan['slot']} 天",
                    created_by=by,
                    detail={"problems": plan["problems"], "slot": plan["slot"]},
                )
            )
        if plans:
            audit(
                repo,
                by,
                "remind",
                "reminders",
                f"生成催报 {len(plans)} 封（{'待审' if state == 'draft' else '待发'}）",
                "",
                **{"keys": [p["key"] for p in plans]},
            )
    return plans


# --------------------------------------------------------------------------- returns


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
    from intake.campaign.standing import message_report

    if not reason.strip():
        raise ActionError("请填写退回理由")
    actor = actor_name(by if by is not None else "系统")
    with store.session() as repo:
        message = repo.message(message_id)
        if message is None or message.classification != "submission":
            raise ActionError(f"没有编号为 {message_id} 的报送邮件")
        to = receipts.recipient(message)
        if not to or receipts.ROBOT.match(to.split("@", 1)[0]):
            raise ActionError("这封邮件没有可以回复的发件地址")
        report = message_report(repo, message, settings)
        listed = (
            problems
            if problems is not None
            else [f"{p['who'] + '：' if p['who'] else ''}{p['label']}（{p['detail']}）" for p in report["problems"]]
        )
        count = sum(1 for o in repo.outgoing_mail() if o.kind == "return" and o.message_pk == message.id)
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
            in_reply_to=" ".join(receipts.message_ids(message.message_id)[-1:]),
            references=" ".join([*receipts.message_ids(refs)[-10:], *receipts.message_ids(message.message_id)[-1:]]),
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
            **{"problems": listed},
        )
        repo.flush()
        return mail.id


def returns_waiting(repo: Repo) -> list[dict[str, Any]]:
    """Returns sent whose province has sent nothing since: still waiting for the correction."""
    later: dict[str, datetime] = {}
    for m in repo.all_messages(with_children=False):
        if m.classification == "submission" and m.province_code and m.received_at:
            if m.received_at > later.get(m.province_code, datetime.min.replace(tzinfo=UTC)):
                later[m.province_code] = m.received_at
    out = []
    for o in repo.outgoing_mail(["sent"]):
        if o.kind != "return" or o.sent_at is None:
            continue
        newest = later.get(o.province_code or "")
        if newest is None or newest <= o.sent_at:
            out.append(
                {"id": o.id, "message_id": o.message_pk, "subject": o.subject, "sent_at": o.sent_at, "to": o.to_addr}
            )
    return out


# --------------------------------------------------------------------------- a person's decision


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


# --------------------------------------------------------------------------- sending


def build(mail: OutgoingMail, settings: Settings, now: datetime) -> EmailMessage:
    msg = EmailMessage()
    name, addr = parseaddr(settings.smtp.sender)
    msg["Subject"] = mail.subject
    msg["From"] = formataddr((name, addr))
    msg["To"] = mail.to_addr
    msg["Date"] = format_datetime(now.astimezone(settings.campaign.tz))
    msg["Message-ID"] = mail.rfc_message_id
    if mail.in_reply_to:
        msg["In-Reply-To"] = mail.in_reply_to
        msg["References"] = mail.references or mail.in_reply_to
    if mail.kind == "reminder":
        msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(mail.body, charset="utf-8")
    return msg


def send_queued(store: Store, settings: Settings, mailer: receipts.Mailer, now: datetime) -> tuple[int, int]:
    """Send every queued reminder and return; ``sent`` is recorded before the server takes each."""
    sent = failed = 0
    with store.session() as repo:
        ids = [o.id for o in repo.outgoing_mail(["queued"])]
    for pk in ids:
        with store.session() as repo:
            mail = repo.outgoing(pk)
            if mail is None or mail.state != "queued":
                continue
            if mailer.already_sent(mail.rfc_message_id):
                mail.state, mail.sent_at = "sent", mail.sent_at or now
                continue
            cap = settings.receipts.per_sender_per_hour
            if repo.mail_sent_to_since(mail.to_addr, now - timedelta(hours=1)) >= cap:
                log.info("%s to %s waits: %d messages to that address this hour", mail.kind, mail.to_addr, cap)
                continue  # stays queued for the next run
            try:
                msg = build(mail, settings, now)
            except Exception as exc:  # one that cannot be written never holds up the others
                mail.state = "failed"
                mail.last_error = f"could not be built: {type(exc).__name__}: {exc}"[:2000]
                failed += 1
                log.exception("outgoing mail %s could not be built", mail.key)
                continue

            def record(mail: OutgoingMail = mail) -> None:
                mail.state, mail.sent_at, mail.last_error = "sent", datetime.now(UTC), ""
                repo.commit()

            try:
                mailer.send(msg, mail.to_addr, record)
            except ReplyAuthError:
                mail.state = "queued"  # not this mail's fault: it waits, and the run stops
                repo.commit()
                raise
            except SmtpUnavailable as exc:
                mail.state, mail.last_error = "queued", str(exc)[:2000]
                break  # no server now: the rest wait for the next run too
            except TemporaryReplyError as exc:
                mail.state, mail.last_error = "queued", str(exc)[:2000]
                continue
            except ReplyError as exc:
                mail.state, mail.last_error = "failed", str(exc)[:2000]
                failed += 1
                continue
            sent += 1
            mailer.keep_copy(msg)
    return sent, failed


def waiting_count(store: Store) -> int:
    with store.session() as repo:
        return len(repo.outgoing_mail(["draft"]))
