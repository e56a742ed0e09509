"""Where a deployment keeps its data, and whether the user running a command may write there.

``init`` puts every data path (the database, the archive, the caches beside it, the session key)
under one data folder, by absolute path: ``/var/lib/intake`` for a configuration under ``/etc``,
else the configuration folder's ``var``. Every command that opens the store first tries each
path as the user running it, and a path it cannot write is a configuration error (78) that names
the path, the user and why, never a traceback later. What a command run as root creates in the
data folder is given to the folder's owner, so the service's user can still write it.
"""

from __future__ import annotations

import errno
import getpass
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from intake.core.errors import ConfigError
from intake.core.settings import Settings


def default_data_folder(config_folder: Path) -> Path:
    """``/var/lib/intake`` for a configuration under ``/etc`` (read-only to the services), else
    the configuration folder's ``var``."""
    folder = config_folder.expanduser().absolute()
    return Path("/var/lib/intake") if folder.parts[1:2] == ("etc",) else folder / "var"


@dataclass(frozen=True)
class DataPath:
    setting: str  # the setting that names it
    path: Path
    create: bool  # a folder this deployment makes when missing (else: only written if present)


def sqlite_file(url: str) -> Path | None:
    if url.startswith("sqlite") and ":///" in url:
        rest = url.split(":///", 1)[1].split("?", 1)[0]
        return None if rest in ("", ":memory:") else Path(rest)
    return None


def data_paths(settings: Settings) -> list[DataPath]:
    """The folders this deployment writes, each with the setting that names it."""
    out: list[DataPath] = []
    db = sqlite_file(settings.database.url)
    if db is not None:
        out.append(DataPath("database.url", db.parent, True))
    archive = settings.archive.path
    out.append(DataPath("archive.path", archive, True))
    out.append(DataPath("archive.path (reading cache beside it)", archive.parent / "readings", True))
    out.append(DataPath("archive.path (conversion cache beside it)", archive.parent / "conversions", True))
    out.append(DataPath("web.secret_file", settings.web.secret_file.parent, True))
    if settings.mailbox.source == "maildir" and settings.mailbox.maildir is not None:
        out.append(DataPath("mailbox.maildir", settings.mailbox.maildir, False))
    if settings.smtp.outbox is not None:
        out.append(DataPath("smtp.outbox", settings.smtp.outbox, False))
    if settings.logging.file is not None:
        out.append(DataPath("logging.file", settings.logging.file.parent, True))
    return out


def _owner(path: Path) -> tuple[int, int]:
    """The owner of ``path``, or of its nearest existing ancestor."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    st = probe.stat()
    return st.st_uid, st.st_gid


def make_folder(path: Path, mode: int = 0o700) -> None:
    """``path`` and any missing parents; made by root, each is given to the owner of the folder it
    was made in (the data folder's owner, the service's user), never left to root."""
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    if not missing:
        return
    uid, gid = _owner(probe)
    for folder in reversed(missing):
        folder.mkdir(mode=mode, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(folder, uid, gid)


def own_like(path: Path, folder: Path) -> None:
    """Run as root: ``path`` and everything under it given to ``folder``'s owner."""
    if os.geteuid() != 0 or not path.exists():
        return
    uid, gid = _owner(folder)
    os.chown(path, uid, gid, follow_symlinks=False)
    if path.is_dir() and not path.is_symlink():
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def adopt_database(settings: Settings) -> None:
    """Run as root: a SQLite database (and its journal files) given to its folder's owner, so a
    command run as root never leaves the service a database it cannot write."""
    db = sqlite_file(settings.database.url)
    if db is None:
        return
    for path in (
        db,
        db.with_name(db.name + "-wal"),
        db.with_name(db.name + "-shm"),
        db.with_name(db.name + "-journal"),
    ):
        own_like(path, db.parent)


def adopt_archive(settings: Settings) -> None:
    """Run as root (a restore): the archive and everything in it given to its folder's owner."""
    own_like(settings.archive.path, settings.archive.path.parent)


def why_not_writable(entry: DataPath) -> str | None:
    """None when the user running this may write in ``entry``'s folder (made if it should be);
    else why not, in a few words."""
    path = entry.path
    try:
        if entry.create:
            make_folder(path)
        elif not path.exists():
            return None  # made when first needed; its parent is tried then
        if not path.is_dir():
            return "not a folder"
        fd, name = tempfile.mkstemp(prefix=".write-test-", dir=path)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def unwritable(settings: Settings) -> list[str]:
    """Each data path the user running this may not write, with its setting and why."""
    user = getpass.getuser()
    out = [
        f"{entry.setting}: cannot write {entry.path} as user {user}: {reason}"
        for entry in data_paths(settings)
        if (reason := why_not_writable(entry)) is not None
    ]
    db = sqlite_file(settings.database.url)
    if db is not None and db.exists() and not os.access(db, os.R_OK | os.W_OK):
        out.append(f"database.url: cannot write {db} as user {user}: {os.strerror(errno.EACCES)}")
    return out


def require_writable(settings: Settings) -> None:
    """Every data path writable by the user running this command, or ConfigError (78) naming the
    first that is not."""
    problems = unwritable(settings)
    if problems:
        raise ConfigError(
            f"{problems[0]} (run the command as the service's user, or give it the folder; "
            "`intake check` lists every path)"
        )
