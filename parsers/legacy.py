"""Legacy Office formats: Word 97 .doc, WPS .wps/.et, .xls, RTF, converted by LibreOffice headless.

Each conversion runs with its own LibreOffice profile (two at once would otherwise fight over
one), under a timeout, with a bound on how many run at the same time, and its output is checked.
A conversion that succeeded is kept in a cache by the hash of its input and the converter's
version, so the same bytes (a resent file, a redelivered message, a reprocess) are converted once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

_SLOTS = threading.BoundedSemaphore(2)
_SLOTS_SIZE = 2
_LOCK = threading.Lock()
_RUNNING: set[int] = set()  # process groups of conversions under way in this process


def kill_running() -> None:
    """End every conversion this process has under way (its parent is stopping it)."""
    for pgid in list(_RUNNING):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


class ConversionError(Exception):
    pass


def set_concurrency(n: int) -> None:
    global _SLOTS, _SLOTS_SIZE
    with _LOCK:
        if n != _SLOTS_SIZE:
            _SLOTS = threading.BoundedSemaphore(max(1, n))
            _SLOTS_SIZE = n


def office_binary() -> str | None:
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(cmd: list[str], env: dict[str, str], timeout: float, source_ext: str) -> tuple[int, bytes]:
    """Run LibreOffice in a process group of its own, so that a time-out ends all of it (the
    ``soffice`` script, ``oosplash`` and ``soffice.bin``), not only the script."""
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    except OSError as exc:
        raise ConversionError(f"文档转换组件无法启动，{source_ext.upper()}文件暂无法读取，已收存") from exc
    _RUNNING.add(proc.pid)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        raise ConversionError(f"{source_ext.upper()}文件转换超时（{timeout:.0f} 秒），已收存") from exc
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        _kill_group(proc, only_leftovers=True)
        _RUNNING.discard(proc.pid)
    return proc.returncode, err or out


def _kill_group(proc: subprocess.Popen[bytes], *, only_leftovers: bool = False) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if not only_leftovers:
        proc.communicate()


def converter_version() -> str:
    """LibreOffice's version line, read once per process (part of every cache key)."""
    global _VERSION
    if _VERSION is None:
        binary = office_binary()
        _VERSION = "none"
        if binary is not None:
            try:
                done = subprocess.run([binary, "--version"], capture_output=True, timeout=60, start_new_session=True)
                _VERSION = done.stdout.decode("utf-8", "replace").strip() or "unknown"
            except (OSError, subprocess.SubprocessError):
                _VERSION = "unknown"
    return _VERSION


_VERSION: str | None = None


def _cache_path(cache: Path, payload: bytes, source_ext: str, target: str) -> Path:
    key = hashlib.sha256(payload).hexdigest()
    version = hashlib.sha256(converter_version().encode()).hexdigest()[:12]
    return cache / key[:2] / f"{key}.{source_ext}.{version}.{target}"


def convert(
    payload: bytes, source_ext: str, target: str, *, timeout: float = 120.0, cache: Path | None = None
) -> bytes:
    """Convert ``payload`` (a file of type ``source_ext``) to ``target`` ("docx", "xlsx", "pdf").
    With ``cache``, a conversion of the same bytes by the same LibreOffice is read from there."""
    binary = office_binary()
    if binary is None:
        raise ConversionError(f"本系统未安装文档转换组件，{source_ext.upper()}文件暂无法读取，已收存")
    if cache is not None:
        kept = _cache_path(cache, payload, source_ext, target)
        try:
            return kept.read_bytes()
        except OSError:
            pass
        data = _convert(binary, payload, source_ext, target, timeout)
        _keep(kept, data)
        return data
    return _convert(binary, payload, source_ext, target, timeout)


def _keep(path: Path, data: bytes) -> None:
    """Write a cache entry whole or not at all (a cache that cannot be written is no error)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError:
        pass


def _convert(binary: str, payload: bytes, source_ext: str, target: str, timeout: float) -> bytes:
    with _SLOTS, tempfile.TemporaryDirectory(prefix="intake-convert-") as tmp:
        work = Path(tmp)
        src = work / f"input.{source_ext}"
        src.write_bytes(payload)
        out = work / "out"
        out.mkdir()
        profile = (work / "profile").as_uri()
        # A web page opens in Writer/Web, which cannot save .docx: open it as a Writer document.
        infilter = ["--infilter=HTML (StarWriter)"] if source_ext == "html" else []
        target_spec = {"docx": "docx:MS Word 2007 XML", "xlsx": "xlsx:Calc MS Excel 2007 XML"}.get(target, target)
        cmd = [
            binary,
            *infilter,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            target_spec,
            "--outdir",
            str(out),
            str(src),
        ]
        env = {"HOME": tmp, "PATH": "/usr/bin:/bin:/usr/local/bin", "LANG": "C.UTF-8"}
        result = out / f"input.{target}"
        # A LibreOffice that has just made its profile now and then exits without converting: one
        # more try, with the profile now made, tells that apart from a file it cannot read.
        for _attempt in range(2):
            code, err = _run(cmd, env, timeout, source_ext)
            if (result.exists() and result.stat().st_size > 0) or b"could not be loaded" in err:
                break
        if not result.exists() or result.stat().st_size == 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            why = lines[-1] if lines else f"exit code {code}"
            raise ConversionError(f"{source_ext.upper()}文件无法打开，可能已损坏") from ConversionError(why)
        return result.read_bytes()
