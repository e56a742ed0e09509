"""People and their work: users, sign-ins, the audit, corrections, overrides, checks, reviews."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from store.models import AuditEntry, Correction, FlagCheck, LoginAttempt, MessageOverride, Review, User
from store.repo.base import RepoBase


class PeopleRepo(RepoBase):
    def user(self, name: str) -> User | None:
        return self.s.scalars(select(User).where(User.name == name)).first()

    def user_by_id(self, pk: int) -> User | None:
        return self.s.get(User, pk)

    def users(self) -> list[User]:
        return list(self.s.scalars(select(User).order_by(User.name)))

    def last_logins(self) -> dict[str, datetime]:
        """Each name's last successful sign-in."""
        stmt = (
            select(LoginAttempt.name, func.max(LoginAttempt.at))
            .where(LoginAttempt.ok.is_(True))
            .group_by(LoginAttempt.name)
        )
        return {name: at for name, at in self.s.execute(stmt)}

    def failed_logins_since(self, since: datetime, *, name: str | None = None, address: str | None = None) -> int:
        stmt = (
            select(func.count()).select_from(LoginAttempt).where(LoginAttempt.ok.is_(False), LoginAttempt.at >= since)
        )
        if name is not None:
            stmt = stmt.where(LoginAttempt.name == name)
        if address is not None:
            stmt = stmt.where(LoginAttempt.address == address)
        return int(self.s.scalar(stmt) or 0)

    def audit(self, limit: int = 500) -> list[AuditEntry]:
        return list(self.s.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)))

    def corrections_for(self, nominee_ids: Sequence[int]) -> list[Correction]:
        if not nominee_ids:
            return []
        stmt = select(Correction).where(Correction.nominee_id.in_(list(nominee_ids))).order_by(Correction.id)
        return list(self.s.scalars(stmt))

    def all_corrections(self) -> list[Correction]:
        return list(self.s.scalars(select(Correction).order_by(Correction.id)))

    def orphan_corrections(self) -> list[Correction]:
        """Corrections whose nominee a later parse no longer found: shown to the office, never dropped."""
        return list(self.s.scalars(select(Correction).where(Correction.nominee_id.is_(None)).order_by(Correction.id)))

    def overrides_for(self, message_pk: int) -> dict[str, MessageOverride]:
        rows = self.s.scalars(select(MessageOverride).where(MessageOverride.message_pk == message_pk))
        return {o.field: o for o in rows}

    def review_states(self) -> dict[int, Review]:
        """Each nominee's standing review (the newest row); nominees with none are pending."""
        out: dict[int, Review] = {}
        for r in self.s.scalars(select(Review).where(Review.nominee_id.is_not(None)).order_by(Review.id)):
            out[r.nominee_id] = r  # type: ignore[index]
        return out

    def reviews_for(self, nominee_id: int) -> list[Review]:
        return list(self.s.scalars(select(Review).where(Review.nominee_id == nominee_id).order_by(Review.id)))

    def withdrawn_ids(self) -> set[int]:
        return {pk for pk, r in self.review_states().items() if r.state == "withdrawn"}

    def flag_checks(self) -> dict[str, FlagCheck]:
        return {c.key: c for c in self.s.scalars(select(FlagCheck))}

    def add_audit(self, actor: str, action: str, target: str, summary: str, reason: str = "", **detail: Any) -> None:
        """The record of one change, added in the change's own transaction."""
        self.s.add(AuditEntry(actor=actor, action=action, target=target, summary=summary, reason=reason, detail=detail))
