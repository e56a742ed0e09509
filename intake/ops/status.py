"""``intake status``: is the deployment alive and is anything waiting for a person?

For an operator at a terminal and for cron or a monitoring probe alike: the facts, one per line,
and a verdict in the exit status (0 healthy; 1 when the last successful poll is older than three
poll intervals, or something has failed that no person has acknowledged yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import make_url

from intake.core.keys import failure_key, flag_key
from intake.core.settings import Settings
from intake.jobs.worker import summary_trigger
from store.repo import Store

STALE_AFTER_INTERVALS = 3


@dataclass
class Status:
    database: str
    archive: str
    last_poll: datetime | None
    last_poll_age: timedelta | None
    last_error: str | None
    messages_new: int
    messages_failed: int
    receipts_queued: int
    receipts_failed: int
    outgoing_failed: int
    next_summary: datetime | None
    unacknowledged: list[str] = field(default_factory=list)
    stale: bool = False

    @property
    def healthy(self) -> bool:
        return not self.stale and not self.unacknowledged

    def lines(self, settings: Settings) -> list[str]:
        tz = settings.campaign.tz

        def when(dt: datetime | None) -> str:
            return dt.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z") if dt else "never"

        age = f" ({_age(self.last_poll_age)} ago)" if self.last_poll_age is not None else ""
        out = [
            f"database:          {self.database}",
            f"archive:           {self.archive}",
            f"last good poll:    {when(self.last_poll)}{age}",
            f"messages:          {self.messages_new} new, {self.messages_failed} failed",
            f"receipts:          {self.receipts_queued} queued, {self.receipts_failed} failed",
            f"other mail failed: {self.outgoing_failed}",
            f"next summary:      {when(self.next_summary)}",
        ]
        if self.last_error:
            out.append(f"last poll error:   {self.last_error.splitlines()[0][:200]}")
        if self.stale:
            limit = STALE_AFTER_INTERVALS * settings.schedule.poll_minutes
            out.append(f"STALE: no successful poll in the last {limit} minutes")
        out.extend(f"FAILED, not acknowledged: {u}" for u in self.unacknowledged[:20])
        if len(self.unacknowledged) > 20:
            out.append(f"… and {len(self.unacknowledged) - 20} more")
        out.append("status: ok" if self.healthy else "status: needs attention")
        return out


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def safe_url(url: str) -> str:
    """The database URL without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def read_status(store: Store, settings: Settings, now: datetime) -> Status:
    with store.session() as repo:
        facts = repo.health()
        checked = repo.flag_checks()
        last, latest = facts["last_good_poll"], facts["latest_poll"]
        unacknowledged = []
        for pk, subject, flag in facts["failed_messages"]:
            if flag is None or flag_key(*flag) not in checked:
                unacknowledged.append(f"message {pk} ({(subject or '')[:60]})")
        unacknowledged += [
            f"{kind} {pk} to {to}" for pk, kind, to in facts["failed_mail"] if failure_key("outbox", pk) not in checked
        ]
        failed_receipts = [x for x in facts["failed_mail"] if x[1] == "receipt"]
        failed_mail = [x for x in facts["failed_mail"] if x[1] != "receipt"]
        new, receipts_queued, failed_messages = facts["new"], facts["receipts_queued"], facts["failed_messages"]
    finished = last.finished_at if last else None
    if finished is not None and finished.tzinfo is None:
        finished = finished.replace(tzinfo=UTC)
    age = now - finished if finished else None
    stale = age is None or age > timedelta(minutes=STALE_AFTER_INTERVALS * settings.schedule.poll_minutes)
    trigger = summary_trigger(settings)
    return Status(
        database=safe_url(settings.database.url),
        archive=str(settings.archive.path),
        last_poll=finished,
        last_poll_age=age,
        last_error=latest.error if latest is not None and latest.error else None,
        messages_new=new,
        messages_failed=len(failed_messages),
        receipts_queued=receipts_queued,
        receipts_failed=len(failed_receipts),
        outgoing_failed=len(failed_mail),
        next_summary=trigger.get_next_fire_time(None, now.astimezone(settings.campaign.tz)),
        unacknowledged=unacknowledged,
        stale=stale,
    )
