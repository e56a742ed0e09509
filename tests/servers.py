"""Real servers for the tests: Dovecot on a free loopback port, aiosmtpd, a fresh PostgreSQL database."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip locally when a real server is missing; in CI that is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI must run everything: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
shutdown_clients = yes
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{root}/mail/%u
first_valid_uid = 1
mail_uid = nobody
mail_gid = nogroup
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
  }}
}}
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    user: str = "gsfgdj@126.com"
    password: str = "authcode-123"
    process: subprocess.Popen[bytes] | None = None
    config: Path = field(init=False)

    def __post_init__(self) -> None:
        self.config = self.root / "dovecot.conf"

    def write_config(self) -> None:
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.config.write_text(DOVECOT_CONF.format(root=self.root, port=self.port))
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        shutil.chown(self.root / "mail", "nobody", "nogroup")
        shutil.chown(self.root / "home", "nobody", "nogroup")
        os.chmod(self.root / "passwd", 0o644)

    def start(self) -> None:
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        self.process = subprocess.Popen(
            [binary, "-F", "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_port(self.port)
        except RuntimeError:
            self.stop()
            log = (
                (self.root / "dovecot.log").read_text(errors="replace") if (self.root / "dovecot.log").exists() else ""
            )
            raise RuntimeError(f"Dovecot did not start: {log[-2000:]}") from None

    def stop(self) -> None:
        """Stop the server and every process it started: open client connections drop too."""
        if self.process is None:
            return
        children = _descendants(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        # Wait for the port to be released so a restart can bind it again.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    time.sleep(0.05)
            except OSError:
                return

    def client(self):  # type: ignore[no-untyped-def]
        from imapclient import IMAPClient

        c = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        c.login(self.user, self.password)
        return c

    def append(self, messages: list[bytes], folder: str = "INBOX", when: object = None) -> None:
        c = self.client()
        try:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            for raw in messages:
                c.append(folder, raw, msg_time=when)
        finally:
            c.logout()

    def mailbox_settings(self, **over: object) -> dict[str, object]:
        return {
            "source": "imap",
            "host": "127.0.0.1",
            "port": self.port,
            "security": "none",
            "username": self.user,
            "password_env": "INTAKE_TEST_IMAP_PASSWORD",
            "folder": "INBOX",
            **over,
        }


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    out: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        for child, parent in parents.items():
            if parent == current:
                out.append(child)
                frontier.append(child)
    return out


def start_dovecot() -> Dovecot:
    require(
        shutil.which("dovecot") is not None or Path("/usr/sbin/dovecot").exists(),
        "Dovecot is not installed (apt-get install dovecot-imapd)",
    )
    require(os.geteuid() == 0, "Dovecot tests run as root (Dovecot drops to the dovecot/dovenull users)")
    root = Path(tempfile.mkdtemp(prefix="intake-dovecot-"))
    os.chmod(root, 0o755)
    d = Dovecot(root=root, port=free_port())
    d.write_config()
    d.start()
    return d


# --------------------------------------------------------------------------- SMTP


@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    data: bytes

    @property
    def message(self):  # type: ignore[no-untyped-def]
        return message_from_bytes(self.data)


class RecordingHandler:
    """aiosmtpd handler that keeps what it receives and can be told to answer with an error."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.reply: str | None = None  # e.g. "451 4.3.0 try later" for every DATA
        self.rcpt_reply: str | None = None
        self.drop_during_data = False

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.drop_during_data:
            server.transport.close()
            return "421 closing"
        if self.reply:
            return self.reply
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted"


def start_smtp():  # type: ignore[no-untyped-def]
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, handler, port


# --------------------------------------------------------------------------- PostgreSQL

PG_ADMIN = os.environ.get("INTAKE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def create_pg_database() -> str:
    import psycopg

    name = f"intake_test_{uuid.uuid4().hex[:10]}"
    dsn = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        require(False, f"PostgreSQL not reachable at {dsn}: {exc}".splitlines()[0])
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    dsn = PG_ADMIN.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
