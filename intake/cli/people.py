"""Commands of the office's work: users, corrections, reviews, reminders, returns."""

from __future__ import annotations

import getpass
import os
from datetime import UTC, datetime

import click

from intake.cli.base import Context, config_option, handled, main
from intake.core.errors import ActionError


def command_line_user() -> str:
    """Who acts from the command line, on record: the login name, marked as the command line."""
    return f"{getpass.getuser()}（命令行）"


@main.group()
def user() -> None:
    """Console users.

    \b
    Examples:
        intake user add 张明 --role reviewer
        intake user list
        intake user disable 张明
        intake user passwd 张明 --password-env INTAKE_NEW_PW
    """


def _password(password_env: str | None) -> str:
    if password_env:
        password = os.environ.get(password_env, "")
        if not password:
            raise ActionError(f"environment variable {password_env} is empty or not set")
        return password
    return str(click.prompt("password", hide_input=True, confirmation_prompt=True))


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
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.office.users import add_user

    password = _password(password_env)
    ctx = Context(config)
    add_user(ctx.store(), name, role, password, by=command_line_user())
    click.echo(f"user {name} ({role}) saved")


@user.command("list")
@config_option
@handled
def user_list(config: str | None) -> None:
    """List the console's users: name, role, active or disabled, when added."""
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.office.users import list_users

    ctx = Context(config)
    users = list_users(ctx.store())
    for u in users:
        state = "active" if u.active else "disabled"
        click.echo(f"{u.name}\t{u.role}\t{state}\t{u.created_at:%Y-%m-%d}")
    if not users:
        click.echo("no users: add one with `intake user add NAME --role admin`")


@user.command("disable")
@config_option
@click.argument("name")
@handled
def user_disable(config: str | None, name: str) -> None:
    """Disable a user: they cannot sign in, and every session they have ends at once."""
    _set_active(config, name, False)


@user.command("enable")
@config_option
@click.argument("name")
@handled
def user_enable(config: str | None, name: str) -> None:
    """Enable a disabled user again (with the password they had)."""
    _set_active(config, name, True)


def _set_active(config: str | None, name: str, active: bool) -> None:
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.office.users import set_active

    word = "enabled" if active else "disabled"
    changed = set_active(Context(config).store(), name, active, by=command_line_user())
    click.echo(f"user {name} {word}" if changed else f"user {name} was {word} already")


@user.command("passwd")
@config_option
@click.argument("name")
@click.option("--password-env", default=None, help="Read the new password from this environment variable.")
@handled
def user_passwd(config: str | None, name: str, password_env: str | None) -> None:
    """Set a user's password; every session they have ends.

    \b
    Example:
        INTAKE_NEW_PW=… intake user passwd 张明 --password-env INTAKE_NEW_PW
    """
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.office.users import set_password

    password = _password(password_env)
    set_password(Context(config).store(), name, password, by=command_line_user())
    click.echo(f"password of {name} set; their sessions have ended")


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
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.office.nominees import correct_nominee

    parsed: dict[str, str] = {}
    for item in changes:
        field, sep, value = item.partition("=")
        if not sep:
            raise ActionError(f"expected FIELD=VALUE, got {item!r}")
        parsed[field.strip()] = value
    ctx = Context(config)
    done = correct_nominee(ctx.store(), ctx.settings, nominee_id, parsed, by=by or command_line_user(), reason=reason)
    click.echo("；".join(done) if done else "nothing changed")


@main.command()
@config_option
@click.argument("nominee_id", type=int)
@click.option("--reason", default="", help="What was checked: kept on record with who and when.")
@click.option("--by", default=None, help="Who confirms (default: the login name).")
@handled
def confirm(config: str | None, nominee_id: int, reason: str, by: str | None) -> None:
    """Confirm a nominee's text held for a person's eyes (suspicious_text, read_by_ocr).

    Until then `intake documents` leaves the nominee out of 公示名单 and 通报表扬.

    \b
    Example:
        intake confirm 12 --reason "已核对推荐表原件"
    """
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.office.checks import confirm_nominee

    ctx = Context(config)
    store = ctx.store()
    done = confirm_nominee(store, nominee_id, by=by or command_line_user(), reason=reason)
    click.echo("已确认：" + "、".join(done))


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
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.office.nominees import review_nominee, review_province

    ctx = Context(config)
    actor = by or command_line_user()
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
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.outbox.reminders import plan_reminders, queue_reminders

    ctx = Context(config)
    store, settings, now = ctx.store(), ctx.settings, datetime.now(UTC)
    if dry_run:
        with store.session() as repo:
            plans = plan_reminders(repo, settings, now)
    else:
        plans = queue_reminders(store, settings, now, by=command_line_user())
    for p in plans:
        what = "；".join(p["problems"]) or "尚未报送"
        click.echo(f"{p['province'].name} <{p['to']}>：{what}")
    state = "would be made" if dry_run else ("drafted" if settings.reminders.review else "queued")
    click.echo(f"{len(plans)} reminder(s) {state}")


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
    # Deferred for start-up time: each command loads only the part of the application it needs.
    from intake.office.letters import queue_return

    ctx = Context(config)
    pk = queue_return(ctx.store(), ctx.settings, message_id, reason=reason, by=by or command_line_user())
    click.echo(f"return {pk} {'drafted' if ctx.settings.returns.review else 'queued'}")
