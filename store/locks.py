"""One worker per mailbox: a PostgreSQL advisory lock, or a file lock beside a SQLite database."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout
from sqlalchemy import text
from sqlalchemy.engine import Engine

from store.errors import StoreError


class LockBusy(StoreError):
    """Another worker holds the lock."""


def _key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def worker_lock(engine: Engine, name: str, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the lock for ``name`` while the block runs; LockBusy when it cannot be had in time."""
    if engine.dialect.name == "postgresql":
        with _pg_lock(engine, name, wait_seconds):
            yield
        return
    database = engine.url.database or ""
    base = Path(database) if database and database != ":memory:" else Path(".intake")
    lock_path = base.with_name(f"{base.name}.{_key(name) & 0xFFFFFFFF:08x}.lock")
    lock = FileLock(str(lock_path), mode=0o600)  # private, like the database beside it
    try:
        lock.acquire(timeout=wait_seconds if wait_seconds > 0 else 0.01)
    except Timeout as exc:
        raise LockBusy(f"another worker is already working on {name}") from exc
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _pg_lock(engine: Engine, name: str, wait_seconds: float) -> Iterator[None]:
    key = _key(name)
    conn = engine.connect()
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            conn.commit()
            if got:
                break
            if time.monotonic() >= deadline:
                raise LockBusy(f"another worker is already working on {name}")
            time.sleep(0.5)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()
    finally:
        conn.close()
