"""Configuration: read once, at the edge, into frozen objects.

This module and ``config_files`` (which reads the files) are the only ones that read the
configuration and environment variables. The user's
TOML is laid over the defaults shipped in the package (``intake/defaults``, which ``config/`` points
to in a checkout: ``intake.toml`` and ``campaign.toml``), so a
file holding only a few keys still runs the whole pipeline. Secrets are read from the environment
(or a file) named in the configuration and never appear in ``repr`` or log lines.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import date, datetime, time, tzinfo
from email.utils import parseaddr
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from intake.core.config_files import merge, merge_provinces, quota_from_workbook, read_toml, relocate, resolve_secret
from intake.core.errors import ConfigError
from parsers.quota import short_province_name


def _shipped_defaults() -> Path:
    """The defaults and templates inside the installed package (``intake/defaults``; in a checkout
    ``config/`` points there too)."""
    return Path(str(files("intake").joinpath("defaults")))


DEFAULTS_DIR = Path(os.environ.get("INTAKE_DEFAULTS_DIR") or _shipped_defaults())
DEFAULT_FILES = ("intake.toml", "campaign.toml")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def is_loopback(host: str) -> bool:
    if host.lower() in {"localhost", "localhost.localdomain", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class DatabaseSettings(_Frozen):
    url: str = "sqlite:///var/intake.db"


class ArchiveSettings(_Frozen):
    path: Path = Path("var/archive")


class MailboxSettings(_Frozen):
    source: Literal["imap", "maildir"] = "imap"
    host: str = "imap.126.com"
    port: int = Field(993, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str = ""
    password_env: str = "INTAKE_IMAP_PASSWORD"
    password_file: Path | None = None
    folder: str = "INBOX"
    maildir: Path | None = Path("var/mail/inbox")
    sent_folder: str | None = None
    batch_size: int = Field(50, ge=1, le=1000)
    timeout_seconds: float = Field(60, gt=0)
    id_name: str = "intake"
    password: SecretStr | None = None

    @model_validator(mode="after")
    def _check(self) -> MailboxSettings:
        if self.source == "imap" and self.security == "none" and not is_loopback(self.host):
            raise ValueError(f'security = "none" is only allowed for loopback hosts, not {self.host!r}')
        if self.source == "maildir" and self.maildir is None:
            raise ValueError('source = "maildir" needs mailbox.maildir')
        return self

    def identity(self) -> str:
        """A stable name for this mailbox, used as the key of its watermark."""
        if self.source == "maildir":
            return f"maildir:{self.maildir}"
        return f"imap://{self.username}@{self.host}:{self.port}/{self.folder}"


class SmtpSettings(_Frozen):
    host: str | None = "smtp.126.com"
    port: int = Field(465, ge=1, le=65535)
    security: Literal["tls", "starttls", "none"] = "tls"
    username: str = ""
    password_env: str = "INTAKE_SMTP_PASSWORD"
    password_file: Path | None = None
    sender: str = "总局非公党建办 <gsfgdj@126.com>"
    outbox: Path | None = None
    timeout_seconds: float = Field(60, gt=0)
    password: SecretStr | None = None

    @model_validator(mode="after")
    def _check(self) -> SmtpSettings:
        if self.outbox is None:
            if not self.host:
                raise ValueError("smtp needs either host or outbox")
            if self.security == "none" and not is_loopback(self.host):
                raise ValueError(f'security = "none" is only allowed for loopback hosts, not {self.host!r}')
        return self

    @property
    def sender_address(self) -> str:
        return parseaddr(self.sender)[1].lower()


class CampaignSettings(_Frozen):
    title: str = "在推进非公党建工作中表现突出的单位和个人推荐"
    deadline: datetime = datetime.fromisoformat("2017-04-30T23:59:59+08:00")
    timezone: str = "Asia/Shanghai"
    narrative_limit: int = Field(1500, ge=1)
    total_individuals: int | None = None
    total_units: int | None = None
    quota_table: Path | None = None

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _aware_deadline(self) -> CampaignSettings:
        if self.deadline.tzinfo is None:
            object.__setattr__(self, "deadline", self.deadline.replace(tzinfo=ZoneInfo(self.timezone)))
        return self

    @property
    def tz(self) -> tzinfo:
        return ZoneInfo(self.timezone)


class ScheduleSettings(_Frozen):
    poll_minutes: float = Field(10, gt=0)
    summary_at: time = time(8, 0)
    misfire_grace_seconds: int = Field(300, ge=1)


class SummarySettings(_Frozen):
    recipients: tuple[str, ...] = ()


class ReceiptSettings(_Frozen):
    enabled: bool = True
    per_sender_per_hour: int = Field(5, ge=1)
    max_attempts: int = Field(10, ge=1)
    retry_minutes: float = Field(5, gt=0)


class LimitSettings(_Frozen):
    archive_depth: int = Field(3, ge=1, le=10)
    archive_members: int = Field(500, ge=1)
    archive_total_bytes: int = Field(256 * 1024 * 1024, ge=1)  # everything unpacked from one message
    convert_timeout_seconds: float = Field(120, gt=0)
    parse_timeout_seconds: float = Field(120, gt=0)  # reading one message; past it the reader is stopped
    convert_concurrency: int = Field(2, ge=1)
    ocr_seconds: float = Field(60, gt=0)  # text recognition of one scanned file, apart from the parse limit
    ocr_pages: int = Field(30, ge=1)
    forward_depth: int = Field(30, ge=1)
    parse_workers: int | None = Field(None, ge=1, le=64)
    claim_lease_minutes: float = Field(10, gt=0)


class ReminderSettings(_Frozen):
    days_before: tuple[int, ...] = (7, 3, 1)  # 催报 at the summary hour, this many days before the deadline
    review: bool = True  # drafts for a reviewer to read, edit or discard; false: they go out on their own
    after_deadline: bool = False


class DocumentSettings(_Frozen):
    """What the issued documents say of their issuer and the publicity (公示): each document is a
    .docx template the office edits (``templates``); these fill its fields."""

    issuer: str = "中共国家工商行政管理总局党组"  # 发文机关标志 (printed red, with 文件 after it)
    number: str = "工商党字〔{year}〕　号"  # 发文字号; {year} is the year it is made
    signer: str = "总局党组"  # 落款 of the 通报
    recipients: str = "各省、自治区、直辖市工商行政管理局、市场监督管理部门党组（党委）"  # 主送
    copy_to: str = "各省、自治区、直辖市党委组织部"  # 抄送, in 版记
    printed_by: str = "国家工商行政管理总局办公厅"  # 印发机关, in 版记
    publicity_by: str = "总局非公党建办"  # 落款 of the 公示
    publicity_start: date | None = None  # the 公示 begins (default: the day it is made)
    publicity_days: int = Field(5, ge=1, le=30)  # working days
    holidays: tuple[date, ...] = ()  # days off besides weekends (法定节假日)
    workdays: tuple[date, ...] = ()  # weekend days worked (调休上班)
    objection_unit: str = "总局非公党建办"
    objection_phone: str = ""
    objection_mail: str = ""
    objection_address: str = ""


class ReturnSettings(_Frozen):
    review: bool = True  # 退回修改 as drafts first


class WebSettings(_Frozen):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    https: bool = False  # behind an HTTPS proxy: the session cookie is then sent over HTTPS only
    secret_file: Path = Path("var/web-secret")  # signs session cookies; made on first start
    session_hours: float = Field(12, gt=0)
    preview_pages: int = Field(3, ge=0, le=20)
    # The office's reverse proxies (addresses or networks): only their X-Forwarded-For is believed.
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an address or network") from exc
        return value

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(item, strict=False) for item in self.trusted_proxies)


class Province(_Frozen):
    code: str = Field(pattern=r"^[a-z0-9_-]+$")
    name: str
    individuals: int = Field(ge=0)
    units: int = Field(ge=0)
    senders: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    addressed_as: str = "你局"  # how a letter addresses the office (你局, 你单位, 你厅)

    @property
    def short_name(self) -> str:
        return short_province_name(self.name)


class LoggingSettings(_Frozen):
    file: Path | None = None  # besides stderr (journald), a log file rotated at max_bytes
    max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    backups: int = Field(5, ge=0)


class ContactSettings(_Frozen):
    """Who a province calls about the campaign: named in every mail to a province."""

    person: str = ""
    phone: str = ""


class Settings(_Frozen):
    database: DatabaseSettings = DatabaseSettings()
    contact: ContactSettings = ContactSettings()
    archive: ArchiveSettings = ArchiveSettings()
    mailbox: MailboxSettings = MailboxSettings()
    smtp: SmtpSettings = SmtpSettings()
    campaign: CampaignSettings = CampaignSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    summary: SummarySettings = SummarySettings()
    receipts: ReceiptSettings = ReceiptSettings()
    limits: LimitSettings = LimitSettings()
    web: WebSettings = WebSettings()
    reminders: ReminderSettings = ReminderSettings()
    returns: ReturnSettings = ReturnSettings()
    documents: DocumentSettings = DocumentSettings()
    logging: LoggingSettings = LoggingSettings()
    provinces: tuple[Province, ...] = ()
    templates: Path = Path("templates")
    campaign_file: Path | None = None  # [campaign] and [[provinces]] read from this file

    @model_validator(mode="after")
    def _unique_provinces(self) -> Settings:
        seen: dict[str, str] = {}
        for p in self.provinces:
            for key in (p.code, p.name):
                if key in seen:
                    raise ValueError(f"province {key!r} appears twice in the quota table")
                seen[key] = p.code
        owners: dict[str, str] = {}
        for p in self.provinces:
            for s in p.senders:
                s = s.lower()
                if s in owners and owners[s] != p.code:
                    raise ValueError(f"sender {s!r} is registered for both {owners[s]} and {p.code}")
                owners[s] = p.code
        return self

    def province(self, code: str | None) -> Province | None:
        return next((p for p in self.provinces if p.code == code), None)

    @property
    def quota_individuals(self) -> int:
        return self.campaign.total_individuals or sum(p.individuals for p in self.provinces)

    @property
    def quota_units(self) -> int:
        return self.campaign.total_units or sum(p.units for p in self.provinces)


# --------------------------------------------------------------------------- loading


def _format_validation(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "missing"
    return f"{loc}: {msg}" if loc else msg


def config_path(explicit: str | os.PathLike[str] | None) -> Path:
    if explicit:
        return Path(explicit)
    env = os.environ.get("INTAKE_CONFIG")
    if env:
        return Path(env)
    return Path("config/intake.toml")


def load_settings(path: str | os.PathLike[str] | None = None, *, cwd: Path | None = None) -> Settings:
    """Load the configuration at ``path`` over the shipped defaults and validate it.

    Relative paths (the database, the archive, the outbox, a password file…) are taken from the
    folder of the configuration file, so a service started from ``/`` finds its data beside its
    configuration; with no file of its own, from the working directory (``cwd`` overrides both)."""
    defaults: dict[str, Any] = {}
    for name in DEFAULT_FILES:
        f = DEFAULTS_DIR / name
        if f.exists():
            defaults = merge(defaults, read_toml(f))
    target = config_path(path)
    implicit = path is None and not os.environ.get("INTAKE_CONFIG")
    user: dict[str, Any] = {}
    if implicit and not target.exists():
        pass  # no file of its own: the embedded defaults alone
    elif target.resolve() != (DEFAULTS_DIR / "intake.toml").resolve():
        user = read_toml(target)

    base = cwd or (target.resolve().parent if user else Path.cwd())
    if user.get("campaign_file"):
        # The campaign in a file of its own (what `intake init` writes): laid over the user's file.
        cfile = Path(str(user["campaign_file"])).expanduser()
        cfile = cfile if cfile.is_absolute() else base / cfile
        user["campaign_file"] = str(cfile)
        campaign = read_toml(cfile)
        user = merge(user, {k: v for k, v in campaign.items() if k != "provinces"})
        user["provinces"] = list(user.get("provinces", [])) + list(campaign.get("provinces", []))

    default_provinces = list(defaults.pop("provinces", []))
    user_provinces = list(user.pop("provinces", []))
    mailbox_user = user.get("mailbox", {})
    smtp_user = user.get("smtp", {})
    data = merge(defaults, user)
    # The contract's default source is IMAP: a file that names a server means that server,
    # even where the embedded defaults read a local Maildir.
    if isinstance(mailbox_user, dict) and "host" in mailbox_user and "source" not in mailbox_user:
        data["mailbox"]["source"] = "imap"
    if isinstance(smtp_user, dict) and "host" in smtp_user and "outbox" not in smtp_user:
        data["smtp"].pop("outbox", None)
    data["provinces"] = merge_provinces(default_provinces, user_provinces)

    relocate(data, base)
    tmpl = data.get("templates")
    data["templates"] = (
        str(Path(tmpl))
        if tmpl and Path(tmpl).is_absolute()
        else str(base / tmpl)
        if tmpl and "templates" in user and (base / tmpl).is_dir()
        else str(DEFAULTS_DIR / (tmpl or "templates"))
    )
    mailbox = data.setdefault("mailbox", {})
    smtp = data.setdefault("smtp", {})
    resolve_secret(mailbox, "mailbox")
    resolve_secret(smtp, "smtp")

    quota_table = data.get("campaign", {}).get("quota_table")
    if quota_table:
        data["provinces"] = quota_from_workbook(Path(quota_table), data["provinces"])

    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{target}: {_format_validation(exc)}") from exc
