"""催报: the provinces that owe something and what, to choose from; the letters as they would go."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from intake.campaign.standing import Standing
from intake.core.settings import Settings
from intake.outbox.reminders import addresses, owed, plan_manual_reminders
from store.repo import Repo


def remind_page(repo: Repo, settings: Settings) -> dict[str, Any]:
    rows = []
    for code, problems in owed(Standing(repo, settings), settings).items():
        p = settings.province(code)
        if p is None:
            continue
        rows.append(
            {
                "code": code,
                "name": p.name,
                "problems": problems or ["尚未报送任何材料"],
                "to": "、".join(addresses(p)) or "（无登记邮箱，无法催报）",
                "reachable": bool(addresses(p)),
            }
        )
    return {"rows": rows}


def remind_preview(repo: Repo, settings: Settings, now: datetime, provinces: list[str]) -> dict[str, Any]:
    plans = plan_manual_reminders(repo, settings, now, provinces)
    return {
        "letters": [
            {"province": plan["province"].name, "to": plan["to"], "subject": plan["subject"], "body": plan["body"]}
            for plan in plans
        ],
        "chosen": provinces,
        "skipped": [
            settings.province(code).name  # type: ignore[union-attr]
            for code in provinces
            if settings.province(code) is not None and not any(p["province"].code == code for p in plans)
        ],
    }
