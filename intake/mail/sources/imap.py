"""The IMAP mailbox, through imapclient. The only module that imports imapclient.

NetEase (126.com/163.com) refuses SELECT with "Unsafe Login" until the client identifies itself
with the ID command (RFC 2971) after LOGIN, so ID is sent whenever the server offers it. The
folder is selected read-only and bodies are fetched with ``BODY.PEEK[]``: polling never changes
the mailbox. Only UIDs past the stored watermark are searched, and bodies come in batches.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from tenacity import RetryError, retry, retry_if_exception, stop_after_attempt, wait_exponential

from intake import __version__
from intake.core.errors import ConfigError, MailboxAuthError, MailboxError, MailboxUnavailable
from intake.core.retry import backoff_seconds
from intake.core.settings import MailboxSettings
from intake.mail.sources.base import FetchedMessage

log = logging.getLogger(__name__)

_NETWORK_ERRORS = (OSError, socket.timeout, imaplib.IMAP4.abort, ssl.SSLError)


IDLE_RENEW_SECONDS = 25 * 60  # servers may drop an IDLE after 30 minutes (RFC 2177)
# A server may miss mail that came between our last command and the start of an IDLE (Dovecot
# then tells of it only at its next periodic check, 30 s or more later). Each IDLE is therefore
# ended and followed by a NOOP after a while: 1 s after new mail, doubling up to 5 minutes.
IDLE_FIRST_CHECK = 1.0
IDLE_LONGEST_CHECK = 5 * 60.0


def _announces_mail(responses: list[tuple[object, ...]]) -> bool:
    """Whether untagged responses tell of new mail (``* n EXISTS`` / ``* n RECENT``)."""
    return any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)


class ImapSource:
    numeric_uids = True

    def __init__(self, settings: MailboxSettings, *, connect_attempts: int = 3) -> None:
        self.settings = settings
        self.identity = settings.identity()
        self.connect_attempts = connect_attempts

    def _client(self) -> IMAPClient:
        s = self.settings
        context = ssl.create_default_context() if s.security in ("tls", "starttls") else None
        client = IMAPClient(
            s.host,
            port=s.port,
            ssl=s.security == "tls",
            ssl_context=context,
            timeout=s.timeout_seconds,
        )
        client.normalise_times = False
        if s.security == "starttls":
            client.starttls(context)
        return client

    def open_client(self) -> IMAPClient:
        """Connect and log in, retrying network failures with backoff."""
        s = self.settings
        if s.password is None:
            raise ConfigError(f"mailbox password not set: export {s.password_env} (or set mailbox.password_file)")

        @retry(
            # A refused or reset connection is tried again; a server that does not answer within
            # the timeout is not: the poll fails within the timeout, not a multiple of it.
            retry=retry_if_exception(lambda e: isinstance(e, _NETWORK_ERRORS) and not isinstance(e, TimeoutError)),
            stop=stop_after_attempt(self.connect_attempts),
            wait=wait_exponential(multiplier=0.5, max=8),
            reraise=True,
        )
        def attempt() -> IMAPClient:
            client = self._client()
            try:
                client.login(s.username, s.password.get_secret_value() if s.password else "")
                if client.has_capability("ID"):
                    client.id_({"name": s.id_name, "version": __version__, "vendor": "intake"})
            except BaseException:
                quietly_close(client)
                raise
            return client

        try:
            return attempt()
        except LoginError as exc:
            raise MailboxAuthError(f"IMAP login refused for {s.username} at {s.host}:{s.port}") from exc
        except (RetryError, *_NETWORK_ERRORS) as exc:
            raise MailboxUnavailable(f"cannot reach IMAP server {s.host}:{s.port}: {_reason(exc)}") from exc
        except IMAPClientError as exc:
            raise MailboxError(f"IMAP server {s.host}:{s.port} refused: {exc}") from exc

    @contextmanager
    def connect(self) -> Iterator[ImapSession]:
        client = self.open_client()
        try:
            with imap_errors(f"SELECT {self.settings.folder!r}"):
                info = client.select_folder(self.settings.folder, readonly=True)
            yield ImapSession(client, int(info.get(b"UIDVALIDITY", 0)), self.settings.batch_size)
        finally:
            quietly_close(client)

    def watch(self, stopped: threading.Event, on_change: Callable[[], None]) -> bool:
        """Wait in IDLE (RFC 2177) on a connection of its own and call ``on_change`` whenever the
        server says the folder changed, until ``stopped``. IDLE is issued again before the
        server's 30-minute limit; on any trouble it reconnects after a pause (the interval poll
        goes on meanwhile). Returns False at once when the server does not offer IDLE."""
        s = self.settings
        failures = 0
        while not stopped.is_set():
            pause = backoff_seconds(failures + 1, 5, 300)
            try:
                client = self.open_client()
            except MailboxError as exc:
                log.warning("IDLE: %s; polling on the interval meanwhile, trying again in %.0f s", exc, pause)
                stopped.wait(pause)
                failures += 1
                continue
            try:
                if not client.has_capability("IDLE"):
                    log.info("IDLE: not offered by %s; polling on the interval", s.host)
                    return False
                client.select_folder(s.folder, readonly=True)
                log.info("IDLE: waiting for new mail in %s", s.folder)
                failures = quiet = 0
                while not stopped.is_set():
                    check = backoff_seconds(quiet + 1, IDLE_FIRST_CHECK, IDLE_LONGEST_CHECK)
                    changed = self._idle_once(client, stopped, check)
                    if not changed and not stopped.is_set():
                        changed = _announces_mail(client.noop()[1])  # what the IDLE may have missed
                    quiet = 0 if changed else quiet + 1
                    while changed and not stopped.is_set():
                        on_change()
                        # Mail that came while the poll ran is announced to the next command.
                        changed = _announces_mail(client.noop()[1])
            except (IMAPClientError, *_NETWORK_ERRORS) as exc:
                log.warning("IDLE: %s; polling on the interval, trying IDLE again in %.0f s", _reason(exc), pause)
                stopped.wait(pause)
                failures += 1
            finally:
                quietly_close(client)
        return True

    @staticmethod
    def _idle_once(client: IMAPClient, stopped: threading.Event, longest: float = IDLE_RENEW_SECONDS) -> bool:
        """One IDLE, ended by a change (True), ``longest`` seconds, or a stop (False)."""
        client.idle()
        started = time.monotonic()
        longest = min(longest, IDLE_RENEW_SECONDS)
        changed = False
        try:
            while not changed and not stopped.is_set() and time.monotonic() - started < longest:
                changed = _announces_mail(client.idle_check(timeout=1))
        finally:
            _text, responses = client.idle_done()
        return changed or _announces_mail(responses)

    @contextmanager
    def client(self) -> Iterator[IMAPClient]:
        """A logged-in client with no folder selected (for appending to Sent and the like)."""
        client = self.open_client()
        try:
            yield client
        finally:
            quietly_close(client)


class ImapSession:
    def __init__(self, client: IMAPClient, uidvalidity: int, batch_size: int) -> None:
        self.client = client
        self.uidvalidity = uidvalidity
        self.batch_size = batch_size
        self.commands = 0  # how many commands went to the server: the cost of a poll
        self.fetched_bytes = 0

    def search_new(self, after_uid: int, known: Callable[[], set[str]]) -> list[str]:
        self.commands += 1
        with imap_errors("UID SEARCH"):
            uids = self.client.search(["UID", f"{after_uid + 1}:*"])
        # "n:*" always matches the highest UID, even below n.
        return [str(u) for u in sorted(int(u) for u in uids) if u > after_uid]

    def fetch(self, uids: list[str]) -> Iterator[FetchedMessage]:
        for start in range(0, len(uids), self.batch_size):
            chunk = [int(u) for u in uids[start : start + self.batch_size]]
            self.commands += 1
            with imap_errors("FETCH"):
                response = self.client.fetch(chunk, ["BODY.PEEK[]", "INTERNALDATE", "RFC822.SIZE"])
            for uid in chunk:
                data = response.get(uid)
                if not data:
                    continue  # expunged meanwhile
                raw = data.get(b"BODY[]")
                if raw is None:
                    continue
                self.fetched_bytes += len(raw)
                internal = data.get(b"INTERNALDATE")
                yield FetchedMessage(
                    uid=str(uid),
                    raw=bytes(raw),
                    internaldate=internal if isinstance(internal, datetime) else None,
                )


@contextmanager
def imap_errors(what: str) -> Iterator[None]:
    """The server's refusals and lost connections, as MailboxError naming the command."""
    try:
        yield
    except IMAPClientError as exc:
        raise MailboxError(f"{what} refused: {exc}") from exc
    except _NETWORK_ERRORS as exc:
        raise MailboxError(f"IMAP connection lost during {what}: {_reason(exc)}") from exc


