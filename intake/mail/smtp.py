"""Sending mail: smtplib over TLS/STARTTLS, or ``.eml`` files in an outbox folder (the embedded
default). Each takes a mail as the bytes it goes out as: a mail sent again after a crash is the
same mail, byte for byte (the outbox keeps those bytes from the moment the send begins)."""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
import tempfile
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from intake.core.errors import ConfigError, ReplyAuthError, ReplyError, SmtpUnavailable, TemporaryReplyError
from intake.core.settings import Settings, SmtpSettings
from intake.mail.sent import SentFolder
from store.db import private_dir

log = logging.getLogger(__name__)


class Mailer(Protocol):
    def send(self, raw: bytes, to: str, rfc_message_id: str) -> None:
        """Hand ``raw`` to the server for ``to``; returns once the server has taken it."""
        ...

    def already_sent(self, rfc_message_id: str) -> bool | None:
        """Whether a mail with this Message-ID went out (None: cannot tell now)."""
        ...

    def keep_copy(self, raw: bytes) -> None: ...

    def close(self) -> None: ...


def file_name(rfc_message_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", rfc_message_id.strip("<>"))[:200] + ".eml"


class OutboxMailer:
    """Writes each mail as an .eml file: what the embedded default does instead of SMTP. The file
    is the record: a mail whose file is there went out."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def send(self, raw: bytes, to: str, rfc_message_id: str) -> None:
        try:
            private_dir(self.folder)  # receipts name people: the outbox is the service's alone
            target = self.folder / file_name(rfc_message_id)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except OSError as exc:
            raise TemporaryReplyError(f"cannot write to the outbox {self.folder}: {exc.strerror}") from exc

    def already_sent(self, rfc_message_id: str) -> bool | None:
        return (self.folder / file_name(rfc_message_id)).exists()

    def keep_copy(self, raw: bytes) -> None:
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

    def send(self, raw: bytes, to: str, rfc_message_id: str) -> None:
        """One SMTP transaction, on a connection kept open for the next one. Returns when the
        server has answered 250 to the end of DATA; a refusal is raised as a ReplyError (4xx and a
        lost connection: TemporaryReplyError)."""
        client = self._open()
        try:
            code, resp = client.mail(self.settings.sender_address)
            if code != 250:
                raise _by_code(code, _words(resp))
            code, resp = client.rcpt(to)
            if code not in (250, 251):
                self._reset()
                raise _by_code(code, _words(resp))
            code, resp = client.data(raw)
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
        """QUIT and close; ``abort`` closes at once. Closed when the run is done (not aborted), the
        Sent folder's connection goes too."""
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

    def keep_copy(self, raw: bytes) -> None:
        """The copy in the Sent folder, once the server has the mail (mail clients keep one too)."""
        if self.sent_folder is not None:
            self.sent_folder.append(raw)

    def already_sent(self, rfc_message_id: str) -> bool | None:
        if self.sent_folder is None:
            return False
        return self.sent_folder.contains(rfc_message_id)


def _words(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _by_code(code: int, words: str) -> ReplyError:
    text = f"{code} {words}".strip()
    if 400 <= code < 500 or code in (-1, 0):
        return TemporaryReplyError(f"SMTP server deferred: {text}")
    return ReplyError(f"SMTP server refused: {text}")


def sender_domain(settings: Settings) -> str:
    return parseaddr(settings.smtp.sender)[1].rsplit("@", 1)[-1] or "intake.local"


def make_mailer(settings: Settings) -> OutboxMailer | SmtpMailer:
    if settings.smtp.outbox is not None:
        return OutboxMailer(settings.smtp.outbox)
    sent = SentFolder(settings) if settings.mailbox.source == "imap" else None
    return SmtpMailer(settings.smtp, sent)
