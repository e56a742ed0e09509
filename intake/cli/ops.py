"""Commands of running it: web, init, check, status, backup, restore."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from intake.cli.base import Context, config_option, handled, main


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
    # Deferred for start-up time: each command loads only the part of the application it needs.
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
    # Deferred for start-up time: each command loads only the part of the application it needs.
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
@click.option(
    "--data",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The data folder (default: /var/lib/intake for a FOLDER under /etc, else FOLDER/var).",
)
@handled
def init(folder: Path, data: Path | None) -> None:
    """Write a new deployment into FOLDER: intake.toml (every setting, explained; every data path
    absolute, under one data folder) and campaign.toml (the 31 provinces in GB/T 2260 order,
    placeholder quotas and addresses to fill in); make the data folder's archive and session key,
    owned like the data folder.

    \b
    Example:
        intake init /etc/intake && intake check --config /etc/intake/intake.toml
        intake init ./campaign --data /srv/intake
    """
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.ops.init import init as write_deployment

    *written, data_folder = write_deployment(folder, data)
    for path in written:
        click.echo(f"wrote {path}")
    owner = data_folder.stat().st_uid
    click.echo(f"data in {data_folder} (owner uid {owner})")
    if owner == 0 and os.geteuid() == 0:
        click.echo(
            f"note: {data_folder} belongs to root; give it to the service's user: chown -R intake:intake {data_folder}"
        )
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
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.ops.check import check as run_check

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
    # Deferred for start-up time: each command loads only the part of the application it needs.
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
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.ops.backup import restore as load_backup
    from intake.ops.paths import adopt_archive, adopt_database

    ctx = Context(config)
    counts = load_backup(ctx.store(), ctx.settings.archive.path, file)
    # Restored as root: the data is given to the owner of the folder it went into (the service's user).
    adopt_archive(ctx.settings)
    adopt_database(ctx.settings)
    click.echo(f"restored {counts.get('messages', 0)} messages and {counts['blobs']} archived files from {file}")
