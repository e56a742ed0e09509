"""Times as people see them: always in the campaign's zone (Beijing), whatever the database holds
(UTC). One function for each way a time is written."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo


def local(dt: datetime | None, tz: tzinfo) -> datetime | None:
    """``dt`` in ``tz`` (a naive time is taken as UTC, as the store keeps them)."""
    if dt is None:
        return None
    return (dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)).astimezone(tz)


def shown(dt: datetime | None, tz: tzinfo) -> str:
    """2017-04-28 09:30: a time in a table or on a page."""
    moment = local(dt, tz)
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def cn_date(d: date | datetime, tz: tzinfo | None = None) -> str:
    """2017年4月8日: a date as an office writes it in a letter, without leading zeros."""
    if isinstance(d, datetime) and tz is not None:
        d = local(d, tz) or d
    return f"{d.year}年{d.month}月{d.day}日"


def cn_datetime(dt: datetime, tz: tzinfo) -> str:
    """2017年4月8日 9:05: a moment in a letter."""
    moment = local(dt, tz) or dt
    return f"{cn_date(moment)} {moment.hour}:{moment.minute:02d}"


def utcnow() -> datetime:
    return datetime.now(UTC)
