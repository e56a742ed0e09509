"""What every mailbox source offers the pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class FetchedMessage:
    uid: str  # IMAP UID, Maildir key, or content hash for loose files
    raw: bytes
    internaldate: datetime | None  # the server's arrival time, when the source knows it


class MailSession(Protocol):
    uidvalidity: int

    def search_new(self, after_uid: int, known: Callable[[], set[str]]) -> list[str]:
        """The UIDs (in order) of messages past the watermark, or not yet known."""
        ...

    def fetch(self, uids: list[str]) -> Iterator[FetchedMessage]:
        """The messages with these UIDs, in batches; a vanished UID is skipped."""
        ...


class MailSource(Protocol):
    identity: str
    numeric_uids: bool

    def connect(self) -> AbstractContextManager[MailSession]: ...
