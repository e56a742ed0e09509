"""``intake backup FILE`` and ``intake restore FILE``: the database and the archive in one file.

The database is read in one snapshot while the worker goes on (a copy made with SQLite's online
backup; a REPEATABLE READ, read-only transaction on PostgreSQL), table by table, as JSON lines, so
a backup made on SQLite restores into PostgreSQL and the other way round. Blobs are immutable and
written before the rows that name them, so taking them after the snapshot gives every blob the
snapshot needs. The file is a tar: ``manifest.json``, ``database/<table>.jsonl``, ``archive/…``.
Previews and the conversion cache are left out: they are made again on demand.

Restore goes into an empty deployment only, checks every blob's hash as it lands, and keeps every
id (messages, nominees, corrections and reviews keep pointing at each other).
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import Connection, Engine

from intake.core.errors import ActionError, ConfigError
from store.blobs import BlobStore, sha256_hex
from store.db import HEAD, current_revision, known_revisions
from store.models import Base, Message
from store.repo import Store

FORMAT = "intake-backup/1"


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


@contextmanager
def _snapshot(store: Store) -> Iterator[Connection]:
    """A connection that sees one consistent state of the database while others write."""
    engine = store.engine
    if engine.dialect.name == "sqlite":
        # The online backup API copies a consistent image page by page; read that copy.
        with tempfile.TemporaryDirectory(prefix="intake-backup-") as tmp:
            copy = Path(tmp) / "snapshot.db"
            raw = engine.raw_connection()
            try:
                target = sqlite3.connect(copy)
                raw.driver_connection.backup(target)  # type: ignore[union-attr]
                target.close()
            finally:
                raw.close()
            snap = create_engine(f"sqlite:///{copy}")
            try:
                with snap.connect() as conn:
                    yield conn
            finally:
                snap.dispose()
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield conn
        finally:
            conn.rollback()


def backup(store: Store, archive: Path, target: Path) -> dict[str, int]:
    """Write the backup to ``target`` (atomically: a partial file never takes its name)."""
    counts: dict[str, int] = {}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with tarfile.open(tmp, "w") as tar:
            with _snapshot(store) as conn:
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                for table in Base.metadata.sorted_tables:
                    buf = io.BytesIO()
                    n = 0
                    for row in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings():
                        line = json.dumps({k: _encode(v) for k, v in row.items()}, ensure_ascii=False)
                        buf.write(line.encode("utf-8") + b"\n")
                        n += 1
                    _add(tar, f"database/{table.name}.jsonl", buf.getvalue())
                    counts[table.name] = n
            blobs = 0
            if archive.exists():
                for path in sorted(archive.rglob("*")):
                    if path.is_file() and not path.name.startswith(".tmp-"):
                        tar.add(path, arcname=f"archive/{path.relative_to(archive).as_posix()}", recursive=False)
                        blobs += 1
            counts["blobs"] = blobs
            manifest = {"format": FORMAT, "revision": revision, "made_at": datetime.now().isoformat(), "counts": counts}
            _add(tar, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
        tmp.chmod(0o600)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return counts


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(datetime.now().timestamp())
    tar.addfile(info, io.BytesIO(data))


def restore(store: Store, archive: Path, source: Path) -> dict[str, int]:
    """Load ``source`` into this deployment, which must be empty (no message, no blob)."""
    engine = store.engine
    with store.session() as repo:
        if repo.s.scalar(select(func.count(Message.id))):
            raise ActionError("restore goes into an empty deployment: this database already holds messages")
    if archive.exists() and any(p.is_file() for p in archive.rglob("*")):
        raise ActionError(f"restore goes into an empty deployment: the archive {archive} is not empty")
    try:
        tar = tarfile.open(source, "r")
    except (OSError, tarfile.TarError) as exc:
        raise ConfigError(f"{source}: not a backup made by intake backup ({exc})") from exc
    with tar:
        try:
            manifest = json.loads(_read(tar, "manifest.json"))
        except (KeyError, ValueError) as exc:
            raise ConfigError(f"{source}: not a backup made by intake backup (no manifest)") from exc
        if manifest.get("format") != FORMAT:
            raise ConfigError(f"{source}: backup format {manifest.get('format')!r} is not {FORMAT!r}")
        revision = manifest.get("revision")
        if revision not in known_revisions():
            raise ConfigError(f"{source}: made by a newer version (schema {revision}, this one knows up to {HEAD})")
        if current_revision(engine) != HEAD:
            raise ConfigError("the database is not at this version's schema: run any command once first")
        counts = _load_tables(engine, tar)
        counts["blobs"] = _load_blobs(tar, archive)
    return counts


def _read(tar: tarfile.TarFile, name: str) -> bytes:
    member = tar.extractfile(name)
    if member is None:
        raise KeyError(name)
    return member.read()


def _load_tables(engine: Engine, tar: tarfile.TarFile) -> dict[str, int]:
    counts: dict[str, int] = {}
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
        for table in Base.metadata.sorted_tables:
            try:
                data = _read(tar, f"database/{table.name}.jsonl")
            except KeyError:
                counts[table.name] = 0
                continue
            conn.execute(table.delete())  # rows a fresh schema may have made (none expected)
            decoders = {c.name: _decoder(c.type) for c in table.columns}
            rows = []
            for line in data.splitlines():
                raw = json.loads(line)
                rows.append({k: decoders[k](v) if k in decoders else v for k, v in raw.items() if k in decoders})
            for start in range(0, len(rows), 500):
                conn.execute(insert(table), rows[start : start + 500])
            counts[table.name] = len(rows)
            if engine.dialect.name == "postgresql" and "id" in table.columns and rows:
                # Ids were restored as they were: the sequence goes on after the largest.
                sequence = f"pg_get_serial_sequence('{table.name}', 'id')"
                conn.execute(text(f"SELECT setval({sequence}, (SELECT max(id) FROM {table.name}))"))
    return counts


def _decoder(column_type: Any) -> Any:
    python_type = None
    for candidate in (column_type, getattr(column_type, "impl", None)):  # a TypeDecorator: its impl
        try:
            python_type = candidate.python_type if candidate is not None else None
        except NotImplementedError:
            continue
        if python_type not in (None, object):
            break
    if python_type is datetime:
        return lambda v: datetime.fromisoformat(v) if isinstance(v, str) else v
    if python_type is date:
        return lambda v: date.fromisoformat(v) if isinstance(v, str) else v
    if python_type is time:
        return lambda v: time.fromisoformat(v) if isinstance(v, str) else v
    if python_type is bytes:
        return lambda v: bytes.fromhex(v) if isinstance(v, str) else v
    return lambda v: v


def _load_blobs(tar: tarfile.TarFile, archive: Path) -> int:
    blobs = BlobStore(archive)
    n = 0
    for member in tar:
        if not member.name.startswith("archive/") or not member.isfile():
            continue
        digest = member.name.rsplit("/", 1)[-1]
        handle = tar.extractfile(member)
        if handle is None:
            continue
        data = handle.read()
        if sha256_hex(data) != digest:
            raise ConfigError(f"backup damaged: {member.name} does not match its hash")
        blobs.put(data)
        n += 1
    return n
