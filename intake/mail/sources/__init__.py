"""Mailbox sources: IMAP for the real mailbox, Maildir/mbox/.eml for the embedded inbox and ingest."""

from __future__ import annotations

from intake.mail.sources.base import FetchedMessage, MailSession, MailSource

__all__ = ["FetchedMessage", "MailSession", "MailSource", "make_source"]


def make_source(settings: object) -> MailSource:
    from intake.core.settings import Settings

    assert isinstance(settings, Settings)
    if settings.mailbox.source == "maildir":
        from intake.mail.sources.local import MaildirSource

        assert settings.mailbox.maildir is not None
        return MaildirSource(settings.mailbox.maildir)
    from intake.mail.sources.imap import ImapSource

    return ImapSource(settings.mailbox)
