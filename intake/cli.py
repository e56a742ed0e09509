"""The ``intake`` command line: each command builds its objects, calls one function, and turns
an application error into a one-line message and a non-zero exit."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from intake.core.errors import EX_USAGE, HANDLED_ERRORS, exit_status
from intake.core.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("mailparser", "imapclient", "alembic", "pypdf", "py7zr", "apscheduler.executors"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _log_to_file(settings: Settings) -> None:
    """The optional rotating log file of ``[logging]``, beside stderr (which journald keeps)."""
    target = settings.logging.file
    if target is None:
        return
    from logging.handlers import RotatingFileHandler

    root = logging.getLogger()
    if any(isinstance(h, RotatingFileHandler) for h in root.handlers):
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(
            target, maxBytes=settings.logging.max_bytes, backupCount=settings.logging.backups, encoding="utf-8"
        )
    except OSError as exc:
        from intake.core.errors import ConfigError

        raise ConfigError(f"logging.file: cannot write {target}: {exc.strerror}") from exc
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)


def handled(fn: F) -> F:
    """An application error ends the command with one line and its exit status (the README lists
    them: 64 usage, 69 unavailable, 75 try again later, 77 authentication, 78 configuration)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except HANDLED_ERRORS as exc:
            click.echo(f"intake: {exc}", err=True)
            sys.exit(exit_status(exc))

    return wrapper  # type: ignore[return-value]


# A wrong command, option or argument: EX_USAGE, as the README says (click's own default is 2).
click.exceptions.UsageError.exit_code = EX_USAGE


class Context:
    def __init__(self, config: str | None) -> None:
        self.config = config
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
            _log_to_file(self._settings)
        return self._settings

    def store(self) -> Any:
        from store.repo import Store

        s = self.settings
        return Store(s.database.url, s.archive.path)


config_option = click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    default=None,
    help="Configuration file (default: $INTAKE_CONFIG, else config/intake.toml).",
)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail.")
@click.version_option(package_name="intake")
def main(verbose: bool) -> None:
    """The nomination mailbox pipeline: fetch, archive, read forms, flag, answer.

    \b
    Example:
        intake --help
        intake poll --config /etc/intake/intake.toml
    """
    _setup_logging(verbose)


def mailbox_lock(store: Any, identity: str, wait: float) -> Any:
    from intake.core.errors import LockError
    from store.locks import LockBusy, worker_lock

    class _Guard:
        def __enter__(self) -> None:
            self.cm = worker_lock(store.engine, identity, wait_seconds=wait)
            try:
                self.cm.__enter__()
            except LockBusy as exc:
                raise LockError(f"{exc}: another `intake run` or `intake poll` is at work; try again later") from exc

        def __exit__(self, *exc: object) -> None:
            self.cm.__exit__(*exc)

    return _Guard()


wait_option = click.option(
    "--wait",
    type=float,
    default=0.0,
    show_default=True,
    help="Seconds to wait for another worker on the same mailbox to finish.",
)


@main.command()
@config_option
@wait_option
@handled
def poll(config: str | None, wait: float) -> None:
    """Fetch every new message, archive it, read it, apply the rules, send the receipts due.

    Running it again with no new mail changes nothing and sends nothing.

    \b
    Example:
        INTAKE_IMAP_PASSWORD=… intake poll --config intake.toml
    """
    from intake.jobs.poll import StopFlag, run_once
    from intake.mail.sources import make_source
    from intake.outbox.receipts import make_mailer

    ctx = Context(config)
    settings = ctx.settings
    store = ctx.store()
    stop = StopFlag()
    stop.install()
    source = make_source(settings)
    with mailbox_lock(store, source.identity, wait):
        result = run_once(source, store, settings, datetime.now(UTC), make_mailer(settings), stop=stop)
    click.echo(result.line())
    with store.session() as repo:
        waiting = len(repo.receipts_in(["queued"]))
    if waiting:
        click.echo(f"{waiting} receipt(s) waiting for SMTP: they go with the next poll")


@main.command()
@config_option
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@handled
def ingest(config: str | None, paths: tuple[Path, ...]) -> None:
    """Run the pipeline over local .eml files, Maildir folders or mbox files.

    \b
    Example:
        intake ingest saved/*.eml backup.mbox
    """
    from intake.jobs.poll import StopFlag, run_once
    from intake.mail.sources.local import FilesSource
    from intake.outbox.receipts import make_mailer

    ctx = Context(config)
    settings = ctx.settings
    stop = StopFlag()
    stop.install()
    result = run_once(
        FilesSource(list(paths)),
        ctx.store(),
        settings,
        datetime.now(UTC),
        make_mailer(settings),
        stop=stop,
        kind="ingest",
    )
    click.echo(result.line())


