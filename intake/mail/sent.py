"""The mailbox's Sent folder over IMAP: a copy of what we sent, and where a mail cut off by a crash
is looked for before it is sent again. One connection serves all of a run's mail (closed with the
mailer); one found lost when it is used again (the server's idle timeout, a restart) is opened
again once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from intake.core.errors import MailboxError
from intake.core.settings import Settings
from intake.mail.sources.imap import ImapSource, append_message, find_sent_folder, folder_has_message_id, quietly_close

if TYPE_CHECKING:
    from imapclient import IMAPClient

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class SentFolder:
    def __init__(self, settings: Settings) -> None:
        self.source = ImapSource(settings.mailbox, connect_attempts=1)
        self.name = settings.mailbox.sent_folder
        self._client: IMAPClient | None = None
        self._folder: str | None = None
        self.logins = 0

    def _with_folder(self, what: Callable[[IMAPClient, str], _T]) -> _T:
        while True:
            fresh = self._client is None
            if self._client is None:
                self._client = self.source.open_client()
                self.logins += 1
            try:
                if self._folder is None:
                    self._folder = find_sent_folder(self._client, self.name)
                return what(self._client, self._folder)
            except MailboxError:
                self.close()
                if fresh:
                    raise

    def append(self, raw: bytes) -> None:
        try:
            self._with_folder(lambda client, folder: append_message(client, folder, raw))
        except MailboxError as exc:
            # The mail went out; only the copy is missing. Logged, not fatal.
            log.warning("mail sent, but not copied to the Sent folder: %s", exc)

    def contains(self, rfc_message_id: str) -> bool | None:
        try:
            return self._with_folder(lambda client, folder: folder_has_message_id(client, folder, rfc_message_id))
        except MailboxError as exc:
            log.warning("cannot look in the Sent folder: %s", exc)
            return None

    def close(self) -> None:
        client, self._client, self._folder = self._client, None, None
        if client is not None:
            quietly_close(client)
