"""The repository functions the pipeline calls. The only place that handles sessions."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from store.blobs import BlobStore
from store.db import _short, make_engine, migrate
from store.errors import StoreError
from store.models import (
    Attachment,
    AuditEntry,
    Correction,
    Flag,
    FlagCheck,
    LoginAttempt,
    MailboxState,
    Message,
    MessageLocation,
    MessageOverride,
    Nominee,
    OutgoingMail,
    Receipt,
    Review,
    Run,
    User,
    utcnow,
)

# Files a person should see even on mail that was set aside.
OFFICE_TYPES = ("docx", "doc", "wps", "xlsx", "xls", "et", "pdf")

__all__ = [
    "Attachment",
    "AuditEntry",
    "Correction",
    "Flag",
    "FlagCheck",
    "Message",
    "MessageOverride",
    "Nominee",
    "OutgoingMail",
    "Receipt",
    "Repo",
    "Review",
    "Run",
    "Store",
    "User",
]


class Store:
    """A database plus the blob archive beside it."""

    def __init__(self, url: str, archive: Path, *, create: bool = True) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.blobs = BlobStore(archive)
        if create:
            migrate(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Repo]:
        session = self._sessions()
        try:
            yield Repo(session)
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise StoreError(f"database error: {_short(exc)}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


class Repo:
    def __init__(self, session: Session) -> None:
        self.s = session

    # ------------------------------------------------------------------ generic

    def commit(self) -> None:
        self.s.commit()

    def rollback(self) -> None:
        self.s.rollback()

    def flush(self) -> None:
        self.s.flush()

    def add(self, obj: Any) -> None:
        self.s.add(obj)

    # ------------------------------------------------------------------ mailbox state

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

    # ------------------------------------------------------------------ messages

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

    def lock_rules(self) -> None:
        """One rules evaluation at a time across every process sharing the database (PostgreSQL:
        a transaction-scoped advisory lock; SQLite serialises writers by itself)."""
        if self.s.get_bind().dialect.name == "postgresql":
            self.s.execute(text("SELECT pg_advisory_xact_lock(727275)"))

    def lock_sending(self) -> None:
        """One claim of mail to send at a time across every process sharing the database, so an
        address's hourly cap is counted with everyone's claims; held until the commit (PostgreSQL:
        a transaction-scoped advisory lock; SQLite: its write lock, taken by a statement that
        changes nothing: reads alone would not wait for another writer)."""
        if self.s.get_bind().dialect.name == "postgresql":
            self.s.execute(text("SELECT pg_advisory_xact_lock(727276)"))
        else:
            self.s.execute(text("UPDATE receipts SET id = id WHERE 0 = 1"))

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

    def stale_sending_receipts(self, owner: str, lease: timedelta) -> list[Receipt]:
        """Receipts left 'sending' by a worker that died (on this host) or whose lease ran out."""
        return [r for r in self.receipts_in(["sending"]) if _stale(r.claimed_by, r.claimed_at, owner, lease)]

    def release_stale_claims(self, owner: str, lease: timedelta) -> int:
        """Claims left by a worker that died go back to 'new' (marked ``INTERRUPTED``): on this
        host as soon as its process is gone, elsewhere when the lease has run out. A message whose
        reading was cut short ``MAX_ATTEMPTS`` times is not taken again automatically: it is
        failed and flagged, for a person (and ``reprocess``)."""
        released = 0
        for m in self.s.scalars(select(Message).where(Message.state == "processing")):
            if _stale(m.claimed_by, m.claimed_at, owner, lease):
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

    def receipt(self, pk: int) -> Receipt | None:
        return self.s.get(Receipt, pk)

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
        """Flags and attachments go; nominees stay, to be matched with what the new parse finds
        (their ids are what corrections and reviews hold on to)."""
        self.s.execute(delete(Flag).where(Flag.message_pk == message.id))
        nominee_ids = select(Nominee.id).where(Nominee.message_pk == message.id)
        self.s.execute(delete(Flag).where(Flag.nominee_id.in_(nominee_ids)))
        self.s.execute(
            update(Nominee)
            .where(Nominee.message_pk == message.id)
            .values(attachment_id=None, narrative_attachment_id=None)
        )
        self.s.execute(update(Attachment).where(Attachment.message_pk == message.id).values(parent_id=None))
        self.s.execute(delete(Attachment).where(Attachment.message_pk == message.id))
        self.s.expire(message)

    def delete(self, obj: object) -> None:
        self.s.delete(obj)

    # ------------------------------------------------------------------ rules

    def nominees(self) -> list[Nominee]:
        return list(self.s.scalars(select(Nominee).order_by(Nominee.id)))

    def clear_rule_flags(self) -> None:
        self.s.execute(delete(Flag).where(Flag.origin == "rules"))

    def province_flags(self, province: str | None = None) -> list[Flag]:
        stmt = select(Flag).where(Flag.scope == "province")
        if province is not None:
            stmt = stmt.where(Flag.province_code == province)
        return list(self.s.scalars(stmt.order_by(Flag.id)))

    def current_counts(self, province: str | None) -> dict[str, int]:
        """Current nominees of a province by kind."""
        withdrawn = self.withdrawn_ids()
        rows = self.s.execute(
            select(Nominee.id, Nominee.kind).where(Nominee.current.is_(True), Nominee.province_code == province)
        )
        counts: dict[str, int] = {}
        for pk, kind in rows:
            if pk not in withdrawn:
                counts[kind] = counts.get(kind, 0) + 1
        return counts

    def all_flags(self) -> list[Flag]:
        return list(self.s.scalars(select(Flag).order_by(Flag.id)))

    # ------------------------------------------------------------------ receipts

    def receipt_for(self, message: Message) -> Receipt | None:
        return self.s.scalar(select(Receipt).where(Receipt.message_pk == message.id))

    def queue_receipt(
        self, message: Message, *, to_addr: str, rfc_message_id: str, state: str = "queued", reason: str = ""
    ) -> Receipt | None:
        if self.receipt_for(message) is not None:
            return None
        receipt = Receipt(
            message_pk=message.id,
            to_addr=to_addr,
            rfc_message_id=rfc_message_id,
            state=state,
            reason=reason,
            next_attempt_at=None,
        )
        self.s.add(receipt)
        try:
            self.s.flush()
        except IntegrityError:
            self.s.rollback()
            return None
        return receipt

    def receipts_by_id(self, pks: Sequence[int]) -> list[Receipt]:
        return list(self.s.scalars(select(Receipt).where(Receipt.id.in_(list(pks))).order_by(Receipt.id)))

    def receipts_in(self, states: Sequence[str]) -> list[Receipt]:
        return list(self.s.scalars(select(Receipt).where(Receipt.state.in_(list(states))).order_by(Receipt.id)))

    def due_receipts(self, now: datetime) -> list[Receipt]:
        return list(
            self.s.scalars(
                select(Receipt)
                .where(
                    Receipt.state == "queued", (Receipt.next_attempt_at.is_(None)) | (Receipt.next_attempt_at <= now)
                )
                .order_by(Receipt.id)
            )
        )

    def claim_receipts(self, pks: Sequence[int], owner: str) -> list[Receipt]:
        """Take the receipts of ``pks`` still queued for sending, in one statement and one commit:
        the ones this worker got, in order, as they now stand. Anything else pending commits with it."""
        got = self.s.scalars(
            update(Receipt)
            .where(Receipt.id.in_(list(pks)), Receipt.state == "queued")
            .values(state="sending", attempts=Receipt.attempts + 1, claimed_by=owner, claimed_at=utcnow())
            .returning(Receipt.id)
            .execution_options(synchronize_session=False)
        ).all()
        self.s.commit()
        if not got:
            return []
        stmt = select(Receipt).where(Receipt.id.in_(got)).order_by(Receipt.id)
        return list(self.s.scalars(stmt.execution_options(populate_existing=True)))

    def release_receipt_claims(self, pks: Sequence[int], owner: str) -> None:
        """This worker's claims on receipts it did not get to send go back to the queue, the
        attempt not counted."""
        if not pks:
            return
        self.s.execute(
            update(Receipt)
            .where(Receipt.id.in_(list(pks)), Receipt.state == "sending", Receipt.claimed_by == owner)
            .values(state="queued", claimed_by=None, claimed_at=None, attempts=Receipt.attempts - 1)
            .execution_options(synchronize_session=False)
        )
        self.s.commit()

    def messages_for_reports(self, pks: Sequence[int]) -> dict[int, Message]:
        """Messages with everything a receipt reads of them (files, nominees and their flags, the
        message's flags), a few queries for the lot."""
        stmt = (
            select(Message)
            .where(Message.id.in_(list(pks)))
            .options(
                selectinload(Message.attachments),
                selectinload(Message.nominees).selectinload(Nominee.flags),
                selectinload(Message.flags),
            )
        )
        return {m.id: m for m in self.s.scalars(stmt)}

    # ------------------------------------------------------------------ runs

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
        return bool(_as_utc(last_processed) >= _as_utc(last_rules))

    def mark_rules_applied(self, run_id: int | None) -> None:
        run = self.s.get(Run, run_id) if run_id is not None else None
        if run is None:
            run = Run(kind="rules", started_at=utcnow(), finished_at=utcnow())
            self.s.add(run)
        run.rules_at = utcnow()

    def runs(self) -> list[Run]:
        return list(self.s.scalars(select(Run).order_by(Run.id)))

    # ------------------------------------------------------------------ people's work

    def nominee(self, pk: int) -> Nominee | None:
        return self.s.get(Nominee, pk)

    def flag(self, pk: int) -> Flag | None:
        return self.s.get(Flag, pk)

    def user(self, name: str) -> User | None:
        return self.s.scalars(select(User).where(User.name == name)).first()

    def user_by_id(self, pk: int) -> User | None:
        return self.s.get(User, pk)

    def users(self) -> list[User]:
        return list(self.s.scalars(select(User).order_by(User.name)))

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

    def decisions_by_message(
        self,
    ) -> tuple[dict[int, list[tuple[str, int, str]]], dict[int, list[tuple[int, int | None]]]]:
        """Every message's overrides (field, id, value) and the corrections of its nominees (id,
        nominee id, in the order they were made), keyed by message, in two queries."""
        overrides: dict[int, list[tuple[str, int, str]]] = {}
        for pk, fld, oid, value in self.s.execute(
            select(MessageOverride.message_pk, MessageOverride.field, MessageOverride.id, MessageOverride.value)
        ):
            overrides.setdefault(pk, []).append((fld, oid, value))
        corrections: dict[int, list[tuple[int, int | None]]] = {}
        stmt = (
            select(Nominee.message_pk, Correction.id, Correction.nominee_id)
            .join(Nominee, Correction.nominee_id == Nominee.id)
            .order_by(Correction.id)
        )
        for pk, cid, nid in self.s.execute(stmt):
            corrections.setdefault(pk, []).append((cid, nid))
        return overrides, corrections

    def mark_read_again(self, pks: Sequence[int], at: datetime) -> None:
        """Messages read again to the result already recorded: only the time and the count move
        (one statement for many; a message no longer 'processed' is left as it is)."""
        self._update_messages(
            pks, [Message.state == "processed"], processed_at=at, parse_count=func.coalesce(Message.parse_count, 0) + 1
        )

    def _update_messages(self, pks: Sequence[int], where: list[Any], **values: Any) -> None:
        """Set ``values`` on the messages of ``pks`` that meet ``where``, a few hundred at a time
        (``_chunks``)."""
        for chunk in _chunks(pks):
            self.s.execute(
                update(Message)
                .where(Message.id.in_(chunk), *where)
                .values(**values)
                .execution_options(synchronize_session=False)
            )

    def summary_facts(self) -> dict[str, list[Any]]:
        """The columns the province standings are counted from, as plain rows."""
        return {
            "messages": list(
                self.s.execute(
                    select(Message.id, Message.province_code, Message.classification, Message.received_at)
                ).all()
            ),
            "receipts": list(self.s.execute(select(Receipt.message_pk, Receipt.state)).all()),
            "nominees": list(
                self.s.execute(select(Nominee.id, Nominee.message_pk, Nominee.kind, Nominee.current)).all()
            ),
            "flags": list(
                self.s.execute(
                    select(Flag.scope, Flag.code, Flag.message_pk, Flag.nominee_id, Flag.province_code)
                ).all()
            ),
        }

    def waiting_for_people(self) -> dict[str, Any]:
        """For the board: receipts still to go by province, submissions whose province nobody could
        tell, and mail set aside (not a submission) that carries Word, Excel or PDF files."""
        receipts: dict[str, int] = {}
        stmt = (
            select(Message.province_code, func.count())
            .join(Receipt, Receipt.message_pk == Message.id)
            .where(Receipt.state.in_(("queued", "sending")), Message.province_code.is_not(None))
            .group_by(Message.province_code)
        )
        for code, n in self.s.execute(stmt):
            receipts[code] = n
        unknown = self.s.execute(
            select(Message.id, Message.subject, Message.from_addr, Message.received_at)
            .where(Message.classification == "submission", Message.province_code.is_(None))
            .order_by(Message.id)
        ).all()
        documents = select(Attachment.message_pk).where(Attachment.type.in_(OFFICE_TYPES))
        set_aside = self.s.execute(
            select(Message.id, Message.subject, Message.from_addr, Message.classification)
            .where(Message.classification.in_(("auto_reply", "bounce", "unrelated")), Message.id.in_(documents))
            .order_by(Message.id)
        ).all()
        return {"receipts": receipts, "unknown_province": list(unknown), "set_aside": list(set_aside)}

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

    def message_subjects(self) -> list[tuple[int, str]]:
        return [(pk, subject) for pk, subject in self.s.execute(select(Message.id, Message.subject))]

    def mail_sent_to_since(self, to_addr: str, since: datetime) -> int:
        """Everything we sent one address since ``since``: receipts, reminders, returns, summaries."""
        return self.mail_sent_counts_since([to_addr], since).get(to_addr, 0)

    def mail_sent_counts_since(self, addresses: Sequence[str], since: datetime) -> dict[str, int]:
        """``mail_sent_to_since`` for several addresses at once (receipts being sent count)."""
        wanted = sorted(set(addresses))
        counts: dict[str, int] = {}
        receipts = select(Receipt.to_addr, func.count(Receipt.id)).where(
            Receipt.to_addr.in_(wanted),
            (Receipt.state == "sending") | ((Receipt.state == "sent") & (Receipt.sent_at >= since)),
        )
        others = select(OutgoingMail.to_addr, func.count(OutgoingMail.id)).where(
            OutgoingMail.to_addr.in_(wanted), OutgoingMail.state == "sent", OutgoingMail.sent_at >= since
        )
        for stmt in (receipts.group_by(Receipt.to_addr), others.group_by(OutgoingMail.to_addr)):
            for addr, n in self.s.execute(stmt):
                counts[addr] = counts.get(addr, 0) + int(n)
        return counts

    def outgoing(self, pk: int) -> OutgoingMail | None:
        return self.s.get(OutgoingMail, pk)

    def outgoing_by_key(self, key: str) -> OutgoingMail | None:
        return self.s.scalars(select(OutgoingMail).where(OutgoingMail.key == key)).first()

    def outgoing_mail(self, states: Sequence[str] | None = None) -> list[OutgoingMail]:
        stmt = select(OutgoingMail).order_by(OutgoingMail.id)
        if states is not None:
            stmt = stmt.where(OutgoingMail.state.in_(list(states)))
        return list(self.s.scalars(stmt))

    def flag_checks(self) -> dict[str, FlagCheck]:
        return {c.key: c for c in self.s.scalars(select(FlagCheck))}


def _as_utc(value: datetime) -> datetime:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


# Automatic readings of a message that did not come to an end: stopped at the time limit, its
# parse worker died, or this process died while recording what was read (counted before the
# recording only for a message that was in hand when a process died before: ``INTERRUPTED``). A
# process killed while it merely held messages counts against none of them.
MAX_ATTEMPTS = 3
INTERRUPTED = "上次读取时处理进程中断，等待重新读取"


def _chunks(pks: Sequence[int], size: int = 500) -> Iterator[list[int]]:
    """``pks`` a few hundred at a time: a first poll may hold tens of thousands of messages, past
    what one statement may name (PostgreSQL: 65,535 values)."""
    items = list(pks)
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _stale(claimed_by: str | None, claimed_at: datetime | None, owner: str, lease: timedelta) -> bool:
    """A claim by a process of this host that is gone, or one older than the lease."""
    host = owner.rsplit(":", 1)[0]
    claimer_host, _, pid = (claimed_by or "").rpartition(":")
    dead_here = claimer_host == host and claimed_by != owner and not _alive(pid)
    expired = claimed_at is None or claimed_at < utcnow() - lease
    return dead_here or expired


def _alive(pid: str) -> bool:
    import os

    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
