"""Engines, sessions and migrations."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from store.errors import SchemaTooNew, StoreError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The newest revision in migrations/versions (a test keeps the two in step): a database already
# there is used as it is, without loading Alembic at every start.
HEAD = "0014"


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    try:
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[1] if ":///" in url else ""
            if path and path != ":memory:":
                private_file(Path(path))
            engine = create_engine(url, connect_args={"timeout": 60})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA synchronous=FULL")
                cur.close()

            return engine
        return create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StoreError(f"database url not usable: {exc}") from exc


def private_dir(path: Path) -> None:
    """A folder only the service's user can enter (0700), whatever the umask. Folders that exist
    already are left as they are, except the one named (the deployment's own)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        path.chmod(0o700)
    except OSError:
        pass  # not ours to change (a shared mount): the files inside are still private


def private_file(path: Path) -> None:
    """The database (names, phones, tracebacks) readable by the service's user only: created 0600
    before SQLite opens it; SQLite gives its -wal and -shm files the same mode."""
    if not path.parent.exists():
        private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    os.close(fd)
    try:
        path.chmod(0o600)
    except OSError:
        pass


def alembic_config():  # type: ignore[no-untyped-def]
    # Deferred for start-up time: Alembic is loaded only when a schema has to be made or changed.
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent). A database at a revision this code
    does not know was upgraded by a newer version: it is left as it is (SchemaTooNew)."""
    revision = current_revision(engine)
    if revision == HEAD:
        return
    if revision is not None and revision not in known_revisions():
        raise SchemaTooNew(
            f"the database is at schema revision {revision}, newer than this version of intake knows "
            f"(up to {HEAD}): upgrade intake, or restore a backup made by this version"
        )
    # Deferred for start-up time, as above.
    from alembic import command

    cfg = alembic_config()
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Two workers starting at once must not both create the tables.
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except SQLAlchemyError as exc:
        raise StoreError(f"database unavailable or refused the schema: {_short(exc)}") from exc


def known_revisions() -> set[str]:
    return {p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py")}


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None  # no schema yet, or the database is not reachable: migrate() says which


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
