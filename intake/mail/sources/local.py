"""Local sources: a Maildir folder (the embedded inbox), and loose .eml, Maildir or mbox for ingest."""

from __future__ import annotations

import mailbox
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from intake.core.errors import MailboxError
from intake.mail.sources.base import FetchedMessage
from store.blobs import sha256_hex


def _maildir_key(name: str) -> str:
    return name.split(":", 1)[0]


class MaildirSource:
    """A Maildir read in place; each message's key is its unique file name."""

    numeric_uids = False

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.identity = f"maildir:{self.path}"

    @contextmanager
    def connect(self) -> Iterator[MaildirSource]:
        for sub in ("new", "cur", "tmp"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)
        yield self

    uidvalidity = 0

    def _entries(self) -> dict[str, Path]:
        out: dict[str, Path] = {}
        for sub in ("cur", "new"):
            try:
                with os.scandir(self.path / sub) as it:
                    for entry in it:
                        if entry.is_file() and not entry.name.startswith("."):
                            out[_maildir_key(entry.name)] = Path(entry.path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise MailboxError(f"cannot read the Maildir {self.path}: {exc.strerror}") from exc
        return out

    def search_new(self, after_uid: int, known: Callable[[], set[str]]) -> list[str]:
        entries = self._entries()
        seen = known()
        return sorted(k for k in entries if k not in seen)

    def fetch(self, uids: list[str]) -> Iterator[FetchedMessage]:
        entries = self._entries()
        for uid in uids:
            path = entries.get(uid)
            if path is None:
                continue
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                continue  # moved by its client between listing and reading: next poll finds it
            except OSError as exc:
                raise MailboxError(f"cannot read {path}: {exc.strerror}") from exc
            yield FetchedMessage(uid=uid, raw=raw, internaldate=None)


class FilesSource:
    """Loose ``.eml`` files, folders of them, Maildir folders and mbox files, for ``intake ingest``.

    A message's key is the hash of its bytes, so ingesting the same file twice does nothing. Only
    the keys are kept between the search and the fetch: each message is read again when fetched.
    """

    numeric_uids = False
    uidvalidity = 0
    identity = "ingest"

    def __init__(self, paths: list[Path]) -> None:
        self.paths = [Path(p) for p in paths]
        self._where: dict[str, tuple[Path, str | None]] | None = None

    @contextmanager
    def connect(self) -> Iterator[FilesSource]:
        yield self

    def _index(self) -> dict[str, tuple[Path, str | None]]:
        if self._where is None:
            found: dict[str, tuple[Path, str | None]] = {}
            for path in self.paths:
                if not path.exists():
                    raise MailboxError(f"no such file or folder: {path}")
                for where, raw in _read_path(path):
                    found.setdefault(sha256_hex(raw), where)
            self._where = found
        return self._where

    def search_new(self, after_uid: int, known: Callable[[], set[str]]) -> list[str]:
        seen = known()
        return [k for k in self._index() if k not in seen]

    def fetch(self, uids: list[str]) -> Iterator[FetchedMessage]:
        index = self._index()
        boxes: dict[Path, mailbox.mbox] = {}  # each mbox opened (and its table of contents read) once
        try:
            for uid in uids:
                if uid not in index:
                    continue
                path, key = index[uid]
                try:
                    if key is None:
                        raw = path.read_bytes()
                    else:
                        if path not in boxes:
                            boxes[path] = mailbox.mbox(str(path), create=False)
                        raw = boxes[path].get_bytes(key)
                except (OSError, KeyError) as exc:
                    raise MailboxError(f"cannot read {path}: {exc}") from exc
                yield FetchedMessage(uid=uid, raw=raw, internaldate=None)
        finally:
            for box in boxes.values():
                box.close()


def _is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def _is_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(5) == b"From "
    except OSError:
        return False


Where = tuple[Path, str | None]  # a file, and the message's key inside an mbox


def _read_path(path: Path) -> Iterator[tuple[Where, bytes]]:
    try:
        if _is_maildir(path):
            for sub in ("cur", "new"):
                for f in sorted((path / sub).iterdir()):
                    if f.is_file() and not f.name.startswith("."):
                        yield (f, None), f.read_bytes()
        elif path.is_dir():
            for f in sorted(path.rglob("*")):
                if not f.is_file() or f.name.startswith("."):
                    continue
                if _is_mbox(f):
                    yield from _read_mbox(f)
                elif f.suffix.lower() == ".eml" or (f.suffix == "" and _looks_like_message(f)):
                    yield (f, None), f.read_bytes()
        elif _is_mbox(path):
            yield from _read_mbox(path)
        else:
            yield (path, None), path.read_bytes()
    except OSError as exc:
        raise MailboxError(f"cannot read {path}: {exc.strerror}") from exc


def _looks_like_message(path: Path) -> bool:
    """A file with no extension is read as a message when it starts with a header line."""
    try:
        with path.open("rb") as fh:
            head = fh.read(256)
    except OSError:
        return False
    return re.match(rb"^[A-Za-z][A-Za-z0-9-]{1,60}:[ \t]", head) is not None


def _read_mbox(path: Path) -> Iterator[tuple[Where, bytes]]:
    box = mailbox.mbox(str(path), create=False)
    try:
        for key in box.iterkeys():
            yield (path, key), box.get_bytes(key)
    finally:
        box.close()
