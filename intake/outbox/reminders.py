"""Reminders (催报): to every province that has sent nothing, or still owes something, at the
summary hour on each of the configured days before the deadline; once per province, slot and
address however often the worker restarts (a reminder's key says so). What a province owes is
its open problems in the campaign's standing, the same list its page and the summary show."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from intake.campaign.standing import Standing
from intake.core.settings import Province, Settings
from intake.core.templates import render_template
from intake.mail.replies import is_robot, message_id_for
from store.repo import OutgoingMail, Repo, Store


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


def owed(standing: Standing, settings: Settings) -> dict[str, list[str]]:
    """What each province still owes: nothing sent yet (an empty list), or its open problems."""
    out: dict[str, list[str]] = {}
    for row in standing.rows():
        if row.messages == 0:
            out[row.code] = []
            continue
        problems = standing.open_problems(standing.of_province(row.code))
        if problems:
            out[row.code] = [p.line() for p in problems]
    return out


def plan_reminders(
    repo: Repo, settings: Settings, now: datetime, provinces: list[str] | None = None
) -> list[dict[str, Any]]:
    """The reminders due now that were not made before: one per province that owes something
    (of ``provinces``, when given) and registered address, for the current slot."""
    slot = current_slot(settings, now)
    if slot is None:
        return []
    return _letters(repo, settings, now, provinces, str(slot), f"截止前 {slot} 天", slot)


def plan_manual_reminders(
    repo: Repo, settings: Settings, now: datetime, provinces: list[str] | None = None
) -> list[dict[str, Any]]:
    """A 催报 a person asks for today, outside the schedule's slots, to the chosen provinces (all
    that owe something when none is chosen): at most one a day to each address."""
    day = now.astimezone(settings.campaign.tz).date()
    return _letters(repo, settings, now, provinces, f"manual-{day.isoformat()}", "人工催报", None)


def _letters(
    repo: Repo,
    settings: Settings,
    now: datetime,
    provinces: list[str] | None,
    tag: str,
    reason: str,
    slot: int | None,
) -> list[dict[str, Any]]:
    tz = settings.campaign.tz
    deadline = settings.campaign.deadline.astimezone(tz)
    days = (deadline.date() - now.astimezone(tz).date()).days
    plans = []
    for code, problems in owed(Standing(repo, settings), settings).items():
        if provinces is not None and code not in provinces:
            continue
        p = settings.province(code)
        assert p is not None
        for addr in addresses(p):
            key = f"reminder:{code}:{tag}:{addr}"
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
                    "reason": reason,
                }
            )
    return plans


def addresses(p: Province) -> list[str]:
    return [a.lower() for a in p.senders if "@" in a and not is_robot(a)]


def queue_reminders(
    store: Store,
    settings: Settings,
    now: datetime,
    *,
    by: str = "系统",
    provinces: list[str] | None = None,
    manual: bool = False,
) -> list[dict[str, Any]]:
    """Make the reminders due now: drafts for a reviewer, or queued where the campaign says so.
    ``manual``: the ones a person chose and read in the console, queued at once in their name."""
    with store.session() as repo:
        if manual:
            plans = plan_manual_reminders(repo, settings, now, provinces)
            state = "queued"
        else:
            plans = plan_reminders(repo, settings, now, provinces)
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
                    reason=plan["reason"],
                    created_by=by,
                    detail={"problems": plan["problems"], "slot": plan["slot"]},
                )
            )
        if plans:
            repo.add_audit(
                by,
                "remind",
                "reminders",
                f"{'发出' if manual else '生成'}催报 {len(plans)} 封（{'待审' if state == 'draft' else '待发'}）："
                + "、".join(dict.fromkeys(p["province"].name for p in plans)),
                "",
                keys=[p["key"] for p in plans],
            )
    return plans


def returns_waiting(repo: Repo) -> list[dict[str, Any]]:
    """Returns sent whose province has sent nothing since: still waiting for the correction."""
    later: dict[str, datetime] = {}
    for m in repo.all_messages(with_children=False):
        if m.classification == "submission" and m.province_code and m.received_at:
            if m.province_code not in later or m.received_at > later[m.province_code]:
                later[m.province_code] = m.received_at
    out = []
    for o in repo.outgoing_mail(["sent"], ["return"]):
        if o.sent_at is None:
            continue
        newest = later.get(o.province_code or "")
        if newest is None or newest <= o.sent_at:
            out.append(
                {"id": o.id, "message_id": o.message_pk, "subject": o.subject, "sent_at": o.sent_at, "to": o.to_addr}
            )
    return out


def waiting_count(store: Store) -> int:
    with store.session() as repo:
        return len(repo.outgoing_mail(["draft"]))
