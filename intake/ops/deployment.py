"""A deployment's life: ``intake init`` writes one, ``intake check`` says whether it can go live.

Every setting is explained once, here (``EXPLAINED``): ``init`` writes each with its explanation as
a comment, and the README's settings table is generated from the same words (a test keeps the two
in step, and fails when a setting of the model has no explanation).
"""

from __future__ import annotations

import os
import shutil
import smtplib
import ssl
import stat
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from intake.core.settings import DEFAULTS_DIR, Settings

# section.key → what it does. Secrets are never settings: only where to find them.
EXPLAINED: dict[str, str] = {
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
    "limits.convert_concurrency": "LibreOffice conversions at once",
    "limits.forward_depth": "forwarded messages inside forwarded messages read this deep",
    "limits.parse_workers": "reader processes (unset: one per core when there is enough mail)",
    "limits.claim_lease_minutes": "a message claimed by a worker that vanished is taken back after this",
    "web.host": "the console's address (loopback, behind the office's HTTPS proxy)",
    "web.port": "the console's port",
    "web.https": "true behind an HTTPS proxy: the session cookie then goes over HTTPS only",
    "web.secret_file": "signs session cookies; made (0600) on first start",
    "web.session_hours": "a console session lasts this long",
    "web.preview_pages": "pages of a document shown beside a nominee's fields",
    "reminders.days_before": "催报 at the summary hour, this many days before the deadline",
    "reminders.review": "reminders wait as drafts for a reviewer; false: they go out on their own",
    "reminders.after_deadline": "keep reminding after the deadline",
    "returns.review": "退回修改 replies wait as drafts for a reviewer",
    "logging.file": "besides stderr (journald), a log file, rotated",
    "logging.max_bytes": "the log file's size before it is rotated",
    "logging.backups": "rotated log files kept",
    "templates": "a folder of templates overriding the shipped ones (receipts, reminders, the 通报)",
    "campaign_file": "the campaign and its quota table, in a file of their own (relative to this file)",
}

