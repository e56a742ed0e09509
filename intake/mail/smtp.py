"""Sending mail: smtplib over TLS/STARTTLS, or ``.eml`` files in an outbox folder (embedded default).

After an SMTP send is recorded, a copy goes to the mailbox's Sent folder as mail clients do; a
receipt whose send could not be recorded (the database went away, the process died) is resolved
by looking for its Message-ID there before it is sent again.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Callable
from email.message import Message
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from intake.core.errors import (
    ConfigError,
    MailboxError,
    ReplyAuthError,
    ReplyError,
    SmtpUnavailable,
    TemporaryReplyError,
)
from intake.core.settings import Settings, SmtpSettings
from store.db import private_dir

if TYPE_CHECKING:
    from imapclient import IMAPClient

log = logging.getLogger(__name__)
_T = TypeVar("_T")


def _file_name(rfc_message_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", rfc_message_id.strip("<>"))[:200] + ".eml"


class OutboxMailer:
    """Writes each message as an .eml file: what the embedded default does instead of SMTP."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def send(self, msg: Message, to: str, record: Callable[[], None] | None = None) -> None:
        try:
            private_dir(self.folder)  # receipts name people: the outbox is the service's alone
            target = self.folder / _file_name(str(msg["Message-ID"]))
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise TemporaryReplyError(f"cannot write to the outbox {self.folder}: {exc.strerror}") from exc
        if record is not None:
            record()  # a crash before this is resolved by finding the file (already_sent)

    def already_sent(self, rfc_message_id: str) -> bool | None:
        return (self.folder / _file_name(rfc_message_id)).exists()

    def keep_copy(self, msg: Message) -> None:
        """The outbox file is the copy."""

    def close(self) -> None:
        """Nothing held open."""


