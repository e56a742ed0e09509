"""Legacy Office formats: Word 97 .doc, WPS .wps/.et, .xls, RTF, converted by LibreOffice headless.

Each conversion runs with its own LibreOffice profile (two at once would otherwise fight over
one), under a timeout, with a bound on how many run at the same time, and its output is checked.
A conversion that succeeded is kept in a cache by the hash of its input and the converter's
version, so the same bytes (a resent file, a redelivered message, a reprocess) are converted once.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from parsers.conversion import ConversionError, Convert

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
        keep_entry(kept, data)
        return data
    return _convert(binary, payload, source_ext, target, timeout)


def converter(timeout: float, cache: Path | None) -> Convert:
    """What the readers are handed: ``convert`` bound to a timeout and a cache."""

    def run(payload: bytes, source_ext: str, target: str) -> bytes:
        return convert(payload, source_ext, target, timeout=timeout, cache=cache)

    return run


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


# --------------------------------------------------------------------------- a warm LibreOffice

SYSTEM_PYTHON = "/usr/bin/python3"  # the Python that Debian's python3-uno is built for
SOFFICE_BIN = "/usr/lib/libreoffice/program/soffice.bin"
SERVER = Path(__file__).resolve().with_name("office_server.py")
RECYCLE_AFTER = 200  # conversions before a warm LibreOffice is replaced (its memory grows)
START_TIMEOUT = 90.0
FILTERS = {"docx": "MS Word 2007 XML", "xlsx": "Calc MS Excel 2007 XML", "doc": "MS Word 97", "xls": "MS Excel 97"}
SHEET_SOURCES = {"xls", "xlsx", "et"}


class _Unavailable(Exception):
    """The warm LibreOffice cannot be had: convert the one-shot way."""


class WarmOffice:
    """One long-running LibreOffice of this process, driven over UNO by ``office_server.py``
    under the system's Python: conversions in tens of milliseconds instead of a second each.
    Each conversion is still bounded by its timeout (then the whole process group is killed and
    the next conversion starts a new one), the office is replaced after ``recycle_after``
    conversions, and it dies with this process (parent-death signal, and atexit)."""

    def __init__(self, recycle_after: int = RECYCLE_AFTER) -> None:
        self.recycle_after = recycle_after
        self.proc: subprocess.Popen[bytes] | None = None
        self.office_pid: int | None = None
        self.served = 0
        self.profile: str | None = None
        self.starts = 0
        self._lock = threading.Lock()

    @staticmethod
    def possible() -> bool:
        return Path(SYSTEM_PYTHON).exists() and Path(SOFFICE_BIN).exists() and _uno_importable()

    def convert(self, src: Path, out: Path, source_ext: str, target: str, timeout: float) -> None:
        if target == "pdf":
            filter_name: str | None = "calc_pdf_Export" if source_ext in SHEET_SOURCES else "writer_pdf_Export"
        else:
            filter_name = FILTERS.get(target)
        if filter_name is None or source_ext == "html":
            raise _Unavailable(f"no warm filter for {source_ext} → {target}")
        with self._lock:
            if self.proc is None or self.proc.poll() is not None or self.served >= self.recycle_after:
                self.stop()
                self._start()
            assert self.proc is not None and self.proc.stdin is not None
            request = json.dumps({"in": str(src), "out": str(out), "filter": filter_name}) + "\n"
            try:
                self.proc.stdin.write(request.encode())
                self.proc.stdin.flush()
                answer = self._answer(timeout)
            except (OSError, ValueError) as exc:
                self.stop()
                raise _Unavailable(f"the warm LibreOffice went away: {exc}") from exc
            self.served += 1
        if answer is None:
            self.stop()
            raise ConversionError(f"{source_ext.upper()}文件转换超时（{timeout:.0f} 秒），已收存")
        if "error" in answer:
            raise ConversionError(f"{source_ext.upper()}文件无法打开，可能已损坏") from ConversionError(answer["error"])

    def _answer(self, timeout: float) -> dict[str, object] | None:
        """The server's next line, or None past ``timeout``; _Unavailable when it died."""
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise _Unavailable("the warm LibreOffice ended")
        return json.loads(line)  # type: ignore[no-any-return]

    def _start(self) -> None:
        self.profile = tempfile.mkdtemp(prefix="intake-office-")
        env = {"HOME": self.profile, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        try:
            self.proc = subprocess.Popen(
                [SYSTEM_PYTHON, str(SERVER), str(Path(self.profile) / "profile")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # its own group: a time-out kills the office with it
            )
        except OSError as exc:
            self.stop()
            raise _Unavailable(f"cannot start the warm LibreOffice: {exc}") from exc
        _RUNNING.add(self.proc.pid)
        self.starts += 1
        self.served = 0
        try:
            hello = self._answer(START_TIMEOUT)
        except (_Unavailable, ValueError) as exc:
            self.stop()
            raise _Unavailable(f"the warm LibreOffice did not start: {exc}") from exc
        if not hello or not hello.get("ready"):
            self.stop()
            raise _Unavailable(f"the warm LibreOffice did not start: {hello}")
        self.office_pid = int(hello["pid"])  # type: ignore[call-overload]

    def stop(self) -> None:
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    if stream is not None:
                        stream.close()
                except OSError:
                    pass
            _RUNNING.discard(self.proc.pid)
            self.proc = None
            self.office_pid = None
        if self.profile is not None:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None


_WARM: WarmOffice | None = None
_WARM_OFF = False  # the warm path failed to start here: one-shot conversions from now on


def shutdown() -> None:
    """Stop this process's warm LibreOffice and remove its profile (a process ending with
    ``os._exit``, as pool workers do, runs no atexit handler)."""
    if _WARM is not None:
        _WARM.stop()


def warm_office() -> WarmOffice | None:
    """This process's warm LibreOffice (made on first use), or None where it cannot run."""
    global _WARM, _WARM_OFF
    if _WARM_OFF or os.environ.get("INTAKE_OFFICE_ONESHOT"):
        return None
    if _WARM is None:
        if not WarmOffice.possible():
            _WARM_OFF = True
            return None
        _WARM = WarmOffice()
        atexit.register(_WARM.stop)
    return _WARM


def _uno_importable() -> bool:
    try:
        done = subprocess.run([SYSTEM_PYTHON, "-c", "import uno"], capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _convert(binary: str, payload: bytes, source_ext: str, target: str, timeout: float) -> bytes:
    global _WARM_OFF
    office = warm_office()
    if office is not None:
        with tempfile.TemporaryDirectory(prefix="intake-convert-") as tmp:
            src = Path(tmp) / f"input.{source_ext}"
            src.write_bytes(payload)
            out = Path(tmp) / f"output.{target}"
            try:
                office.convert(src, out, source_ext, target, timeout)
                if out.exists() and out.stat().st_size > 0:
                    return out.read_bytes()
            except _Unavailable:
                if office.starts and office.served == 0 and office.proc is None:
                    _WARM_OFF = True  # it never worked here: stop trying
    return _convert_once(binary, payload, source_ext, target, timeout)


def _convert_once(binary: str, payload: bytes, source_ext: str, target: str, timeout: float) -> bytes:
    """One LibreOffice process for one file (the fallback, and what ``html`` always takes)."""
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