SECTIONS = (
    "database",
    "archive",
    "mailbox",
    "smtp",
    "schedule",
    "summary",
    "receipts",
    "limits",
    "web",
    "reminders",
    "returns",
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


def _defaults() -> dict[str, Any]:
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
    defaults = _defaults()
    lines = ["| setting | default | what it does |", "| --- | --- | --- |"]
    for name in setting_names():
        section, _, key = name.partition(".")
        value = defaults.get(section, {}).get(key) if key else {"templates": "templates"}.get(section)
        shown = "—" if value in (None, "", []) else f"`{_toml(value)}`"
        lines.append(f"| `{name}` | {shown} | {EXPLAINED.get(name, '')} |")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


# --------------------------------------------------------------------------- init

# GB/T 2260 order, as the notice lists the provinces.
PROVINCES = (
    ("bj", "北京市"),
    ("tj", "天津市"),
    ("he", "河北省"),
    ("sx", "山西省"),
    ("nm", "内蒙古自治区"),
    ("ln", "辽宁省"),
    ("jl", "吉林省"),
    ("hl", "黑龙江省"),
    ("sh", "上海市"),
    ("js", "江苏省"),
    ("zj", "浙江省"),
    ("ah", "安徽省"),
    ("fj", "福建省"),
    ("jx", "江西省"),
    ("sd", "山东省"),
    ("ha", "河南省"),
    ("hb", "湖北省"),
    ("hn", "湖南省"),
    ("gd", "广东省"),
    ("gx", "广西壮族自治区"),
    ("hi", "海南省"),
    ("cq", "重庆市"),
    ("sc", "四川省"),
    ("gz", "贵州省"),
    ("yn", "云南省"),
    ("xz", "西藏自治区"),
    ("sn", "陕西省"),
    ("gs", "甘肃省"),
    ("qh", "青海省"),
    ("nx", "宁夏回族自治区"),
    ("xj", "新疆维吾尔自治区"),
)
PLACEHOLDER_DOMAIN = "placeholder.example"


def _placeholder_quota() -> list[tuple[int, int]]:
    """Placeholders summing to the notice's 200 individuals and 60 units: 7 for the first 14
    provinces and 6 for the rest; 2 units each but 1 for the last two."""
    n = len(PROVINCES)
    return [(7 if i < 14 else 6, 1 if i >= n - 2 else 2) for i in range(n)]


def intake_toml() -> str:
    defaults = _defaults()
    defaults["mailbox"]["source"] = "imap"
    defaults["smtp"]["outbox"] = None
    defaults["summary"]["recipients"] = [f"office@{PLACEHOLDER_DOMAIN}"]
    out = [
        "# intake: this deployment's settings. Every setting is here, with what it does; relative",
        "# paths are taken from this file's folder. Secrets are never written here: the variables",
        "# named by password_env (or a password_file) hold them. `intake check` says what is missing.",
        "",
        f"# {EXPLAINED['campaign_file']}",
        'campaign_file = "campaign.toml"',
        f"# {EXPLAINED['templates']}",
        '# templates = "templates"',
        "",
    ]
    for section in SECTIONS:
        out.append(f"[{section}]")
        for name in setting_names():
            sec, _, key = name.partition(".")
            if sec != section:
                continue
            value = defaults.get(section, {}).get(key)
            line = f"{key} = {_toml(value)}" if value is not None else f"# {key} ="
            out.append(f"# {EXPLAINED[name]}")
            out.append(line)
        out.append("")
    return "\n".join(out) + "\n"


def campaign_toml() -> str:
    d = _defaults()["campaign"]
    out = [
        "# The campaign: its deadline and the quota table of the notice's 附件1 (名额分配表).",
        "# THE NUMBERS BELOW ARE PLACEHOLDERS (they sum to the notice's 200 individuals and 60 units):",
        "# copy each province's allocation from 附件1, and each province's registered sending",
        "# addresses in place of the placeholder ones. `intake check` refuses placeholder addresses.",
        "# A province left out of the campaign: keep its table with drop = true.",
        "",
        "[campaign]",
    ]
    for name in setting_names():
        section, _, key = name.partition(".")
        if section == "campaign":
            out.append(f"# {EXPLAINED[name]}")
            out.append(f"{key} = {_toml(d[key])}" if d.get(key) is not None else f"# {key} =")
    for (code, name), (individuals, units) in zip(PROVINCES, _placeholder_quota(), strict=True):
        out += [
            "",
            "[[provinces]]",
            f'code = "{code}"',
            f'name = "{name}"',
            f"individuals = {individuals}                        # placeholder: from 附件1",
            f"units = {units}                              # placeholder: from 附件1",
            f'senders = ["fgdj-{code}@{PLACEHOLDER_DOMAIN}"]     # placeholder: the registered address(es)',
        ]
    return "\n".join(out) + "\n"


def init(folder: Path) -> list[Path]:
    """Write a new deployment into ``folder``: intake.toml, campaign.toml, the data folder."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("intake.toml", intake_toml()), ("campaign.toml", campaign_toml())):
        target = folder / name
        if target.exists():
            from intake.core.errors import ConfigError

            raise ConfigError(f"{target} exists already: init never overwrites a deployment")
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


# --------------------------------------------------------------------------- check


@dataclass
class Checklist:
    items: list[tuple[str, str, str]] = field(default_factory=list)  # (ok|warn|fail, what, detail)

    def ok(self, what: str, detail: str = "") -> None:
        self.items.append(("ok", what, detail))

    def warn(self, what: str, detail: str) -> None:
        self.items.append(("warn", what, detail))

    def fail(self, what: str, detail: str) -> None:
        self.items.append(("fail", what, detail))

    @property
    def failed(self) -> bool:
        return any(state == "fail" for state, _, _ in self.items)

    def lines(self) -> list[str]:
        mark = {"ok": "[ ok ]", "warn": "[warn]", "fail": "[FAIL]"}
        return [f"{mark[s]} {what}" + (f": {detail}" if detail else "") for s, what, detail in self.items]


def check(settings: Settings, now: datetime | None = None) -> Checklist:
    """Everything that must hold before going live, tried for real but sending nothing."""
    now = now or datetime.now(UTC)
    out = Checklist()
    _check_campaign(settings, now, out)
    _check_imap(settings, out)
    _check_smtp(settings, out)
    _check_office(out)
    _check_store(settings, out)
    return out


def _check_campaign(settings: Settings, now: datetime, out: Checklist) -> None:
    out.ok(
        "configuration",
        f"{len(settings.provinces)} provinces, quota {settings.quota_individuals}/{settings.quota_units}",
    )
    bad = [
        f"{p.name} {s}"
        for p in settings.provinces
        for s in p.senders
        if "example" in s.lower() or PLACEHOLDER_DOMAIN in s.lower() or "待填写" in s
    ]
    missing = [p.name for p in settings.provinces if not p.senders]
    if bad:
        out.fail("province senders", f"{len(bad)} placeholder address(es), e.g. {bad[0]}")
    elif missing:
        out.warn("province senders", f"no registered address for {'、'.join(missing[:5])}")
    else:
        out.ok("province senders", f"{sum(len(p.senders) for p in settings.provinces)} registered addresses")
    if settings.campaign.deadline < now:
        out.warn("deadline", f"{settings.campaign.deadline.isoformat()} is already past")
    else:
        out.ok("deadline", settings.campaign.deadline.isoformat())
    mailbox = settings.mailbox.username.lower() if settings.mailbox.source == "imap" else ""
    recipients = [r.lower() for r in settings.summary.recipients]
    if any("example" in r for r in recipients):
        out.fail("summary recipients", "placeholder address(es): set summary.recipients")
    elif mailbox and mailbox in recipients:
        out.warn("summary recipients", f"{mailbox} is the mailbox itself: the summary would be read as mail")
    elif not recipients:
        out.warn("summary recipients", "none: the daily summary goes to nobody")
    else:
        out.ok("summary recipients", ", ".join(recipients))


def _check_imap(settings: Settings, out: Checklist) -> None:
    m = settings.mailbox
    if m.source != "imap":
        out.warn("IMAP", f'source = "{m.source}": no real mailbox is read')
        return
    from intake.core.errors import IntakeError
    from intake.mail.sources.imap import ImapSource

    try:
        client = ImapSource(m, connect_attempts=1).open_client()
    except IntakeError as exc:
        out.fail("IMAP", str(exc))
        return
    try:
        info = client.select_folder(m.folder, readonly=True)
        out.ok("IMAP", f"{m.username}@{m.host}:{m.port}, {m.folder} holds {info.get(b'EXISTS', 0)} message(s)")
    except Exception as exc:  # the library's many errors: what the server said is the point
        out.fail("IMAP", f"logged in, but {m.folder!r} cannot be selected: {exc}")
    finally:
        try:
            client.logout()
        except Exception:
            pass


def _check_smtp(settings: Settings, out: Checklist) -> None:
    s = settings.smtp
    if s.outbox is not None:
        out.warn("SMTP", f"outbox = {s.outbox}: mail is written to a folder, not sent")
        return
    assert s.host is not None
    if s.username and s.password is None:
        out.fail("SMTP", f"password not set: export {s.password_env} (or set smtp.password_file)")
        return
    try:
        if s.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        client.ehlo()
        if s.security == "starttls":
            client.starttls(context=ssl.create_default_context())
            client.ehlo()
        if s.username and s.password is not None:
            client.login(s.username, s.password.get_secret_value())
        client.quit()
        out.ok("SMTP", f"{s.host}:{s.port}" + (f" as {s.username}" if s.username else " (no AUTH)"))
    except smtplib.SMTPAuthenticationError as exc:
        out.fail("SMTP", f"login refused: {exc.smtp_code}")
    except (OSError, smtplib.SMTPException) as exc:
        out.fail("SMTP", f"{s.host}:{s.port}: {exc or type(exc).__name__}")


def _check_office(out: Checklist) -> None:
    from intake.ingest.convert import office_binary

    if office_binary() is None:
        out.warn("LibreOffice", "not installed: Word 97/WPS/Excel 97 files are flagged instead of read")
    else:
        out.ok("LibreOffice", office_binary() or "")
    fc = shutil.which("fc-list")
    fonts = ""
    if fc:
        import subprocess

        fonts = subprocess.run([fc, ":lang=zh"], capture_output=True, text=True).stdout
    if fonts.strip():
        out.ok("CJK font", fonts.strip().splitlines()[0].split(":")[0])
    else:
        out.warn("CJK font", "none: previews and converted files show empty boxes (apt install fonts-noto-cjk)")


def _database_failure(url: str) -> str | None:
    """Why the database cannot be reached, or None."""
    from intake.ops.status import safe_url
    from store.db import make_engine

    try:
        engine = make_engine(url)  # with a connect timeout
        try:
            with engine.connect():
                return None
        finally:
            engine.dispose()
    except Exception as exc:  # the driver's own errors: what it says is the point
        return f"{safe_url(url)}: {str(exc).splitlines()[0][:200]}"


def _check_store(settings: Settings, out: Checklist) -> None:
    from store.db import HEAD, current_revision, known_revisions, make_engine

    url = settings.database.url
    path = url.split(":///", 1)[1] if url.startswith("sqlite") and ":///" in url else None
    revision: str | None = None
    if path and not Path(path).exists():
        out.ok("database", f"{path} not created yet: made on the first poll")
    elif (failure := _database_failure(url)) is not None:
        out.fail("database", failure)
    else:
        engine = make_engine(url)
        try:
            revision = current_revision(engine)
        finally:
            engine.dispose()
        if revision is None:
            out.ok("database", "reachable, no schema yet: made on the first poll")
        elif revision == HEAD:
            out.ok("database", f"schema revision {revision}")
        elif revision in known_revisions():
            out.ok("database", f"schema revision {revision}: upgraded to {HEAD} on the first poll")
        else:
            out.fail("database", f"schema revision {revision} is newer than this version ({HEAD})")
    archive = settings.archive.path
    if not archive.exists():
        out.ok("archive", f"{archive} not created yet: made private (0700) on the first poll")
    else:
        mode = stat.S_IMODE(archive.stat().st_mode)
        if mode & 0o077:
            out.warn("archive", f"{archive} is {oct(mode)}: others can read it (chmod 700)")
        elif not os.access(archive, os.W_OK):
            out.fail("archive", f"{archive} is not writable by this user")
        else:
            out.ok("archive", f"{archive} ({oct(mode)})")


if __name__ == "__main__":  # python -m intake.ops.deployment: the README's settings table
    print(settings_table(), end="")
