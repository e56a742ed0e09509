"""A warm LibreOffice, driven over UNO: run by the system's Python (the one ``python3-uno`` is built
for), never imported by the application.

    /usr/bin/python3 office_server.py PROFILE_DIR

It starts ``soffice.bin`` headless with its own profile, listening on a pipe, connects to it, then
answers one JSON request per line on stdin with one JSON line on stdout:

    {"in": "/tmp/…/input.doc", "out": "/tmp/…/input.docx", "filter": "MS Word 2007 XML"}
    → {"ok": true}  |  {"error": "…"}

LibreOffice and this server die with the process that started them (the parent-death signal is
set on both). A request that hangs is the caller's to time out: it kills the whole process group.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
import uuid

SOFFICE = "/usr/lib/libreoffice/program/soffice.bin"
RESTART = 81  # soffice.bin's exit status after making a new profile: start it again


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _connect(pipe: str):  # type: ignore[no-untyped-def]
    """The office's Desktop, or None while it is not yet listening."""
    # Deferred: uno and its com.sun.star types exist only in the system Python that runs this script.
    import uno
    from com.sun.star.connection import NoConnectException

    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    try:
        ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
    except NoConnectException:
        return None
    return ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)


# Every mailed document is opened hidden and read-only, its macros never run
# (com.sun.star.document.MacroExecMode.NEVER_EXECUTE) and its links never followed
# (com.sun.star.document.UpdateDocMode.NO_UPDATE).
LOAD = {"Hidden": True, "ReadOnly": True, "MacroExecutionMode": 0, "UpdateDocMode": 0}


def _props(**values):  # type: ignore[no-untyped-def]
    # Deferred: as above, uno's types are there once this script runs under the system Python.
    from com.sun.star.beans import PropertyValue

    out = []
    for k, v in values.items():
        p = PropertyValue()
        p.Name, p.Value = k, v
        out.append(p)
    return tuple(out)


def main() -> int:
    # Deferred: as above.
    import uno

    _die_with_parent()
    profile = sys.argv[1]
    pipe = f"intake-{uuid.uuid4().hex}"
    command = [
        SOFFICE,
        f"-env:UserInstallation=file://{profile}",
        "--headless",
        "--invisible",
        "--norestore",
        "--nolockcheck",
        "--nodefault",
        "--nologo",
        f"--accept=pipe,name={pipe};urp;",
    ]

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent
        )

    if not os.path.isdir(os.path.join(profile, "user")):
        # A new profile made on its own first: soffice.bin would otherwise make it, exit with 81
        # and be started again, which takes a second longer than this does.
        try:
            subprocess.run(
                [*command[:-1], "--terminate_after_init"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
                timeout=60,
            )
        except subprocess.TimeoutExpired:
            pass  # made on the way, below
    office = start()
    deadline = time.monotonic() + 60
    desktop = None
    why = "no answer"
    while desktop is None:
        code = office.poll()
        if code == RESTART:  # the profile was made now after all ("restart", as oosplash knows)
            office = start()
        elif code is not None or time.monotonic() > deadline:
            print(json.dumps({"error": f"LibreOffice did not start (exit status {code}): {why}"}), flush=True)
            office.kill()
            return 1
        try:
            desktop = _connect(pipe)
        except Exception as exc:  # up, but not ready to answer yet
            why = f"{type(exc).__name__}: {exc}"[:300]
        if desktop is None:
            time.sleep(0.05)
    print(json.dumps({"ready": True, "pid": office.pid}), flush=True)
    for line in sys.stdin:
        try:
            job = json.loads(line)
            doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(job["in"]), "_blank", 0, _props(**LOAD))
            if doc is None:
                print(json.dumps({"error": "could not be loaded"}), flush=True)
                continue
            try:
                doc.storeToURL(uno.systemPathToFileUrl(job["out"]), _props(FilterName=job["filter"]))
            finally:
                doc.close(True)
            print(json.dumps({"ok": True}), flush=True)
        except Exception as exc:  # a UNO error on one file: say so, and stay up for the next
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"[:500]}), flush=True)
    office.terminate()
    try:
        office.wait(10)
    except subprocess.TimeoutExpired:
        office.kill()
    return 0


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main())
