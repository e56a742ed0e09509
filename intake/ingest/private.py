"""Files the service keeps beside the archive (conversions, readings, previews): written whole or
not at all, private to the service's user whatever the umask."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def keep_entry(path: Path, data: bytes) -> str | None:
    """Write a cache entry (``cache/xx/name``) whole or not at all, its folders 0700 whatever the
    umask and the entry 0600. A cache that cannot be written is no error: the reason is returned."""
    tmp: str | None = None
    try:
        if not path.parent.exists():
            for folder in (path.parent.parent, path.parent):
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                with contextlib.suppress(OSError):  # not ours to change: the entries are 0600 still
                    folder.chmod(0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return None
    except OSError as error:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return error.strerror or str(error)
