"""LibreOffice's processes: where the program is, each run in a process group of its own (a
time-out ends all of it), a bound on how many run at once, and its version."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading

from parsers.conversion import ConversionError

_SLOTS = threading.BoundedSemaphore(2)
_SLOTS_SIZE = 2
_LOCK = threading.Lock()
RUNNING: set[int] = set()  # process groups of conversions under way in this process
_VERSION: str | None = None


def kill_running() -> None:
    """End every conversion this process has under way (its parent is stopping it)."""
    for pgid in list(RUNNING):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
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
    RUNNING.add(proc.pid)
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
        RUNNING.discard(proc.pid)
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


def slots() -> threading.BoundedSemaphore:
    """One-shot conversions at once, as configured (``limits.convert_concurrency``)."""
    return _SLOTS
