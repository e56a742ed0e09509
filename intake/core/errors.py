"""The one exception tree of the application.

::

    IntakeError
    ├── ConfigError     bad or missing configuration (one line names the key)
    ├── MailboxError    the mailbox cannot be reached or refuses a command
    │   ├── MailboxAuthError      the server refused our name and password
    │   └── MailboxUnavailable    no answer (refused, unreachable, silent past the timeout)
    ├── ParseError      a message or attachment cannot be read (recorded, never fatal to a run)
    ├── StoreError      the database or the archive refuses a write (defined in store.errors,
    │                   which may import nothing of the application; re-exported here)
    ├── ReplyError      a receipt or summary cannot be sent
    │   ├── TemporaryReplyError   worth retrying later (4xx, timeouts, refused connections)
    │   │   └── SmtpUnavailable   no server to talk to now (the run's other mail waits too)
    │   └── ReplyAuthError        the SMTP server refused our name and password
    ├── LockError       another worker holds the mailbox
    └── ActionError     a change a person asked for cannot be made (unknown id, field or role)
        └── LoginRefused    wrong name or password, or too many failures: wait

Foreign exceptions are caught only in the module that talks to that library and re-raised
as one of these with ``from exc``. Each class carries the exit status a command ends with
(``exit_status``, sysexits.h: a supervisor and a script can act on it).
"""

from __future__ import annotations

from store.errors import SchemaTooNew
from store.errors import StoreError as _StoreError
from store.locks import LockBusy

# Exit statuses (sysexits.h), as the README lists them.
EX_OK = 0
EX_USAGE = 64  # a wrong command, option, id or value
EX_UNAVAILABLE = 69  # a server (IMAP, SMTP, the database) cannot be reached or refuses
EX_TEMPFAIL = 75  # try again later: another worker holds the mailbox
EX_NOPERM = 77  # authentication refused
EX_CONFIG = 78  # the configuration is wrong, or the database is newer than this code


class IntakeError(Exception):
    """Base of every error the application raises on purpose."""

    exit_status = 1


class ConfigError(IntakeError):
    exit_status = EX_CONFIG


class MailboxError(IntakeError):
    exit_status = EX_UNAVAILABLE


class MailboxAuthError(MailboxError):
    exit_status = EX_NOPERM


class MailboxUnavailable(MailboxError):
    """The server could not be reached, or accepted the connection and did not answer in time."""


class ParseError(IntakeError):
    pass


class StoreError(IntakeError, _StoreError):
    exit_status = EX_UNAVAILABLE


# What a command turns into a one-line exit: the tree above plus the store's own base class.
HANDLED_ERRORS: tuple[type[Exception], ...] = (IntakeError, _StoreError)


class ReplyError(IntakeError):
    exit_status = EX_UNAVAILABLE


class TemporaryReplyError(ReplyError):
    pass


class ReplyAuthError(ReplyError):
    exit_status = EX_NOPERM


class SmtpUnavailable(TemporaryReplyError):
    """No SMTP server to talk to now: the rest of the run's mail waits too."""


class LockError(IntakeError):
    exit_status = EX_TEMPFAIL


class ActionError(IntakeError):
    exit_status = EX_USAGE


class LoginRefused(ActionError):
    exit_status = EX_NOPERM


def exit_status(exc: BaseException) -> int:
    """The status a command ends with for ``exc`` (errors of the store's own tree included)."""
    if isinstance(exc, SchemaTooNew):
        return EX_CONFIG
    if isinstance(exc, LockBusy):
        return EX_TEMPFAIL
    if isinstance(exc, IntakeError):
        return exc.exit_status
    if isinstance(exc, _StoreError):
        return EX_UNAVAILABLE
    return 1


# Errors that end the worker for good: trying again cannot help until a person acts.
def is_permanent(exc: BaseException) -> bool:
    return exit_status(exc) in (EX_CONFIG, EX_NOPERM)
