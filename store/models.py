"""SQLAlchemy 2 models. The schema is created and changed only by the Alembic migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no time zones) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class MailboxState(Base):
    __tablename__ = "mailbox_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(500), unique=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str] = mapped_column(String(998), default="", index=True)
    mailbox: Mapped[str] = mapped_column(String(500), default="")
    internaldate: Mapped[datetime | None]
    received_at: Mapped[datetime | None]
    received_source: Mapped[str] = mapped_column(String(20), default="")
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    from_name: Mapped[str] = mapped_column(Text, default="")
    reply_to: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    classification: Mapped[str] = mapped_column(String(20), default="")
    province_code: Mapped[str | None] = mapped_column(String(20), index=True)
    intent: Mapped[str] = mapped_column(String(20), default="")
    state: Mapped[str] = mapped_column(String(20), default="new", index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(300))
    claimed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The body as text, as recorded when it was read (the console shows this; never the raw mail).
    body_text: Mapped[str] = mapped_column(Text, default="", server_default="", deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(index=True)
    parse_count: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # automatic reading attempts (claims)

    locations: Mapped[list[MessageLocation]] = relationship(back_populates="message")
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="Attachment.position"
    )
    nominees: Mapped[list[Nominee]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="Nominee.id"
    )
    flags: Mapped[list[Flag]] = relationship(back_populates="message", cascade="all, delete-orphan", order_by="Flag.id")
    # The message's receipt: its row in the one outbox (kind "receipt").
    materials: Mapped[list[Material]] = relationship(
        back_populates="message", cascade="all, delete-orphan", order_by="Material.position"
    )
    receipt: Mapped[OutgoingMail | None] = relationship(
        primaryjoin="and_(OutgoingMail.message_pk == Message.id, OutgoingMail.kind == 'receipt')",
        uselist=False,
        viewonly=True,
    )


class MessageLocation(Base):
    """Where a message was seen: (mailbox, UIDVALIDITY, UID) for IMAP, a file key elsewhere."""

    __tablename__ = "message_locations"
    __table_args__ = (UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_location"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int] = mapped_column(BigInteger, default=0)
    uid: Mapped[str] = mapped_column(String(255))
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(back_populates="locations")


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(Text, default="")
    content_type: Mapped[str] = mapped_column(String(255), default="")
    origin: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    type: Mapped[str] = mapped_column(String(20), default="")
    role: Mapped[str] = mapped_column(String(30), default="")
    status: Mapped[str] = mapped_column(String(20), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)

    message: Mapped[Message] = relationship(back_populates="attachments")


class Nominee(Base):
    """A nominee's dossier: one person (or unit) of one province, filled by materials from every
    mail that carries any of theirs (``Material``). Derived, rebuilt from the messages' materials
    by ``intake.campaign``; the id is that of the dossier's first record and never changes (an id
    merged into another stays accepted as an alias, ``NomineeAlias``). ``message_pk`` is the
    message of that first record."""

    __tablename__ = "nominees"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id", ondelete="SET NULL"), index=True)
    province_code: Mapped[str | None] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    rank: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20), default="form")
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    narrative_attachment_id: Mapped[int | None] = mapped_column(
        ForeignKey("attachments.id", ondelete="SET NULL"), index=True
    )
    narrative_chars: Mapped[int | None] = mapped_column(Integer)
    narrative_chars_nospace: Mapped[int | None] = mapped_column(Integer)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    info: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    # Who the dossier is: the name's normal form (and 出生年月 where two people share one).
    key: Mapped[str] = mapped_column(String(200), default="", server_default="", index=True)
    birth: Mapped[str] = mapped_column(String(20), default="", server_default="")

    message: Mapped[Message] = relationship(back_populates="nominees")
    flags: Mapped[list[Flag]] = relationship(back_populates="nominee", cascade="all, delete-orphan", order_by="Flag.id")


class Material(Base):
    """One thing a mail brought for a nominee: a form, a narrative, a row of a list, an opinion.
    Recorded with its message (rebuilt when the message is read again), in reading order; the
    campaign joins it to its nominee's dossier (``nominee_id``) and marks it replaced by a later
    message's material of the same kind (``replaced_by``)."""

    __tablename__ = "materials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    attachment_id: Mapped[int | None] = mapped_column(ForeignKey("attachments.id", ondelete="SET NULL"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(20))  # form | narrative | list_row | opinion
    person_kind: Mapped[str] = mapped_column(String(20), default="")  # individual | unit | "" (not said)
    name: Mapped[str] = mapped_column(String(200), default="")  # as written
    key: Mapped[str] = mapped_column(String(200), default="")  # its normal form
    birth: Mapped[str] = mapped_column(String(20), default="")
    rank: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20), default="")  # form | list | pdf
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    words: Mapped[int | None] = mapped_column(Integer)  # a narrative's 字数
    chars_nospace: Mapped[int | None] = mapped_column(Integer)
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)  # file, its heading, the names it is for
    text: Mapped[str] = mapped_column(Text, default="", deferred=True)  # a narrative's whole text
    nominee_id: Mapped[int | None] = mapped_column(ForeignKey("nominees.id", ondelete="SET NULL"), index=True)
    replaced_by: Mapped[int | None] = mapped_column(Integer)  # the message whose material replaced it

    message: Mapped[Message] = relationship(back_populates="materials")


