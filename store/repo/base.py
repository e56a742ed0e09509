"""What every part of the repository shares: the session, and the helpers of bulk updates."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from store.models import utcnow


class RepoBase:
    s: Session

    def commit(self) -> None:
        self.s.commit()

    def rollback(self) -> None:
        self.s.rollback()

    def flush(self) -> None:
        self.s.flush()

    def add(self, obj: Any) -> None:
        self.s.add(obj)

    def delete(self, obj: object) -> None:
        self.s.delete(obj)


def chunks(pks: Sequence[int], size: int = 500) -> Iterator[list[int]]:
    """``pks`` a few hundred at a time: a first poll may hold tens of thousands of messages, past
    what one statement may name (PostgreSQL: 65,535 values)."""
    items = list(pks)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def stale(claimed_by: str | None, claimed_at: datetime | None, owner: str, lease: timedelta) -> bool:
    """A claim by a process of this host that is gone, or one older than the lease."""
    host = owner.rsplit(":", 1)[0]
    claimer_host, _, pid = (claimed_by or "").rpartition(":")
    dead_here = claimer_host == host and claimed_by != owner and not _alive(pid)
    expired = claimed_at is None or claimed_at < utcnow() - lease
    return dead_here or expired


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
