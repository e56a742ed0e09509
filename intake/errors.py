"""The one exception tree of the application.

::

    IntakeError
    ├── ConfigError     bad or missing configuration (one line names the key)
    ├── MailboxError    the mailbox cannot be reached or refuses a command
    ├── ParseError      a message or attachment cannot be read (recorded, never fatal to a run)
    ├── StoreError      the database or the archive refuses a write (defined in store.errors,
    │                   which may import nothing of the application; re-exported here)
    ├── ReplyError      a receipt or summary cannot be sent
    │   └── TemporaryReplyError   worth retrying later (4xx, timeouts, refused connections)
    ├── LockError       another worker holds the mailbox
    └── ActionError     a change a person asked for cannot be made (unknown id, field or role)
        └── LoginRefused    wrong name or password, or too many failures: wait

Foreign exceptions are caught only in the module that talks to that library and re-raised
as one of these with ``from exc``.
"""

from __future__ import annotations

from store.errors import StoreError as _StoreError


class IntakeError(Exception):
    """Base of every error the application raises on purpose."""


class ConfigError(IntakeError):
    pass


class MailboxError(IntakeError):
    pass


class ParseError(IntakeError):
    pass


class StoreError(IntakeError, _StoreError):
    pass


# What a command turns into a one-line exit: the tree above plus the store's own base class.
HANDLED_ERRORS: tuple[type[Exception], ...] = (IntakeError, _StoreError)


class ReplyError(IntakeError):
    pass


class TemporaryReplyError(ReplyError):
    pass


class LockError(IntakeError):
    pass


class ActionError(IntakeError):
    pass


class LoginRefused(ActionError):
    pass