def quietly_close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        try:
            client.shutdown()
        except Exception:
            pass


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RetryError):
        inner = exc.last_attempt.exception()
        return _reason(inner) if inner else "gave up"
    if isinstance(exc, TimeoutError):
        return "no answer within the timeout"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


# --------------------------------------------------------------------------- the Sent folder

SENT_NAMES = ("Sent", "Sent Messages", "Sent Items", "已发送", "INBOX.Sent")


def find_sent_folder(client: IMAPClient, configured: str | None) -> str:
    """The Sent folder: the configured name, else the one marked \\Sent (RFC 6154), else a usual
    name (NetEase's 已发送 is ``&XfJT0ZAB-`` in modified UTF-7), else create ``Sent``."""
    with imap_errors("LIST/CREATE of the Sent folder"):
        if configured:
            if not client.folder_exists(configured):
                client.create_folder(configured)
            return configured
        folders = client.list_folders()
        for flags, _delim, name in folders:
            if b"\\Sent" in flags:
                return str(name)
        names = {str(n) for _f, _d, n in folders}
        for candidate in SENT_NAMES:
            if candidate in names:
                return candidate
        client.create_folder("Sent")
        return "Sent"


def append_message(client: IMAPClient, folder: str, raw: bytes) -> None:
    with imap_errors(f"APPEND to {folder!r}"):
        client.append(folder, raw, flags=[b"\\Seen"])


def folder_has_message_id(client: IMAPClient, folder: str, message_id: str) -> bool:
    with imap_errors(f"SEARCH in {folder!r}"):
        client.select_folder(folder, readonly=True)
        return bool(client.search(["HEADER", "Message-ID", message_id]))
