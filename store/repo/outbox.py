"""The one outbox: every mail we send, claimed under a lock within each address's hourly cap."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update

from store.models import OutgoingMail, utcnow
from store.repo.base import RepoBase, chunks, stale


class OutboxRepo(RepoBase):
    def lock_sending(self) -> None:
        """One claim of mail to send at a time across every process sharing the database, so an
        address's hourly cap is counted with everyone's claims; held until the commit (PostgreSQL:
        a transaction-scoped advisory lock; SQLite: its write lock, taken by a statement that
        changes nothing: reads alone would not wait for another writer)."""
        if self.s.get_bind().dialect.name == "postgresql":
            self.s.execute(text("SELECT pg_advisory_xact_lock(727276)"))
        else:
            self.s.execute(text("UPDATE outbox SET id = id WHERE 0 = 1"))

    def queue_mail(self, mail: OutgoingMail) -> OutgoingMail | None:
        """Add ``mail`` unless a row with its key is there already (then None)."""
        if self.outgoing_by_key(mail.key) is not None:
            return None
        self.s.add(mail)
        self.s.flush()
        return mail

    def outgoing(self, pk: int) -> OutgoingMail | None:
        return self.s.get(OutgoingMail, pk)

    def outgoing_by_key(self, key: str) -> OutgoingMail | None:
        return self.s.scalars(select(OutgoingMail).where(OutgoingMail.key == key)).first()

    def receipt_for(self, message_pk: int) -> OutgoingMail | None:
        return self.outgoing_by_key(f"receipt:{message_pk}")

    def outgoing_mail(
        self, states: Sequence[str] | None = None, kinds: Sequence[str] | None = None
    ) -> list[OutgoingMail]:
        stmt = select(OutgoingMail).order_by(OutgoingMail.id)
        if states is not None:
            stmt = stmt.where(OutgoingMail.state.in_(list(states)))
        if kinds is not None:
            stmt = stmt.where(OutgoingMail.kind.in_(list(kinds)))
        return list(self.s.scalars(stmt))

    def receipts_in(self, states: Sequence[str]) -> list[OutgoingMail]:
        return self.outgoing_mail(states, ["receipt"])

    def outgoing_by_id(self, pks: Sequence[int]) -> list[OutgoingMail]:
        out: list[OutgoingMail] = []
        for chunk in chunks(pks):
            out += self.s.scalars(select(OutgoingMail).where(OutgoingMail.id.in_(chunk)))
        return sorted(out, key=lambda m: m.id)

    def due_mail(self, now: datetime) -> list[int]:
        """Rows waiting to go, whose next attempt is due, in the order they were made."""
        return list(
            self.s.scalars(
                select(OutgoingMail.id)
                .where(
                    OutgoingMail.state == "queued",
                    OutgoingMail.next_attempt_at.is_(None) | (OutgoingMail.next_attempt_at <= now),
                )
                .order_by(OutgoingMail.id)
            )
        )

    def stale_sending(self, owner: str, lease: timedelta) -> list[OutgoingMail]:
        """Rows left 'sending' by a process that died (on this host) or whose lease ran out."""
        rows = self.outgoing_mail(["sending"])
        return [m for m in rows if stale(m.claimed_by, m.claimed_at, owner, lease)]

    def claim_mail(self, pks: Sequence[int], owner: str) -> list[OutgoingMail]:
        """Take the rows of ``pks`` still queued, in one statement and one commit: the ones this
        process got, in order, as they now stand. Anything else pending commits with it."""
        got: list[int] = []
        for chunk in chunks(pks):
            got += self.s.scalars(
                update(OutgoingMail)
                .where(OutgoingMail.id.in_(chunk), OutgoingMail.state == "queued")
                .values(state="sending", attempts=OutgoingMail.attempts + 1, claimed_by=owner, claimed_at=utcnow())
                .returning(OutgoingMail.id)
                .execution_options(synchronize_session=False)
            ).all()
        self.s.commit()
        if not got:
            return []
        stmt = select(OutgoingMail).where(OutgoingMail.id.in_(got)).order_by(OutgoingMail.id)
        return list(self.s.scalars(stmt.execution_options(populate_existing=True)))

    def release_mail_claims(self, pks: Sequence[int], owner: str) -> None:
        """This process's claims on rows it did not get to send go back to the queue, the attempt
        not counted."""
        for chunk in chunks(pks):
            self.s.execute(
                update(OutgoingMail)
                .where(OutgoingMail.id.in_(chunk), OutgoingMail.state == "sending", OutgoingMail.claimed_by == owner)
                .values(state="queued", claimed_by=None, claimed_at=None, attempts=OutgoingMail.attempts - 1)
                .execution_options(synchronize_session=False)
            )
        self.s.commit()

    def mail_sent_to_since(self, to_addr: str, since: datetime) -> int:
        """Everything we sent one address since ``since``: receipts, reminders, returns, summaries."""
        return self.mail_sent_counts_since([to_addr], since).get(to_addr, 0)

    def mail_sent_counts_since(self, addresses: Sequence[str], since: datetime) -> dict[str, int]:
        """``mail_sent_to_since`` for several addresses at once (mail being sent counts)."""
        wanted = sorted(set(addresses))
        stmt = (
            select(OutgoingMail.to_addr, func.count(OutgoingMail.id))
            .where(
                OutgoingMail.to_addr.in_(wanted),
                (OutgoingMail.state == "sending") | ((OutgoingMail.state == "sent") & (OutgoingMail.sent_at >= since)),
            )
            .group_by(OutgoingMail.to_addr)
        )
        return {addr: int(n) for addr, n in self.s.execute(stmt)}

    def take_over(self, pk: int, claimed_by: str | None, owner: str) -> bool:
        """Take a row left 'sending' by ``claimed_by`` (a process gone, or its lease run out):
        one process only wins it; commit."""
        won = self.s.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id == pk, OutgoingMail.state == "sending", OutgoingMail.claimed_by == claimed_by)
            .values(claimed_by=owner, claimed_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        self.s.commit()
        return bool(won.rowcount)  # type: ignore[attr-defined]
