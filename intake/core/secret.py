"""The key that signs the console's session cookies: at least 32 random bytes, in a file only
the service's user reads. Made by ``init`` (or on the console's first start), written whole to a
temporary file, synced, then linked into place, so no process ever reads half a key; a shorter
key is refused, since anyone could then sign a session."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from intake.core.errors import ConfigError

SECRET_BYTES = 32


def secret_key(path: Path) -> str:
    """The key in ``path``, made there when missing; ConfigError (78) when it is too short or
    cannot be read or made."""
    key = _read(path)
    return _long_enough(path, key) if key is not None else _new_secret(path)


def existing_key_problem(path: Path) -> str | None:
    """What is wrong with the key already in ``path`` (unreadable, too short), or None; None too
    when there is no key yet (the console makes it). For ``intake check``, which makes nothing."""
    try:
        key = _read(path)
        if key is not None:
            _long_enough(path, key)
    except ConfigError as exc:
        return str(exc)
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"web.secret_file: cannot read {path}: {exc.strerror}") from exc


def _long_enough(path: Path, key: str) -> str:
    if len(key.encode("utf-8")) < SECRET_BYTES:
        raise ConfigError(
            f"web.secret_file: {path} holds {len(key.encode('utf-8'))} bytes, fewer than {SECRET_BYTES}: "
            "anyone could sign a session with it. Remove the file (a new key is made on the next start) "
            "or write one: head -c 48 /dev/urandom | base64 > FILE"
        )
    return key


def _new_secret(path: Path) -> str:
    key = secrets.token_urlsafe(48)  # 48 random bytes, 64 characters
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temporary, path)  # never over a key another process made meanwhile
        except FileExistsError:  # made meanwhile by another process: that one, checked like any
            return _long_enough(path, _read(path) or "")
        finally:
            temporary.unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(f"web.secret_file: cannot create {path}: {exc.strerror}") from exc
    return key
