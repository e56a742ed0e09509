"""The repository the application calls: the only place that handles sessions. ``Repo`` is put
together from one part for each kind of record (messages, the campaign, people, the outbox)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store.blobs import BlobStore
from store.db import _short, make_engine, migrate
from store.errors import StoreError
from store.models import (
    Attachment,
    AuditEntry,
    Correction,
    Flag,
    FlagCheck,
    Material,
    MaterialMove,
    Message,
    MessageOverride,
    Nominee,
    NomineeAlias,
    OutgoingMail,
    Review,
    Run,
    User,
)
from store.repo.campaign import OFFICE_TYPES, CampaignRepo
from store.repo.messages import INTERRUPTED, MAX_ATTEMPTS, MessagesRepo
from store.repo.outbox import OutboxRepo
from store.repo.people import PeopleRepo

__all__ = [
    "INTERRUPTED",
    "MAX_ATTEMPTS",
    "OFFICE_TYPES",
    "Attachment",
    "AuditEntry",
    "Correction",
    "Flag",
    "FlagCheck",
    "Material",
    "MaterialMove",
    "Message",
    "MessageOverride",
    "Nominee",
    "NomineeAlias",
    "OutgoingMail",
    "Repo",
    "Review",
    "Run",
    "Store",
    "User",
]


class Repo(MessagesRepo, CampaignRepo, PeopleRepo, OutboxRepo):
    """One session's repository."""

    def __init__(self, session: Session) -> None:
        self.s = session


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