@main.command()
@config_option
@wait_option
@handled
def run(config: str | None, wait: float) -> None:
    """The long-running worker: poll on the configured interval, the daily summary at the configured
    time, until SIGTERM/SIGINT (then the message in hand is finished and the worker exits 0).

    \b
    Example:
        INTAKE_IMAP_PASSWORD=… intake run --config /etc/intake/intake.toml
    """
    from intake.jobs.worker import Worker
    from intake.mail.sources import make_source
    from intake.outbox.receipts import make_mailer

    ctx = Context(config)
    settings = ctx.settings
    store = ctx.store()
    source = make_source(settings)
    with mailbox_lock(store, source.identity, wait):
        worker = Worker(source, store, settings, make_mailer(settings))
        worker.run()
    if worker.fatal is not None:
        raise worker.fatal


@main.command()
@config_option
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The day of the summary (default: today in the campaign's time zone).",
)
@click.option(
    "--xlsx",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the summary workbook to this file.",
)
@click.option("--send", is_flag=True, help="Mail the summary, with its workbook, to summary.recipients.")
@handled
def summary(config: str | None, day: datetime | None, xlsx: Path | None, send: bool) -> None:
    """The daily intake summary: every province against its quota, late, problems, receipts.

    \b
    Example:
        intake summary --date 2017-04-28 --xlsx 日报.xlsx --send
    """
    from intake.outbox.receipts import make_mailer
    from intake.reports.summary import build_summary, print_summary, write_workbook

    ctx = Context(config)
    settings = ctx.settings
    store = ctx.store()
    now = datetime.now(UTC)
    the_day = day.date() if day else now.astimezone(settings.campaign.tz).date()
    with store.session() as repo:
        report = build_summary(repo, settings, the_day, now)
    print_summary(report)
    workbook = write_workbook(report) if (xlsx or send) else b""
    if xlsx:
        try:
            xlsx.write_bytes(workbook)
        except OSError as exc:
            from intake.core.errors import IntakeError

            raise IntakeError(f"cannot write {xlsx}: {exc.strerror}") from exc
        click.echo(f"workbook written to {xlsx}")
    if send:
        from intake.core.errors import ConfigError

        if not settings.summary.recipients:
            raise ConfigError("summary.recipients is empty: nobody to send the summary to")
        from intake.core.errors import IntakeError
        from intake.jobs.worker import send_daily_summary

        sent = send_daily_summary(store, settings, make_mailer(settings), now, the_day, again=True)
        click.echo(f"summary sent to {sent} recipient(s)")
        missing = len(settings.summary.recipients) - sent
        if missing:
            raise IntakeError(f"summary not sent to {missing} recipient(s): see the outbox in the console")


@main.command()
@config_option
@click.option("--format", "fmt", type=click.Choice(["json"]), default="json", show_default=True)
@handled
def export(config: str | None, fmt: str) -> None:
    """Everything known, as JSON on stdout: provinces, nominees, messages.

    \b
    Example:
        intake export --format json > intake.json
    """
    from intake.campaign.standing import export_data

    ctx = Context(config)
    store = ctx.store()
    with store.session() as repo:
        data = export_data(repo, ctx.settings)
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@main.command()
@config_option
@wait_option
@handled
def reprocess(config: str | None, wait: float) -> None:
    """Parse every archived message again with the current parsers and rules.

    Receipts are never sent again. A message already read by these same parsers, libraries and
    limits is taken from its kept reading (readings/ beside the archive).

    \b
    Example:
        intake reprocess --config intake.toml
    """
    from intake.jobs.poll import StopFlag
    from intake.jobs.poll import reprocess as run_reprocess
    from intake.mail.sources import make_source

    ctx = Context(config)
    settings = ctx.settings
    store = ctx.store()
    stop = StopFlag()
    stop.install()
    with mailbox_lock(store, make_source(settings).identity, wait):
        result = run_reprocess(store, settings, datetime.now(UTC), stop)
    click.echo(result.line())


@main.command()
@config_option
@click.option("--host", default=None, help="Address to listen on (default: web.host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: web.port, 8080).")
@handled
def web(config: str | None, host: str | None, port: int | None) -> None:
    """The office console in the browser, on the same configuration and database.

    \b
    Example:
        intake user add 张明 --role reviewer
        intake web --host 127.0.0.1 --port 8080
    """
    import uvicorn

    from intake.web.app import create_app

    ctx = Context(config)
    settings = ctx.settings
    app = create_app(settings, ctx.store())
    uvicorn.run(
        app,
        host=host or settings.web.host,
        port=port or settings.web.port,
        proxy_headers=settings.web.https,
        log_level="info",
        access_log=False,
    )


