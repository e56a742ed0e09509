"""Legacy Office formats (Word 97 .doc, WPS .wps/.et, .xls, RTF, a Word page saved as HTML)
converted by LibreOffice headless, for the readers in ``parsers`` (handed ``converter(…)``).

A warm LibreOffice does the work where it can (``warm``); otherwise each conversion runs a
LibreOffice of its own with its own profile, under a timeout and a bound on how many run at once
(``soffice``). A conversion that succeeded is kept by the hash of its input and the converter's
version, so the same bytes (a resent file, a redelivered message, a reprocess) are converted once.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from tenacity import Retrying, retry_if_result, stop_after_attempt

from intake.ingest import warm
from intake.ingest.private import keep_entry
from intake.ingest.soffice import _run, converter_version, office_binary, slots
from intake.ingest.warm import Unavailable, WarmOffice, warm_office
from parsers.conversion import ConversionError, Convert

__all__ = ["ConversionError", "WarmOffice", "convert", "converter", "office_binary"]


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


def _convert(binary: str, payload: bytes, source_ext: str, target: str, timeout: float) -> bytes:
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
            except Unavailable:
                if office.starts and office.served == 0 and office.proc is None:
                    warm.give_up()  # it never worked here: stop trying
    return _convert_once(binary, payload, source_ext, target, timeout)


def _convert_once(binary: str, payload: bytes, source_ext: str, target: str, timeout: float) -> bytes:
    """One LibreOffice process for one file (the fallback, and what ``html`` always takes)."""
    with slots(), tempfile.TemporaryDirectory(prefix="intake-convert-") as tmp:
        work = Path(tmp)
        src = work / f"input.{source_ext}"
        src.write_bytes(payload)
        out = work / "out"
        out.mkdir()
        _never_run_macros(work / "profile")
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
        def settled(ran: tuple[int, bytes]) -> bool:
            return (result.exists() and result.stat().st_size > 0) or b"could not be loaded" in ran[1]

        code, err = Retrying(
            stop=stop_after_attempt(2),
            retry=retry_if_result(lambda ran: not settled(ran)),
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
        )(_run, cmd, env, timeout, source_ext)
        if not result.exists() or result.stat().st_size == 0:
            lines = err.decode("utf-8", "replace").strip().splitlines()
            why = lines[-1] if lines else f"exit code {code}"
            raise ConversionError(f"{source_ext.upper()}文件无法打开，可能已损坏") from ConversionError(why)
        return result.read_bytes()


# What a new profile holds before LibreOffice first starts: no macro of a mailed document ever
# runs (disabled outright, and the security level at its highest), and no link it names from
# another site is followed. The warm LibreOffice is told the same on every load.
SAFE_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" \
oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" \
oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="BlockUntrustedRefererLinks" \
oor:op="fuse"><value>true</value></prop></item>
</oor:items>
"""


def _never_run_macros(profile: Path) -> None:
    user = profile / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(SAFE_PROFILE, encoding="utf-8")
