"""The daily summary, mailed: one row of the outbox per recipient and day (its workbook inside,
written once), sent by the outbox's one loop. The scheduled summary goes once per day and
recipient across restarts; ``intake summary --send`` sends a fresh copy, on record too."""

from __future__ import annotations

import logging
from datetime import date, datetime

from intake.core.settings import Settings
from intake.mail.replies import message_id_for
from intake.mail.smtp import Mailer
from intake.outbox.compose import plain_text, wire_bytes
from intake.outbox.send import send_due
from intake.reports.summary import build_summary, summary_mail
from intake.reports.summary_book import write_workbook
from store.repo import OutgoingMail, Store

log = logging.getLogger(__name__)


def queue_daily_summary(
    store: Store, settings: Settings, now: datetime, day: date, *, again: bool = False
) -> list[str]:
    """The day's summary queued for every recipient who has not had it; the rows' keys."""
    keys = [
        f"summary:{day.isoformat()}:{to}" + (f":{now.timestamp():.0f}" if again else "")
        for to in settings.summary.recipients
    ]
    with store.session() as repo:
        missing = [
            (k, to) for k, to in zip(keys, settings.summary.recipients, strict=True) if not repo.outgoing_by_key(k)
        ]
        if not missing:
            return keys
        summary = build_summary(repo, settings, day, now)
    workbook = write_workbook(summary)
    with store.session() as repo:
        for key, to in missing:
            msg = summary_mail(summary, settings, workbook)
            msg["To"] = ", ".join(settings.summary.recipients)
            msg["Message-ID"] = message_id_for(key, settings)  # one per copy, fixed by its key
            repo.queue_mail(
                OutgoingMail(
                    kind="summary",
                    key=key,
                    to_addr=to,
                    subject=str(msg["Subject"]),
                    body=plain_text(msg),
                    raw=wire_bytes(msg),
                    rfc_message_id=str(msg["Message-ID"]),
                    state="queued",
                    created_by="系统",
                    detail={"day": day.isoformat()},
                )
            )
    return keys


def send_daily_summary(
    store: Store,
    settings: Settings,
    mailer: Mailer,
    now: datetime,
    day: date | None = None,
    *,
    again: bool = False,
) -> int:
    """Queue the day's summary and send what is due; how many recipients got it now."""
    day = day or now.astimezone(settings.campaign.tz).date()
    keys = queue_daily_summary(store, settings, now, day, again=again)
    with store.session() as repo:
        before = {k for k in keys if (row := repo.outgoing_by_key(k)) is not None and row.state == "sent"}
    send_due(store, settings, mailer, now)
    with store.session() as repo:
        sent = sum(1 for k in keys if k not in before and (row := repo.outgoing_by_key(k)) and row.state == "sent")
    log.info("daily summary for %s sent to %d recipient(s)", day, sent)
    return sent
