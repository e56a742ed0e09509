"""Mailbox sources: IMAP for the real mailbox, Maildir/mbox/.eml for the embedded inbox and ingest."""

from __future__ import annotations

from intake.core.settings import Settings
from intake.mail.sources.base import FetchedMessage, MailSession, MailSource
from intake.mail.sources.imap import ImapSource
from intake.mail.sources.local import MaildirSource

__all__ = ["FetchedMessage", "MailSession", "MailSource", "make_source"]


def make_source(settings: Settings) -> MailSource:
    if settings.mailbox.source == "maildir":
        assert settings.mailbox.maildir is not None
        return MaildirSource(settings.mailbox.maildir)
    return ImapSource(settings.mailbox)
