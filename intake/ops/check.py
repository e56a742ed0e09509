"""``intake check``: whether a deployment can go live: the configuration, the IMAP login
(read-only), the SMTP login (nothing is sent), LibreOffice and a CJK font, the database and the
archive. Tried for real, sending nothing."""

from __future__ import annotations

import getpass
import os
import shutil
import smtplib
import ssl
import stat
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from intake.core.errors import IntakeError
from intake.core.secret import existing_key_problem
from intake.core.settings import Settings
from intake.ingest.convert import office_binary
from intake.ingest.warm import SYSTEM_PYTHON, WarmOffice
from intake.mail.sources.imap import ImapSource
from intake.ops.init import PLACEHOLDER_DOMAIN
from intake.ops.paths import data_paths, unwritable
from intake.ops.status import safe_url
from parsers.archives import rar_program
from store.db import HEAD, current_revision, known_revisions, make_engine


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
    _check_archives(out)
    _check_paths(settings, out)
    _check_store(settings, out)
    return out


def _check_paths(settings: Settings, out: Checklist) -> None:
    """Each data path tried for real, as the user running the check: made when missing, a file
    written and removed; the session key, if there is one, long enough."""
    problems = unwritable(settings)
    for problem in problems:
        out.fail("data path", problem)
    key_problem = existing_key_problem(settings.web.secret_file)
    if key_problem is not None:
        out.fail("session key", key_problem)
    if not problems and key_problem is None:
        paths = ", ".join(str(e.path) for e in data_paths(settings))
        out.ok("data paths", f"each writable by {getpass.getuser()}: {paths}")


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
    if not (settings.contact.person and settings.contact.phone):
        out.warn("contact", "contact.person/contact.phone not set: mails to provinces name no one to call")
    else:
        out.ok("contact", f"{settings.contact.person} {settings.contact.phone}")
    d = settings.documents
    if not (d.objection_phone or d.objection_mail or d.objection_address):
        out.warn(
            "公示 objections",
            "documents.objection_phone/objection_mail/objection_address not set: 公示名单 says only "
            f"that objections go to {d.objection_unit}",
        )
    else:
        out.ok("公示 objections", "、".join(x for x in (d.objection_phone, d.objection_mail, d.objection_address) if x))
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


def _check_archives(out: Checklist) -> None:
    program = rar_program()
    if program is None:
        out.warn("RAR", "no unar/bsdtar/unrar installed: compressed RAR members are flagged instead of read")
    else:
        out.ok("RAR", shutil.which(program) or program)


def _check_office(out: Checklist) -> None:
    if office_binary() is None:
        out.warn("LibreOffice", "not installed: Word 97/WPS/Excel 97 files are flagged instead of read")
    else:
        out.ok("LibreOffice", office_binary() or "")
        if WarmOffice.possible():
            out.ok(
                "warm LibreOffice", f"{SYSTEM_PYTHON} imports uno: Word 97/WPS files convert in tens of milliseconds"
            )
        else:
            out.warn(
                "warm LibreOffice",
                f"{SYSTEM_PYTHON} cannot import uno (apt install python3-uno): every Word 97/WPS/Excel 97 "
                "file then costs a new LibreOffice process, about a second each",
            )
    fc = shutil.which("fc-list")
    fonts = ""
    if fc:
        fonts = subprocess.run([fc, ":lang=zh"], capture_output=True, text=True).stdout
    if fonts.strip():
        out.ok("CJK font", fonts.strip().splitlines()[0].split(":")[0])
    else:
        out.warn("CJK font", "none: previews and converted files show empty boxes (apt install fonts-noto-cjk)")


def _database_failure(url: str) -> str | None:
    """Why the database cannot be reached, or None."""
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