@main.group()
def user() -> None:
    """Console users.

    \b
    Example:
        intake user add 张明 --role reviewer
    """


@user.command("add")
@config_option
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "reviewer", "admin"]), required=True)
@click.option("--password-env", default=None, help="Read the password from this environment variable.")
@handled
def user_add(config: str | None, name: str, role: str, password_env: str | None) -> None:
    """Add a console user, or set an existing one's role and password.

    Viewers read; reviewers correct, assign and check; admins also manage users.

    \b
    Example:
        INTAKE_NEW_PW=… intake user add 张明 --role reviewer --password-env INTAKE_NEW_PW
    """
    import os

    from intake.core.errors import ActionError
    from intake.office.actions import add_user

    if password_env:
        password = os.environ.get(password_env, "")
        if not password:
            raise ActionError(f"environment variable {password_env} is empty or not set")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    ctx = Context(config)
    add_user(ctx.store(), name, role, password)
    click.echo(f"user {name} ({role}) saved")


@main.command()
@config_option
@click.argument("nominee_id", type=int)
@click.argument("changes", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why: kept on record with who and when.")
@click.option("--by", default=None, help="Who makes the correction (default: the login name).")
@handled
def correct(config: str | None, nominee_id: int, changes: tuple[str, ...], reason: str, by: str | None) -> None:
    """Correct parsed fields of a nominee (FIELD=VALUE …); kept across reprocess.

    Fields: name, kind (individual|unit), rank, sex, birth, ethnicity, political, workplace, post,
    phone, education, head, address, deeds.

    \b
    Example:
        intake correct 12 name=王喆 rank=2 --reason "推荐表姓名识别有误"
    """
    import getpass

    from intake.core.errors import ActionError
    from intake.office.actions import correct_nominee

    parsed: dict[str, str] = {}
    for item in changes:
        field, sep, value = item.partition("=")
        if not sep:
            raise ActionError(f"expected FIELD=VALUE, got {item!r}")
        parsed[field.strip()] = value
    ctx = Context(config)
    done = correct_nominee(
        ctx.store(), ctx.settings, nominee_id, parsed, by=by or f"{getpass.getuser()}（命令行）", reason=reason
    )
    click.echo("；".join(done) if done else "nothing changed")


@main.command()
@config_option
@click.argument("nominee_id", type=int, required=False)
@click.option(
    "--state",
    type=click.Choice(["pending", "approved", "rejected", "reserve", "withdrawn"]),
    help="待审, 初审通过, 不予推荐, 备选, 已撤回.",
)
@click.option("--reason", default="", help="Why (required for rejected).")
@click.option("--province", default=None, help="Instead of one nominee: accept a province's within quota by rank.")
@click.option("--by", default=None, help="Who decides (default: the login name).")
@handled
def review(
    config: str | None, nominee_id: int | None, state: str | None, reason: str, province: str | None, by: str | None
) -> None:
    """Set a nominee's review state, or accept a province's nominees within its quota by rank
    (the rest 备选). Every change is on record and kept across reprocess.

    \b
    Example:
        intake review 12 --state approved
        intake review 13 --state rejected --reason "不符合推荐条件"
        intake review --province zj
    """
    import getpass

    from intake.core.errors import ActionError
    from intake.office.actions import review_nominee, review_province

    ctx = Context(config)
    actor = by or f"{getpass.getuser()}（命令行）"
    if province:
        changed = review_province(ctx.store(), ctx.settings, province, by=actor, reason=reason)
        click.echo("；".join(changed) if changed else "nothing changed")
        return
    if nominee_id is None or state is None:
        raise ActionError("give NOMINEE_ID and --state, or --province")
    for warning in review_nominee(ctx.store(), ctx.settings, nominee_id, state, by=actor, reason=reason):
        click.echo(f"注意：{warning}")
    click.echo(f"nominee {nominee_id}: {state}")


@main.command()
@config_option
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True)
@handled
def documents(config: str | None, out: Path) -> None:
    """Write 审核名单.xlsx, 公示名单.docx and 通报表扬.docx from the review states.

    \b
    Example:
        intake documents --out 文件/
    """
    from intake.reports.documents import build, write

    ctx = Context(config)
    store = ctx.store()
    with store.session() as repo:
        docs = build(repo, ctx.settings, datetime.now(UTC))
    for path in write(docs, out):
        click.echo(f"written {path}")


