"""Content-addressed blob store for raw messages and attachments.

A blob lives at ``<root>/<aa>/<bb>/<sha256>``: the name is its hash, never anything taken from a
mail. Writes go to a temporary file in the same folder, are fsynced, renamed into place and the
folder fsynced, so a blob that exists is whole.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from store.errors import StoreError


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _private_dirs(root: Path, leaf: Path) -> None:
    """The archive and its fan-out folders, 0700 whatever the umask (blobs themselves are 0600:
    ``mkstemp`` makes them so)."""
    for folder in (root, leaf.parent, leaf):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if folder == root:
            try:
                folder.chmod(0o700)
            except OSError:
                pass
        elif folder.stat().st_mode & 0o077:
            folder.chmod(0o700)


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise StoreError(f"not a SHA-256 digest: {digest!r}")
        return self.root / digest[:2] / digest[2:4] / digest

    def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its SHA-256 (hex)."""
        digest = sha256_hex(data)
        target = self.path_for(digest)
        if target.exists() and target.stat().st_size == len(data):
            return digest
        try:
            if not target.parent.exists():
                _private_dirs(self.root, target.parent)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            dir_fd = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise StoreError(f"cannot write to the archive at {self.root}: {exc.strerror}") from exc
        return digest

    def get(self, digest: str) -> bytes:
        try:
            return self.path_for(digest).read_bytes()
        except FileNotFoundError as exc:
            raise StoreError(f"blob {digest} is missing from the archive at {self.root}") from exc
        except OSError as exc:
            raise StoreError(f"cannot read blob {digest}: {exc.strerror}") from exc

    def head(self, digest: str, size: int = 1024 * 1024) -> bytes:
        """The first ``size`` bytes of a blob (a message's headers), or nothing when it cannot be read."""
        try:
            with self.path_for(digest).open("rb") as fh:
                return fh.read(size)
        except OSError:
            return b""

    def exists(self, digest: str) -> bool:
        return self.path_for(digest).exists()

    def verify(self, digest: str) -> bool:
        """True when the blob exists and its content still hashes to its name."""
        try:
            return sha256_hex(self.get(digest)) == digest
        except StoreError:
            return False
