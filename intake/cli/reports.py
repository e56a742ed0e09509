"""Commands that show and issue: summary, export, documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from intake.cli.base import Context, config_option, handled, main
from intake.core.errors import ConfigError, IntakeError


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
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.jobs.daily import send_daily_summary
    from intake.mail.smtp import make_mailer
    from intake.reports.summary import build_summary, print_summary
    from intake.reports.summary_book import write_workbook

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
            raise IntakeError(f"cannot write {xlsx}: {exc.strerror}") from exc
        click.echo(f"workbook written to {xlsx}")
    if send:
        if not settings.summary.recipients:
            raise ConfigError("summary.recipients is empty: nobody to send the summary to")
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
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.reports.export import export_data

    ctx = Context(config)
    store = ctx.store()
    with store.session() as repo:
        data = export_data(repo, ctx.settings)
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@main.command()
@config_option
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True)
@handled
def documents(config: str | None, out: Path) -> None:
    """Write 审核名单.xlsx, 公示名单.docx and 通报表扬.docx from the review states, each Word
    document from the office's template (templates/gongshi.docx, templates/tongbao.docx) and with
    a PDF beside it where LibreOffice is installed.

    \b
    Example:
        intake documents --out 文件/
    """
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.reports.documents import collect, documents, with_pdfs, withheld, write

    ctx = Context(config)
    store = ctx.store()
    with store.session() as repo:
        everyone = collect(repo, ctx.settings)
    docs = documents(everyone, ctx.settings, datetime.now(UTC).astimezone(ctx.settings.campaign.tz).date())
    held = withheld(everyone)
    for path in write(docs, out):
        click.echo(f"written {path}")
    for path in write(with_pdfs(docs, ctx.settings.limits.convert_timeout_seconds), out):
        click.echo(f"written {path}")
    for province, entry in held:
        click.echo(
            f"未列入公示名单和通报表扬：{province} {entry.name}（编号 {entry.id}，{'、'.join(entry.held)}，"
            f"确认后列入：intake confirm {entry.id}）"
        )
