"""A warm LibreOffice: one long-running office of this process, driven over UNO by
``office_server.py`` under the system's Python (Debian's python3-uno): conversions in tens of
milliseconds instead of a second each. It is told never to run macros nor update links."""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from intake.ingest.soffice import RUNNING
from parsers.conversion import ConversionError

SYSTEM_PYTHON = "/usr/bin/python3"  # the Python that Debian's python3-uno is built for
SOFFICE_BIN = "/usr/lib/libreoffice/program/soffice.bin"
SERVER = Path(__file__).resolve().with_name("office_server.py")
RECYCLE_AFTER = 200  # conversions before a warm LibreOffice is replaced (its memory grows)
START_TIMEOUT = 90.0
FILTERS = {"docx": "MS Word 2007 XML", "xlsx": "Calc MS Excel 2007 XML", "doc": "MS Word 97", "xls": "MS Excel 97"}
SHEET_SOURCES = {"xls", "xlsx", "et"}


class Unavailable(Exception):
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
            raise Unavailable(f"no warm filter for {source_ext} → {target}")
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
                raise Unavailable(f"the warm LibreOffice went away: {exc}") from exc
            self.served += 1
        if answer is None:
            self.stop()
            raise ConversionError(f"{source_ext.upper()}文件转换超时（{timeout:.0f} 秒），已收存")
        if "error" in answer:
            raise ConversionError(f"{source_ext.upper()}文件无法打开，可能已损坏") from ConversionError(answer["error"])

    def _answer(self, timeout: float) -> dict[str, object] | None:
        """The server's next line, or None past ``timeout``; Unavailable when it died."""
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise Unavailable("the warm LibreOffice ended")
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
            raise Unavailable(f"cannot start the warm LibreOffice: {exc}") from exc
        RUNNING.add(self.proc.pid)
        self.starts += 1
        self.served = 0
        try:
            hello = self._answer(START_TIMEOUT)
        except (Unavailable, ValueError) as exc:
            self.stop()
            raise Unavailable(f"the warm LibreOffice did not start: {exc}") from exc
        if not hello or not hello.get("ready"):
            self.stop()
            raise Unavailable(f"the warm LibreOffice did not start: {hello}")
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
            RUNNING.discard(self.proc.pid)
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


def give_up() -> None:
    """The warm path never worked here: one-shot conversions from now on."""
    global _WARM_OFF
    _WARM_OFF = True
