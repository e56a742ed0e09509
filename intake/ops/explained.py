"""Every setting, explained once: ``intake init`` writes each with its explanation as a comment,
and the README's settings table is generated from the same words (a test keeps the two in step,
and fails when a setting of the model has no explanation).

    python -m intake.ops.explained     # the README's settings table
"""

from __future__ import annotations

import tomllib
from typing import Any

import tomlkit
from pydantic import BaseModel

from intake.core.settings import DEFAULTS_DIR, Settings

# section.key → what it does. Secrets are never settings: only where to find them.
EXPLAINED: dict[str, str] = {
    "contact.person": "the office's contact person, named in every mail to a province",
    "contact.phone": "their telephone, named beside them",
    "database.url": "the database: `sqlite:///path` (relative to this file's folder) or `postgresql://user@host/db`",
    "archive.path": "the archive of every raw message and attachment, by content hash",
    "mailbox.source": '`"imap"` for the real mailbox; `"maildir"` reads a local folder (tests, demos)',
    "mailbox.host": "the IMAP server (126.com: imap.126.com)",
    "mailbox.port": "IMAP port (993 with TLS)",
    "mailbox.security": '`"tls"`, `"starttls"`, or `"none"` (loopback only)',
    "mailbox.username": "the mailbox's login (the full address on 126.com)",
    "mailbox.password_env": "the environment variable holding the password (126.com: the 客户端授权码)",
    "mailbox.password_file": "or a file holding it (mode 0600), instead of the variable",
    "mailbox.folder": "the folder submissions arrive in",
    "mailbox.maildir": 'the Maildir read when source = "maildir"',
    "mailbox.sent_folder": "where copies of our receipts are kept (found by itself when unset: 已发送/Sent)",
    "mailbox.batch_size": "messages fetched per IMAP command",
    "mailbox.timeout_seconds": "a server that does not answer within this fails the poll (no retry)",
    "mailbox.id_name": "the name sent in the IMAP ID command (126.com refuses clients without one)",
    "smtp.host": "the SMTP server (126.com: smtp.126.com); unset with outbox set: no mail is sent",
    "smtp.port": "SMTP port (465 with TLS, 587 with STARTTLS)",
    "smtp.security": '`"tls"`, `"starttls"`, or `"none"` (loopback only)',
    "smtp.username": "the SMTP login; empty: no AUTH (a local relay)",
    "smtp.password_env": "the environment variable holding the SMTP password",
    "smtp.password_file": "or a file holding it (mode 0600)",
    "smtp.sender": "the From of receipts, reminders and summaries",
    "smtp.outbox": "a folder that stands in for an SMTP server: every outgoing message written there as .eml",
    "smtp.timeout_seconds": "an SMTP server that does not answer within this: the mail waits for the next run",
    "campaign.title": "the campaign's name, as receipts and documents say it",
    "campaign.deadline": "the deadline, with its offset (`2017-04-30T23:59:59+08:00`)",
    "campaign.timezone": "the office's time zone (dates in receipts, the summary hour)",
    "campaign.narrative_limit": "the 事迹材料 limit, counted as Word counts 字数",
    "campaign.total_individuals": "the notice's total of individuals (checked against the quota table)",
    "campaign.total_units": "the notice's total of units (checked against the quota table)",
    "campaign.quota_table": "an allocation workbook (附件1) instead of [[provinces]] tables",
    "schedule.poll_minutes": "minutes between polls of `intake run` (down to 1)",
    "schedule.summary_at": "the daily summary's time, in the campaign's time zone (`08:00`)",
    "schedule.misfire_grace_seconds": "a job missed (the machine asleep) still runs if this late",
    "summary.recipients": "who gets the daily summary (never the mailbox itself)",
    "receipts.enabled": "answer each submission with a receipt",
    "receipts.per_sender_per_hour": "mail to one address per hour (receipts, reminders, returns); the rest wait",
    "receipts.max_attempts": "a receipt the server keeps refusing is failed after this many attempts",
    "receipts.retry_minutes": "first wait before a refused receipt is tried again (doubling)",
    "limits.archive_depth": "archives inside archives read this deep",
    "limits.archive_members": "files read from one archive",
    "limits.archive_total_bytes": "everything unpacked from one message, at every level (past it: attachment_skipped)",
    "limits.convert_timeout_seconds": "one LibreOffice conversion (Word 97, WPS, Excel 97)",
    "limits.parse_timeout_seconds": "reading one message; past it the reader is stopped and the message set aside",
    "limits.ocr_seconds": (
        "text recognition of one scan or photo (its own budget, added to the message's); past it: attachment_skipped"
    ),
    "limits.ocr_pages": "pages of one scanned file read by text recognition; the rest: attachment_skipped",
    "limits.convert_concurrency": "LibreOffice conversions at once",
    "limits.forward_depth": "forwarded messages inside forwarded messages read this deep",
    "limits.parse_workers": "reader processes (unset: one per core when there is enough mail)",
    "limits.claim_lease_minutes": "a message claimed by a worker that vanished is taken back after this",
    "web.host": "the console's address (loopback, behind the office's HTTPS proxy)",
    "web.port": "the console's port",
    "web.https": "true behind an HTTPS proxy: the session cookie then goes over HTTPS only",
    "web.secret_file": "signs session cookies: at least 32 random bytes, made (0600) by init or on first start",
    "web.session_hours": "a console session lasts this long",
    "web.preview_pages": "pages of a document shown beside a nominee's fields",
    "web.trusted_proxies": "the office's proxies (addresses or networks) whose X-Forwarded-For names the client",
    "reminders.days_before": "催报 at the summary hour, this many days before the deadline",
    "reminders.review": "reminders wait as drafts for a reviewer; false: they go out on their own",
    "reminders.after_deadline": "keep reminding after the deadline",
    "returns.review": "退回修改 replies wait as drafts for a reviewer",
    "documents.issuer": "发文机关标志 of the 通报 (printed red, followed by 文件)",
    "documents.number": "发文字号 of the 通报; {year} becomes the year it is made",
    "documents.signer": "落款 of the 通报 (the notice: issued in the name of 总局党组)",
    "documents.recipients": "主送 of the 通报",
    "documents.copy_to": "抄送 in the 通报's 版记",
    "documents.printed_by": "印发机关 in the 通报's 版记 (with the day it is made)",
    "documents.publicity_by": "落款 of the 公示名单",
    "documents.publicity_start": "the first day of the 公示 (default: the day the documents are made)",
    "documents.publicity_days": "the 公示期, in working days (weekends and holidays skipped)",
    "documents.holidays": "days off besides weekends, skipped by the 公示期 (e.g. 2017-05-29)",
    "documents.workdays": "weekend days that are worked (调休), counted by the 公示期",
    "documents.objection_unit": "where objections to the 公示 go: the unit",
    "documents.objection_phone": "where objections go: the telephone",
    "documents.objection_mail": "where objections go: the mail address",
    "documents.objection_address": "where objections go: the postal address",
    "logging.file": "besides stderr (journald), a log file, rotated",
    "logging.max_bytes": "the log file's size before it is rotated",
    "logging.backups": "rotated log files kept",
    "templates": "a folder of templates overriding the shipped ones (mail, and the .docx of 公示名单 and 通报表扬)",
    "campaign_file": "the campaign and its quota table, in a file of their own (relative to this file)",
}


