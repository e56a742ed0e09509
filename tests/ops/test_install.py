"""The README's install, for real: the wheel in its own venv, `intake init` as root with the
configuration then made read-only, and the worker, the status probe and the console started as a
non-root system user (as root, file permissions stop nothing). A data folder the user may not
write is named, with 78, never a traceback; a restore run as root leaves data the service's user
reads and writes."""

from __future__ import annotations

import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake.dev.samples import Person, Submission, build_message
from tests.conftest import deliver
from tests.servers import require

SERVICE_USER = "intake-ci"


@pytest.fixture(scope="module")
def service_user() -> str:
    require(os.geteuid() == 0, "needs root: makes a system user and runs commands as it")
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER], check=True
        )
    return SERVICE_USER


@pytest.fixture
def base() -> Iterator[Path]:
    """A folder every user may pass through (pytest's own tmp folders are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="intake-install-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def installed() -> Iterator[Path]:
    """The wheel, built from this checkout and installed in a venv of its own, the dependencies
    from this environment (there is no package index here)."""
    folder = Path(tempfile.mkdtemp(prefix="intake-venv-", dir="/tmp"))
    folder.chmod(0o755)
    root = Path(__file__).resolve().parents[2]
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(folder / "dist"), str(root)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = (folder / "dist").glob("intake-*.whl")
    venv = folder / "venv"
    # The system's Python, which every user may run (this checkout's may live in root's home).
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
    done = subprocess.run(
        [*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    yield venv / "bin" / "intake"
    shutil.rmtree(folder, ignore_errors=True)


def _env() -> dict[str, str]:
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent"}


def _as(user: str | None, intake: Path, *args: str, cwd: Path = Path("/")) -> subprocess.CompletedProcess[str]:
    command = [str(intake), *args]
    if user is not None:
        command = ["runuser", "-u", user, "--", *command]
    return subprocess.run(command, capture_output=True, text=True, env=_env(), cwd=cwd, timeout=300)


def _mail(n: int) -> dict[str, bytes]:
    rng = random.Random(n)
    return {
        f"{i}.eml": build_message(
            Submission("北京市", "fgdj-bj@aic.gov.cn", people=[Person(f"张伟{i}", "男", "北京市市场监督管理局")]), rng
        )
        for i in range(n)
    }


def _deployment(intake: Path, base: Path, user: str, name: str) -> tuple[Path, Path]:
    """`init` as root into a configuration folder, the data folder owned by the service's user
    (as `useradd --create-home` leaves its home); filled in for a mailbox on disk; the
    configuration then read-only."""
    etc, data = base / name / "etc", base / name / "data"
    data.mkdir(parents=True)
    (base / name).chmod(0o755)
    shutil.chown(data, user, user)
    made = _as(None, intake, "init", str(etc), "--data", str(data))
    assert made.returncode == 0, made.stderr
    config = etc / "intake.toml"
    text = config.read_text()
    text = text.replace('source = "imap"', 'source = "maildir"', 1)
    text = text.replace("# outbox =", f'outbox = "{data / "outbox"}"', 1)
    text = text.replace('recipients = ["office@placeholder.example"]', 'recipients = ["office@hq.gov.cn"]')
    config.write_text(text)
    campaign = etc / "campaign.toml"
    campaign.write_text(campaign.read_text().replace("@placeholder.example", "@aic.gov.cn"))
    for path in (etc, config, campaign):
        path.chmod(0o555 if path.is_dir() else 0o444)
    return config, data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_init_then_every_service_starts_as_its_own_user(installed: Path, base: Path, service_user: str) -> None:
    config, data = _deployment(installed, base, service_user, "one")
    uid = pwd.getpwnam(service_user).pw_uid
    # What init made in the data folder belongs to the folder's owner, never to root.
    for made in (data / "archive", data / "web-secret"):
        assert made.stat().st_uid == uid, made
    assert len((data / "web-secret").read_bytes().strip()) >= 32
    assert str(data / "archive") in config.read_text()  # absolute data paths, not under the configuration

    deliver(data / "mail" / "inbox", _mail(3))
    subprocess.run(["chown", "-R", f"{service_user}:{service_user}", str(data / "mail")], check=True)
    checked = _as(service_user, installed, "check", "--config", str(config))
    assert "[ ok ] data paths" in checked.stdout, checked.stdout + checked.stderr
    assert "[ ok ] warm LibreOffice" in checked.stdout, checked.stdout  # .ci/run installs python3-uno
    polled = _as(service_user, installed, "poll", "--config", str(config))
    assert polled.returncode == 0, polled.stderr
    assert "new 3, processed 3, failed 0" in polled.stdout, polled.stdout
    status = _as(service_user, installed, "status", "--config", str(config))
    assert status.returncode == 0, status.stdout + status.stderr

    port = _free_port()
    web = subprocess.Popen(
        ["runuser", "-u", service_user, "--", str(installed), "web", "--config", str(config), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd="/",
    )
    try:
        page = None
        deadline = time.monotonic() + 600  # a guard against a hang, not a measure of speed
        while time.monotonic() < deadline:  # until it answers, or has died
            if web.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                    page = r.read().decode()
                break
            except OSError:
                time.sleep(0.1)
        assert page is not None and "登录" in page, web.stderr.read().decode() if web.poll() is not None else ""
    finally:
        web.terminate()
        web.wait(timeout=30)


def test_a_data_folder_the_user_cannot_write_is_named(installed: Path, base: Path, service_user: str) -> None:
    config, data = _deployment(installed, base, service_user, "two")
    shutil.chown(data, "root", "root")
    data.chmod(0o755)
    for path in data.iterdir():
        subprocess.run(["chown", "-R", "root:root", str(path)], check=True)
    for command in ("poll", "status", "reprocess", "export"):
        done = _as(service_user, installed, command, "--config", str(config))
        assert done.returncode == 78, (command, done.returncode, done.stderr)
        assert str(data) in done.stderr and service_user in done.stderr, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
    checked = _as(service_user, installed, "check", "--config", str(config))
    assert checked.returncode == 1 and "[FAIL] data path" in checked.stdout and str(data) in checked.stdout
    assert "Traceback" not in checked.stdout + checked.stderr


def test_restore_as_root_then_reprocess_as_the_service(installed: Path, base: Path, service_user: str) -> None:
    config, data = _deployment(installed, base, service_user, "old")
    deliver(data / "mail" / "inbox", _mail(4))
    subprocess.run(["chown", "-R", f"{service_user}:{service_user}", str(data / "mail")], check=True)
    assert _as(service_user, installed, "poll", "--config", str(config)).returncode == 0
    snapshot = base / "snapshot.tar"
    made = _as(None, installed, "backup", "--config", str(config), str(snapshot))
    assert made.returncode == 0, made.stderr

    new_config, new_data = _deployment(installed, base, service_user, "new")
    restored = _as(None, installed, "restore", "--config", str(new_config), str(snapshot))
    assert restored.returncode == 0 and "restored 4 messages" in restored.stdout, restored.stderr
    uid = pwd.getpwnam(service_user).pw_uid
    owned_by_root = [p for p in new_data.rglob("*") if p.stat().st_uid != uid]
    assert owned_by_root == [], owned_by_root[:5]
    again = _as(service_user, installed, "reprocess", "--config", str(new_config))
    assert again.returncode == 0, again.stderr
    assert "processed 4, failed 0 (submission 4)" in again.stdout, again.stdout
    exported = _as(service_user, installed, "export", "--format", "json", "--config", str(new_config))
    assert exported.returncode == 0 and exported.stdout.count("张伟") >= 4, exported.stderr
