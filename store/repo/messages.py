"""Messages: where each was seen, who reads it, what reading it left behind; the runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from store.models import (
    Attachment,
    Flag,
    MailboxState,
    Material,
    Message,
    MessageLocation,
    MessageOverride,
    Nominee,
    Run,
    utcnow,
)
from store.repo.base import RepoBase, as_utc, chunks, stale

# Automatic readings of a message that did not come to an end: stopped at the time limit, its
# parse worker died, or this process died while recording what was read (counted before the
# recording only for a message that was in hand when a process died before: ``INTERRUPTED``). A
# process killed while it merely held messages counts against none of them.
MAX_ATTEMPTS = 3
INTERRUPTED = "上次读取时处理进程中断，等待重新读取"


class MessagesRepo(RepoBase):
    def mailbox_state(self, mailbox: str) -> MailboxState:
        state = self.s.scalar(select(MailboxState).where(MailboxState.mailbox == mailbox))
        if state is None:
            state = MailboxState(mailbox=mailbox, uidvalidity=None, last_uid=0)
            self.s.add(state)
            try:
                self.s.flush()
            except IntegrityError:
                self.s.rollback()
                state = self.s.scalar(select(MailboxState).where(MailboxState.mailbox == mailbox))
                assert state is not None
        return state

    def advance_watermark(self, mailbox: str, uidvalidity: int, uid: int) -> None:
        """Move the watermark forward only: a slower concurrent worker never moves it back."""
        self.s.execute(
            update(MailboxState)
            .where(
                MailboxState.mailbox == mailbox, MailboxState.uidvalidity == uidvalidity, MailboxState.last_uid < uid
            )
            .values(last_uid=uid, updated_at=utcnow())
        )

    def reset_uidvalidity(self, mailbox: str, uidvalidity: int) -> None:
        self.s.execute(
            update(MailboxState)
            .where(MailboxState.mailbox == mailbox)
            .values(uidvalidity=uidvalidity, last_uid=0, updated_at=utcnow())
        )

    def known_uids(self, mailbox: str, uidvalidity: int) -> set[str]:
        return set(
            self.s.scalars(
                select(MessageLocation.uid).where(
                    MessageLocation.mailbox == mailbox, MessageLocation.uidvalidity == uidvalidity
                )
            )
        )

    def record_message(
        self,
        *,
        mailbox: str,
        uidvalidity: int,
        uid: str,
        sha256: str,
        size: int,
        message_id: str,
        internaldate: datetime | None,
        watermark: int | None = None,
        claim_for: str | None = None,
    ) -> tuple[Message | None, bool]:
        """Record that a message was seen at a location; commit (with the mailbox's watermark
        moved up to ``watermark`` in the same transaction, when given). A new message is claimed
        for ``claim_for`` in the same commit, when given.

        Returns ``(message, is_new)``. A message already known by its content from an earlier
        UIDVALIDITY of the same mailbox is linked to the new location, not recorded again.
        ``(None, False)`` when the location is already recorded (another worker, or a re-poll):
        the location's unique key refuses it, no query is spent on asking first.
        """
        previous = None
        if self.s.scalar(select(Message.id).where(Message.sha256 == sha256).limit(1)) is not None:
            # Same bytes seen in this mailbox under an older UIDVALIDITY and not yet linked to the
            # current one: the mailbox was rebuilt, the message is the same.
            linked_now = select(MessageLocation.message_pk).where(
                MessageLocation.mailbox == mailbox, MessageLocation.uidvalidity == uidvalidity
            )
            previous = self.s.scalar(
                select(Message)
                .join(MessageLocation, MessageLocation.message_pk == Message.id)
                .where(
                    Message.sha256 == sha256,
                    MessageLocation.mailbox == mailbox,
                    MessageLocation.uidvalidity != uidvalidity,
                    Message.id.not_in(linked_now),
                )
                .order_by(Message.id)
                .limit(1)
            )
        is_new = previous is None
        message = previous
        if message is None:
            message = Message(
                sha256=sha256,
                size=size,
                message_id=message_id[:998],
                mailbox=mailbox,
                internaldate=internaldate,
                state="new" if claim_for is None else "processing",
                claimed_by=claim_for,
                claimed_at=None if claim_for is None else utcnow(),
                attempts=0,
                info={},
            )
            self.s.add(message)
            self.s.flush()
        self.s.add(MessageLocation(mailbox=mailbox, uidvalidity=uidvalidity, uid=uid, message_pk=message.id))
        try:
            if watermark is not None:
                self.advance_watermark(mailbox, uidvalidity, watermark)  # flushes the location first
            self.s.commit()
        except IntegrityError:
            self.s.rollback()
            if watermark is not None:  # recorded already (another worker, a re-poll): the watermark moves on
                self.advance_watermark(mailbox, uidvalidity, watermark)
                self.s.commit()
            return None, False
        return message, is_new

    def claim(self, message: Message, owner: str, from_states: Sequence[str] = ("new",)) -> bool:
        """Take a message for processing; False when another worker has it."""
        return bool(self.claim_many([message.id], owner, from_states))

    def claim_many(self, pks: Sequence[int], owner: str, from_states: Sequence[str] = ("new",)) -> list[int]:
        """Take messages for processing in one statement and one commit: the ones this worker got,
        in the order given (another worker has the rest, or they are no longer waiting). Taking a
        message is no attempt: see ``MAX_ATTEMPTS``."""
        got = set(
            self.s.scalars(
                update(Message)
                .where(Message.id.in_(list(pks)), Message.state.in_(list(from_states)))
                .values(state="processing", claimed_by=owner, claimed_at=utcnow())
                .returning(Message.id)
                .execution_options(synchronize_session=False)
            )
        )
        self.s.commit()
        return [pk for pk in pks if pk in got]

    def count_attempts(self, pks: Sequence[int], owner: str) -> None:
        """One more automatic reading attempt for each of these messages this worker holds; commit."""
        self._update_messages(
            pks, [Message.state == "processing", Message.claimed_by == owner], attempts=Message.attempts + 1
        )
        self.s.commit()

    def renew_claims(self, pks: Sequence[int], owner: str) -> None:
        """This worker still works on these: their lease starts again (a long conversion must not
        let another worker take a message over)."""
        self._update_messages(pks, [Message.state == "processing", Message.claimed_by == owner], claimed_at=utcnow())
        self.s.commit()

    def holds_claim(self, pk: int, owner: str) -> bool:
        """Whether this worker's claim on a message still stands (the fence checked before a
        commit): the row is locked until the commit, so no one can take it over in between."""
        with self.s.no_autoflush:
            claimed_by = self.s.execute(select(Message.claimed_by).where(Message.id == pk).with_for_update()).scalar()
        return claimed_by == owner

    def release_claims(self, pks: Sequence[int], owner: str) -> None:
        """This worker's claims on messages it did not get to read go back to 'new'."""
        self._update_messages(
            pks,
            [Message.state == "processing", Message.claimed_by == owner],
            state="new",
            claimed_by=None,
            claimed_at=None,
        )
        self.s.commit()

    def release_stale_claims(self, owner: str, lease: timedelta) -> int:
        """Claims left by a worker that died go back to 'new' (marked ``INTERRUPTED``): on this
        host as soon as its process is gone, elsewhere when the lease has run out. A message whose
        reading was cut short ``MAX_ATTEMPTS`` times is not taken again automatically: it is
        failed and flagged, for a person (and ``reprocess``)."""
        released = 0
        for m in self.s.scalars(select(Message).where(Message.state == "processing")):
            if stale(m.claimed_by, m.claimed_at, owner, lease):
                m.claimed_by, m.claimed_at = None, None
                released += 1
                if (m.attempts or 0) < MAX_ATTEMPTS:
                    m.state, m.error = "new", INTERRUPTED
                    continue
                reason = f"已尝试读取 {m.attempts} 次均未完成，不再自动重试（可由管理员重新处理）"
                m.state, m.error, m.processed_at = "failed", reason, utcnow()
                self.s.add(Flag(scope="message", origin="parse", code="parse_failed", detail=reason, message_pk=m.id))
        return released

    def pending_messages(self) -> list[Message]:
        return list(self.s.scalars(select(Message).where(Message.state == "new").order_by(Message.id)))

    def message(self, pk: int) -> Message | None:
        return self.s.get(Message, pk)

    def attachment(self, pk: int) -> Attachment | None:
        return self.s.get(Attachment, pk)

    def run(self, pk: int) -> Run | None:
        return self.s.get(Run, pk)

    def all_messages(self, *, with_children: bool = True) -> list[Message]:
        stmt = select(Message).order_by(Message.id)
        if with_children:
            stmt = stmt.options(
                selectinload(Message.attachments),
                selectinload(Message.nominees).selectinload(Nominee.flags),
                selectinload(Message.flags),
                selectinload(Message.receipt),
            )
        return list(self.s.scalars(stmt))

    def message_ids(self) -> list[int]:
        return list(self.s.scalars(select(Message.id).order_by(Message.id)))

    def earlier_duplicate(self, message: Message) -> Message | None:
        """An earlier message with the same content or Message-ID, if any."""
        cond = Message.sha256 == message.sha256
        if message.message_id:
            cond = cond | (Message.message_id == message.message_id)
        return self.s.scalar(select(Message).where(cond, Message.id < message.id).order_by(Message.id).limit(1))

    def clear_parse_results(self, message: Message) -> None:
        """What a reading of the message recorded goes: its flags, materials and attachments. The
        nominees stay (their ids are what corrections and reviews hold on to): the campaign joins
        the new materials to them again."""
        self.s.execute(delete(Flag).where(Flag.message_pk == message.id, Flag.scope == "message"))
        self.s.execute(delete(Material).where(Material.message_pk == message.id))
        attachments = select(Attachment.id).where(Attachment.message_pk == message.id)
        for column in (Nominee.attachment_id, Nominee.narrative_attachment_id):
            self.s.execute(update(Nominee).where(column.in_(attachments)).values({column.key: None}))
        self.s.execute(update(Attachment).where(Attachment.message_pk == message.id).values(parent_id=None))
        self.s.execute(delete(Attachment).where(Attachment.message_pk == message.id))
        self.s.expire(message)

    def mark_read_again(self, pks: Sequence[int], at: datetime) -> None:
        """Messages read again to the result already recorded: only the time and the count move
        (one statement for many; a message no longer 'processed' is left as it is)."""
        self._update_messages(
            pks, [Message.state == "processed"], processed_at=at, parse_count=func.coalesce(Message.parse_count, 0) + 1
        )

    def _update_messages(self, pks: Sequence[int], where: list[Any], **values: Any) -> None:
        """Set ``values`` on the messages of ``pks`` that meet ``where``, a few hundred at a time
        (``chunks``)."""
        for chunk in chunks(pks):
            self.s.execute(
                update(Message)
                .where(Message.id.in_(chunk), *where)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def start_run(self, kind: str) -> Run:
        run = Run(kind=kind, started_at=utcnow())
        self.s.add(run)
        self.s.commit()
        return run

    def rules_stale(self) -> bool:
        """True when a message was processed after the rules last ran (or they never ran)."""
        last_rules = self.s.scalar(select(func.max(Run.rules_at)))
        last_processed = self.s.scalar(select(func.max(Message.processed_at)))
        if last_processed is None:
            return last_rules is None
        if last_rules is None:
            return True
        return bool(as_utc(last_processed) >= as_utc(last_rules))

    def mark_rules_applied(self, run_id: int | None) -> None:
        run = self.s.get(Run, run_id) if run_id is not None else None
        if run is None:
            run = Run(kind="rules", started_at=utcnow(), finished_at=utcnow())
            self.s.add(run)
        run.rules_at = utcnow()

    def runs(self) -> list[Run]:
        return list(self.s.scalars(select(Run).order_by(Run.id)))

    def message_subjects(self) -> list[tuple[int, str]]:
        return [(pk, subject) for pk, subject in self.s.execute(select(Message.id, Message.subject))]

    def overrides_by_message(self) -> dict[int, list[tuple[str, int, str]]]:
        """Every message's overrides (field, id, value), keyed by message, in one query."""
        overrides: dict[int, list[tuple[str, int, str]]] = {}
        for pk, fld, oid, value in self.s.execute(
            select(MessageOverride.message_pk, MessageOverride.field, MessageOverride.id, MessageOverride.value)
        ):
            overrides.setdefault(pk, []).append((fld, oid, value))
        return overrides