@main.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Show the reminders due now; make none.")
@handled
def remind(config: str | None, dry_run: bool) -> None:
    """The reminders (催报) due now: one per province that owes something, per slot and address.

    Drafts wait for a reviewer in the console unless reminders.review = false; each province is
    reminded once per slot, however often this runs.

    \b
    Example:
        intake remind --dry-run
    """
    from intake.outbox import letters as outbox

    ctx = Context(config)
    store, settings, now = ctx.store(), ctx.settings, datetime.now(UTC)
    if dry_run:
        with store.session() as repo:
            plans = outbox.plan_reminders(repo, settings, now)
    else:
        plans = outbox.queue_reminders(store, settings, now, by="命令行")
    for p in plans:
        what = "；".join(p["problems"]) or "尚未报送"
        click.echo(f"{p['province'].name} <{p['to']}>：{what}")
    state = "would be made" if dry_run else ("drafted" if settings.reminders.review else "queued")
    click.echo(f"{len(plans)} reminder(s) {state}")


@main.command()
@config_option
@handled
def status(config: str | None) -> None:
    """Where the data is, the last successful poll and its age, what is new, queued or failed, and
    the next summary. Exits 1 when the last successful poll is older than three poll intervals or
    something failed that no person has acknowledged yet (for cron or a monitoring probe).

    \b
    Example:
        intake status --config /etc/intake/intake.toml || notify-office
    """
    from intake.ops.status import read_status

    ctx = Context(config)
    settings = ctx.settings
    report = read_status(ctx.store(), settings, datetime.now(UTC))
    for line in report.lines(settings):
        click.echo(line)
    if not report.healthy:
        sys.exit(1)


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@handled
def init(folder: Path) -> None:
    """Write a new deployment into FOLDER: intake.toml (every setting, explained) and campaign.toml
    (the 31 provinces in GB/T 2260 order, placeholder quotas and addresses to fill in).

    \b
    Example:
        intake init /etc/intake && intake check --config /etc/intake/intake.toml
    """
    from intake.ops.deployment import init as write_deployment

    for path in write_deployment(folder):
        click.echo(f"wrote {path}")
    click.echo("next: fill in campaign.toml (quotas from 附件1, the registered addresses), then `intake check`")


@main.command()
@config_option
@handled
def check(config: str | None) -> None:
    """Before going live, and any time: the configuration, the IMAP login (read-only), the SMTP
    login (nothing is sent), LibreOffice and a CJK font, the database and the archive. Prints a
    checklist; exits 1 when anything fails.

    \b
    Example:
        INTAKE_IMAP_PASSWORD=… INTAKE_SMTP_PASSWORD=… intake check --config /etc/intake/intake.toml
    """
    from intake.ops.deployment import check as run_check

    result = run_check(Context(config).settings)
    for line in result.lines():
        click.echo(line)
    if result.failed:
        click.echo("not ready: fix what is marked FAIL", err=True)
        sys.exit(1)
    click.echo("ready")


@main.command()
@config_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@handled
def backup(config: str | None, file: Path) -> None:
    """A consistent snapshot of the database and the archive in FILE, while the worker runs.

    \b
    Example:
        intake backup /var/backups/intake-$(date +%F).tar
    """
    from intake.ops.backup import backup as make_backup

    ctx = Context(config)
    counts = make_backup(ctx.store(), ctx.settings.archive.path, file)
    click.echo(f"backup written to {file}: {counts.get('messages', 0)} messages, {counts['blobs']} archived files")


@main.command()
@config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@handled
def restore(config: str | None, file: Path) -> None:
    """Load a backup into this deployment, which must be empty; every id is kept and every
    archived file's hash checked.

    \b
    Example:
        intake restore --config /etc/intake/intake.toml intake-2017-04-28.tar
    """
    from intake.ops.backup import restore as load_backup

    ctx = Context(config)
    counts = load_backup(ctx.store(), ctx.settings.archive.path, file)
    click.echo(f"restored {counts.get('messages', 0)} messages and {counts['blobs']} archived files from {file}")


@main.command("return")
@config_option
@click.argument("message_id", type=int)
@click.option("--reason", required=True, help="What must be fixed, in the office's words.")
@click.option("--by", default=None, help="Who returns it (default: the login name).")
@handled
def return_(config: str | None, message_id: int, reason: str, by: str | None) -> None:
    """A 退回修改 reply in the submission's thread, naming its open problems and the reason.

    \b
    Example:
        intake return 12 --reason "推荐表缺少组织部门意见，请补充盖章后重新报送"
    """
    import getpass

    from intake.outbox import letters as outbox

    ctx = Context(config)
    pk = outbox.queue_return(
        ctx.store(), ctx.settings, message_id, reason=reason, by=by or f"{getpass.getuser()}（命令行）"
    )
    click.echo(f"return {pk} {'drafted' if ctx.settings.returns.review else 'queued'}")


if __name__ == "__main__":  # pragma: no cover
    main()