class SmtpMailer:
    def __init__(self, settings: SmtpSettings, sent_folder: SentFolder | None = None) -> None:
        self.settings = settings
        self.sent_folder = sent_folder
        self._client: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        assert s.host
        context = ssl.create_default_context()
        if s.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds, context=context)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
            if s.security == "starttls":
                client.starttls(context=context)
        client.ehlo_or_helo_if_needed()
        if s.username:
            if s.password is None:
                client.close()
                raise ConfigError(f"SMTP password not set: export {s.password_env}")
            client.login(s.username, s.password.get_secret_value())
        return client

    def send(self, msg: Message, to: str, record: Callable[[], None] | None = None) -> None:
        """One SMTP transaction, on a connection kept open for the next one.

        ``record`` (the caller's commit that the receipt is sent) runs after the whole message has
        gone out but before the final ``.`` that makes the server take it. A crash before the
        commit leaves the server with an unfinished DATA, which it discards: the receipt is sent
        again later and arrives once. If the server then refuses, the error is raised and the
        caller records that instead.
        """
        client = self._open()
        data = _wire_bytes(msg)
        try:
            code, resp = client.mail(self.settings.sender_address)
            if code != 250:
                raise _by_code(code, _words(resp))
            code, resp = client.rcpt(to)
            if code not in (250, 251):
                self._reset()
                raise _by_code(code, _words(resp))
            code, resp = client.docmd("DATA")
            if code != 354:
                self._reset()
                raise _by_code(code, _words(resp))
            client.send(data)
            if record is not None:
                try:
                    record()
                except BaseException:
                    self.close(abort=True)  # the unfinished DATA is dropped with the connection
                    raise
            client.send(b".\r\n")
            code, resp = client.getreply()
            if code != 250:
                raise _by_code(code, _words(resp))
        except ReplyError:
            raise
        except smtplib.SMTPResponseException as exc:
            self.close(abort=True)
            raise _by_code(exc.smtp_code, _words(exc.smtp_error)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.close(abort=True)
            raise TemporaryReplyError(f"SMTP connection lost while sending: {exc}") from exc

    def _open(self) -> smtplib.SMTP:
        if self._client is None:
            try:
                self._client = self._connect()
            except smtplib.SMTPAuthenticationError as exc:
                raise ReplyAuthError(f"SMTP login refused: {exc.smtp_code} {_words(exc.smtp_error)}") from exc
            except smtplib.SMTPResponseException as exc:
                raise _by_code(exc.smtp_code, _words(exc.smtp_error)) from exc
            except (OSError, smtplib.SMTPException) as exc:
                where = f"{self.settings.host}:{self.settings.port}"
                # smtplib reports a silent server as a closed connection that "timed out".
                if isinstance(exc, TimeoutError) or "timed out" in str(exc):
                    raise SmtpUnavailable(f"SMTP server {where} did not answer in time") from exc
                raise SmtpUnavailable(f"SMTP server {where} unreachable: {exc}") from exc
        return self._client

    def _reset(self) -> None:
        try:
            if self._client is not None:
                self._client.rset()
        except (OSError, smtplib.SMTPException):
            self.close()

    def close(self, *, abort: bool = False) -> None:
        """QUIT and close; ``abort`` closes at once (in the middle of DATA a QUIT would be data).
        Closed when the run is done (not aborted), the Sent folder's connection goes too."""
        if not abort and self.sent_folder is not None:
            self.sent_folder.close()
        client, self._client = self._client, None
        if client is None:
            return
        if abort:
            client.close()
            return
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()

    def keep_copy(self, msg: Message) -> None:
        """The copy in the Sent folder, once the send is recorded (mail clients keep one too)."""
        if self.sent_folder is not None:
            self.sent_folder.append(msg)

    def already_sent(self, rfc_message_id: str) -> bool | None:
        if self.sent_folder is None:
            return False
        return self.sent_folder.contains(rfc_message_id)


def _wire_bytes(msg: Message) -> bytes:
    """The message as DATA carries it: CRLF line ends, leading dots doubled, ending in CRLF."""
    raw = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    raw = re.sub(rb"(?<!\r)\n", b"\r\n", raw)
    raw = re.sub(rb"(?m)^\.", b"..", raw)
    return raw if raw.endswith(b"\r\n") else raw + b"\r\n"


def _words(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _by_code(code: int, words: str) -> ReplyError:
    text = f"{code} {words}".strip()
    if 400 <= code < 500 or code in (-1, 0):
        return TemporaryReplyError(f"SMTP server deferred: {text}")
    return ReplyError(f"SMTP server refused: {text}")


class SentFolder:
    """The mailbox's Sent folder over IMAP: append after sending, search by Message-ID. One
    connection serves all of a run's receipts (closed with the mailer); one found lost when it is
    used again (the server's idle timeout, a restart) is opened again once."""

    def __init__(self, settings: Settings) -> None:
        from intake.mail.sources.imap import ImapSource

        self.source = ImapSource(settings.mailbox, connect_attempts=1)
        self.name = settings.mailbox.sent_folder
        self._client: IMAPClient | None = None
        self._folder: str | None = None
        self.logins = 0

    def _with_folder(self, what: Callable[[IMAPClient, str], _T]) -> _T:
        from intake.mail.sources.imap import find_sent_folder

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

    def append(self, msg: Message) -> None:
        from intake.mail.sources.imap import append_message

        raw = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
        try:
            self._with_folder(lambda client, folder: append_message(client, folder, raw))
        except MailboxError as exc:
            # The receipt went out; only the copy is missing. Logged, not fatal.
            log.warning("receipt sent, but not copied to the Sent folder: %s", exc)

    def contains(self, rfc_message_id: str) -> bool | None:
        from intake.mail.sources.imap import folder_has_message_id

        try:
            return self._with_folder(lambda client, folder: folder_has_message_id(client, folder, rfc_message_id))
        except MailboxError as exc:
            log.warning("cannot look in the Sent folder: %s", exc)
            return None

    def close(self) -> None:
        from intake.mail.sources.imap import quietly_close

        client, self._client, self._folder = self._client, None, None
        if client is not None:
            quietly_close(client)


def make_mailer(settings: Settings) -> OutboxMailer | SmtpMailer:
    if settings.smtp.outbox is not None:
        return OutboxMailer(settings.smtp.outbox)
    sent = SentFolder(settings) if settings.mailbox.source == "imap" else None
    return SmtpMailer(settings.smtp, sent)
