"""Commands that read the mailbox: poll, ingest, run, reprocess."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from intake.cli.base import Context, config_option, handled, mailbox_lock, main, wait_option


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
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.core.process import StopFlag
    from intake.jobs.poll import run_once
    from intake.mail.smtp import make_mailer
    from intake.mail.sources import make_source

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
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.core.process import StopFlag
    from intake.jobs.poll import run_once
    from intake.mail.smtp import make_mailer
    from intake.mail.sources.local import FilesSource

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
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.jobs.worker import Worker
    from intake.mail.smtp import make_mailer
    from intake.mail.sources import make_source

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
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.core.process import StopFlag
    from intake.jobs.reprocess import reprocess as run_reprocess
    from intake.mail.sources import make_source

    ctx = Context(config)
    settings = ctx.settings
    store = ctx.store()
    stop = StopFlag()
    stop.install()
    with mailbox_lock(store, make_source(settings).identity, wait):
        result = run_reprocess(store, settings, datetime.now(UTC), stop)
    click.echo(result.line())