SECTIONS = (
    "database",
    "archive",
    "mailbox",
    "smtp",
    "schedule",
    "summary",
    "contact",
    "receipts",
    "limits",
    "web",
    "reminders",
    "returns",
    "documents",
    "logging",
)


NOT_SETTINGS = {"password"}  # read from the environment or a file, never written


def setting_names() -> list[str]:
    """Every setting of the model, as ``section.key``."""
    names = []
    for section, info in Settings.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += [f"{section}.{k}" for k in annotation.model_fields if k not in NOT_SETTINGS]
        elif section != "provinces":
            names.append(section)
    return names


def defaults() -> dict[str, Any]:
    """The shipped defaults: the model's, with the embedded configuration's laid over them."""
    data: dict[str, Any] = {}
    for section, info in Settings.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            data[section] = annotation().model_dump(mode="json", exclude=NOT_SETTINGS)
    for name in ("intake.toml", "campaign.toml"):
        shipped = tomllib.loads((DEFAULTS_DIR / name).read_text(encoding="utf-8"))
        for section, values in shipped.items():
            if isinstance(values, dict):
                data.setdefault(section, {}).update(values)
    return data


def settings_table() -> str:
    """The README's table of every setting: name, default, what it does."""
    shipped = defaults()
    lines = ["| setting | default | what it does |", "| --- | --- | --- |"]
    for name in setting_names():
        section, _, key = name.partition(".")
        value = shipped.get(section, {}).get(key) if key else {"templates": "templates"}.get(section)
        shown = "—" if value in (None, "", []) else f"`{toml_value(value)}`"
        lines.append(f"| `{name}` | {shown} | {EXPLAINED.get(name, '')} |")
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    """A value as TOML writes it (strings escaped, control characters included)."""
    return tomlkit.item(list(value) if isinstance(value, tuple) else value).as_string()


if __name__ == "__main__":
    print(settings_table(), end="")