class NomineeAlias(Base):
    """An id that was a nominee of its own until the campaign found it the same person as another:
    still accepted by every command and page, for the nominee it was merged into."""

    __tablename__ = "nominee_aliases"

    alias_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    nominee_id: Mapped[int] = mapped_column(ForeignKey("nominees.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Flag(Base):
    __tablename__ = "flags"
    __table_args__ = (Index("ix_flags_scope_province", "scope", "province_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(20))  # message | province | nominee
    origin: Mapped[str] = mapped_column(String(20), default="parse")  # parse | rules
    code: Mapped[str] = mapped_column(String(50))
    detail: Mapped[str] = mapped_column(Text, default="")
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    nominee_id: Mapped[int | None] = mapped_column(ForeignKey("nominees.id", ondelete="CASCADE"), index=True)
    province_code: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message | None] = relationship(back_populates="flags")
    nominee: Mapped[Nominee | None] = relationship(back_populates="flags")


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    processed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    receipts_sent: Mapped[int] = mapped_column(Integer, default=0)
    receipts_failed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    rules_at: Mapped[datetime | None]


# --------------------------------------------------------------------------- people's work
# What people decided lives in its own tables and is applied on top of what the parsers read, so
# that ``reprocess`` rebuilds everything derived without losing any of it.


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))  # viewer | reviewer | admin
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Raised when the user is disabled, changes password or signs out: older sessions end.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LoginAttempt(Base):
    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    address: Mapped[str] = mapped_column(String(100), index=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who changed what, when and why: one row per change, written in the change's transaction."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    target: Mapped[str] = mapped_column(String(100))  # nominee:12, message:3, flag:…, user:…
    summary: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Correction(Base):
    """A parsed field of a nominee, put right by a person; applied after every parse."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nominee_id: Mapped[int | None] = mapped_column(ForeignKey("nominees.id", ondelete="SET NULL"), index=True)
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    nominee_name: Mapped[str] = mapped_column(String(200), default="")
    field: Mapped[str] = mapped_column(String(50))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")


class MessageOverride(Base):
    """A message's province or classification set by a person; applied after every parse."""

    __tablename__ = "message_overrides"
    __table_args__ = (UniqueConstraint("message_pk", "field", name="uq_message_override"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(30))  # province | classification
    value: Mapped[str] = mapped_column(String(100))
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")


class FlagCheck(Base):
    """A flag a person has checked: kept out of the open problems, kept in the history. Flags are
    derived and rebuilt, so the check names the flag by what it says, not by its row."""

    __tablename__ = "flag_checks"
    __table_args__ = (UniqueConstraint("key", name="uq_flag_check_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    code: Mapped[str] = mapped_column(String(50))
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")


class Review(Base):
    """A nominee's review state as a person set it; the newest row of a nominee stands. Every row
    stays: the history of who decided what, when and why."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nominee_id: Mapped[int | None] = mapped_column(ForeignKey("nominees.id", ondelete="SET NULL"), index=True)
    nominee_name: Mapped[str] = mapped_column(String(200), default="")
    state: Mapped[str] = mapped_column(String(20))  # pending | approved | rejected | reserve | withdrawn
    reason: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class MaterialMove(Base):
    """A material a reviewer moved to another nominee (the one it belongs to, where the mail left
    it unmatched or the campaign could not tell two people apart); applied after every rebuild. It
    names the material by its message and place in it: materials are rebuilt with their message."""

    __tablename__ = "material_moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    nominee_id: Mapped[int | None] = mapped_column(ForeignKey("nominees.id", ondelete="SET NULL"), index=True)
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")


class OutgoingMail(Base):
    """Every mail we send: receipts (回执), reminders (催报), returns (退回修改) and the daily summary.
    One queue with one set of states, sent by one loop (``intake.outbox.send``)::

        draft ──► queued ──► sending ──► sent
          │         ▲  │        │  └───► failed (after the last attempt, or refused for good)
          ▼         └──┼────────┘ (a temporary refusal: back off, try again)
        discarded      └──► suppressed (a receipt that must not go: a robot, our own address…)

    ``raw`` holds the exact bytes from the moment the send begins: a row left ``sending`` by a
    crash is looked for in the Sent folder, and sent again as the identical mail if it is not
    there."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("key", name="uq_outbox_key"),
        Index("ix_outbox_to_addr_sent_at", "to_addr", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # receipt | reminder | return | summary
    key: Mapped[str] = mapped_column(String(300))  # what makes it once: receipt:12, reminder:zj:7:addr, return:12:1
    province_code: Mapped[str | None] = mapped_column(String(20), index=True)
    message_pk: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    to_addr: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")  # the text as sent (a receipt's: made when it goes)
    in_reply_to: Mapped[str] = mapped_column(Text, default="")
    references: Mapped[str] = mapped_column(Text, default="")
    rfc_message_id: Mapped[str] = mapped_column(String(998))
    state: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(300))
    claimed_at: Mapped[datetime | None]
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
