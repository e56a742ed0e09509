"""The ``intake`` command line, shared by every command: each command builds its objects, calls one function, and turns
an application error into a one-line message and a non-zero exit."""

from __future__ import annotations

import getpass
import logging
import sys
from collections.abc import Callable
from functools import wraps
from logging.handlers import RotatingFileHandler
from typing import Any, TypeVar

import click

from intake.core.errors import EX_CONFIG, EX_USAGE, HANDLED_ERRORS, ConfigError, LockError, exit_status
from intake.core.settings import Settings, load_settings
from store.locks import LockBusy, worker_lock
from store.repo import Store

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
    root = logging.getLogger()
    if any(isinstance(h, RotatingFileHandler) for h in root.handlers):
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingFileHandler(
            target, maxBytes=settings.logging.max_bytes, backupCount=settings.logging.backups, encoding="utf-8"
        )
    except OSError as exc:
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
        except PermissionError as exc:
            # A path this command must write and may not: configuration (the deployment's owner
            # and modes), named, never a traceback.
            where = exc.filename or "a data path"
            click.echo(f"intake: cannot write {where} as user {getpass.getuser()}: {exc.strerror}", err=True)
            logging.getLogger("intake").debug("permission denied: %s", where, exc_info=exc)
            sys.exit(EX_CONFIG)

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

    def store(self) -> Store:
        """The database and archive, once every data path is known to be writable by the user
        running this (else 78, naming the path)."""
        # Deferred for start-up time: each command loads only the part of the application it needs.
        from intake.ops.paths import adopt_database, require_writable

        s = self.settings
        require_writable(s)
        store = Store(s.database.url, s.archive.path)
        adopt_database(s)
        return store


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


def mailbox_lock(store: Store, identity: str, wait: float) -> Any:
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
