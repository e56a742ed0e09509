"""总览: every province against its quota (the numbers of the day's summary), and what waits for
a person."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from intake.campaign.standing import Standing
from intake.core.settings import Settings
from intake.core.text import display_name
from intake.core.vocabulary import REVIEW_STATES, deadline_phrase, labels
from intake.reports.summary import summary_window
from store.repo import Repo


def board(repo: Repo, settings: Settings, now: datetime) -> dict[str, Any]:
    tz = settings.campaign.tz
    since, until = summary_window(settings, now.astimezone(tz).date())
    rows = Standing(repo, settings).rows(since, until)
    deadline = settings.campaign.deadline.astimezone(tz)
    waiting = repo.waiting_for_people()
    return {
        "rows": rows,
        "totals": {
            "individuals": sum(r.individuals for r in rows),
            "units": sum(r.units for r in rows),
            "quota_individuals": settings.quota_individuals,
            "quota_units": settings.quota_units,
            "silent": sum(1 for r in rows if r.messages == 0),
            "problems": sum(r.problems for r in rows),
            "reviews": [(label, sum(r.reviews.get(s, 0) for r in rows)) for s, label in REVIEW_STATES.items()],
        },
        "deadline": deadline,
        "deadline_phrase": deadline_phrase((deadline.date() - now.astimezone(tz).date()).days),
        "unknown_province": [
            {"id": pk, "subject": display_name(subject), "from": sender, "received": at}
            for pk, subject, sender, at in waiting["unknown_province"]
        ],
        "set_aside_documents": [
            {"id": pk, "subject": display_name(subject), "from": sender, "class": labels("classification", cls)}
            for pk, subject, sender, cls in waiting["set_aside"]
        ],
        "orphans": len(repo.orphan_corrections()),
    }
