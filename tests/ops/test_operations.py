"""Running it for real: exit statuses a supervisor and a script can act on, servers that refuse or
never answer, a worker that stops on what retrying cannot fix."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from intake.core.errors import (
    EX_CONFIG,
    EX_NOPERM,
    EX_TEMPFAIL,
    EX_UNAVAILABLE,
    EX_USAGE,
    MailboxUnavailable,
    SmtpUnavailable,
)
from intake.core.settings import load_settings
from store.locks import worker_lock
from store.repo import Store
from tests.conftest import cli_env, deliver, embedded_config, run_intake
from tests.servers import Dovecot, free_port, require


def _imap_at(port: int) -> dict[str, object]:
    """An IMAP mailbox on a loopback port (nothing there, or a server that never speaks), with
    a 2-second timeout; its password in OPS_IMAP_PW."""
    return {
        "source": "imap",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": "office",
        "password_env": "OPS_IMAP_PW",
        "timeout_seconds": 2,
    }


def test_usage_errors_exit_64(tmp_path: Path) -> None:
    cfg = embedded_config(tmp_path)
    bad_option = run_intake("poll", "--no-such-option", config=cfg, cwd=tmp_path)
    assert bad_option.returncode == EX_USAGE, bad_option.stderr
    unknown_id = run_intake("review", "999999", "--state", "approved", config=cfg, cwd=tmp_path)
    assert unknown_id.returncode == EX_USAGE and "Traceback" not in unknown_id.stderr, unknown_id.stderr


def test_configuration_errors_exit_78(tmp_path: Path) -> None:
    cfg = embedded_config(tmp_path)
    cfg.write_text(cfg.read_text() + "\n[limits]\nno_such_limit = 1\n")
    done = run_intake("poll", config=cfg, cwd=tmp_path)
    assert done.returncode == EX_CONFIG and "no_such_limit" in done.stderr, done.stderr


def test_a_database_newer_than_the_code_exits_78_and_is_left_alone(tmp_path: Path) -> None:
    cfg = embedded_config(tmp_path)
    assert run_intake("export", config=cfg, cwd=tmp_path).returncode == 0
    db = sqlite3.connect(tmp_path / "intake.db")
    db.execute("UPDATE alembic_version SET version_num = '9999'")
    db.commit()
    db.close()
    done = run_intake("poll", config=cfg, cwd=tmp_path)
    assert done.returncode == EX_CONFIG and "newer" in done.stderr, done.stderr
    db = sqlite3.connect(tmp_path / "intake.db")
    assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("9999",)
    db.close()


def test_another_worker_on_the_mailbox_exits_75(tmp_path: Path) -> None:
    cfg = embedded_config(tmp_path)
    settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)
    with worker_lock(store.engine, f"maildir:{tmp_path / 'inbox'}"):
        done = run_intake("poll", config=cfg, cwd=tmp_path)
    assert done.returncode == EX_TEMPFAIL and "try again later" in done.stderr, done.stderr


def test_no_imap_server_exits_69(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    cfg = embedded_config(
        tmp_path,
        mailbox=_imap_at(port),
    )
    done = run_intake("poll", config=cfg, cwd=tmp_path, env=cli_env(OPS_IMAP_PW="x"))
    assert done.returncode == EX_UNAVAILABLE and "cannot reach IMAP server" in done.stderr, done.stderr


def test_refused_password_exits_77_and_the_worker_stops(tmp_path: Path, dovecot: Dovecot) -> None:
    cfg = embedded_config(tmp_path, mailbox=dovecot.mailbox_settings(password_env="OPS_IMAP_PW"))
    wrong = cli_env(OPS_IMAP_PW="not-the-password")
    done = run_intake("poll", config=cfg, cwd=tmp_path, env=wrong)
    assert done.returncode == EX_NOPERM and "login refused" in done.stderr, done.stderr
    # `intake run` does not keep trying a refused password forever: it stops with the same status.
    worker = run_intake("run", config=cfg, cwd=tmp_path, env=wrong, timeout=120)
    assert worker.returncode == EX_NOPERM, worker.stderr
    assert "stopping" in worker.stderr and "login refused" in worker.stderr


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback listener that accepts every connection and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not done.is_set():
            try:
                conn, _ = sock.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    done.set()
    thread.join()
    for conn in held:
        conn.close()
    sock.close()


def test_a_silent_imap_server_fails_the_poll_within_its_timeout(tmp_path: Path, silent_server: int) -> None:
    from datetime import UTC, datetime

    from intake.jobs.poll import run_once
    from intake.mail.sources.imap import ImapSource

    cfg = embedded_config(
        tmp_path,
        mailbox=_imap_at(silent_server),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPS_IMAP_PW", "x")
        settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)

    class Counting(ImapSource):
        """The real source, counting the connections it opens."""

        opened = 0

        def _client(self):  # type: ignore[no-untyped-def]
            Counting.opened += 1
            return super()._client()

    # The failure this guards against took 9 to 25 times the timeout: retries of a silent
    # connection. One connection, failed by its timeout, is the poll's whole cost.
    with pytest.raises(MailboxUnavailable, match="no answer within the timeout"):
        run_once(Counting(settings.mailbox), store, settings, datetime.now(UTC))
    assert Counting.opened == 1


def test_a_silent_smtp_server_fails_within_its_timeout_and_the_rest_wait(tmp_path: Path, silent_server: int) -> None:
    """Three receipts due and an SMTP server that never answers: one timeout, not three, and all
    three wait for the next run with no attempt counted against them."""
    import random
    from datetime import UTC, datetime

    from intake.dev.samples import Person, Submission, build_message
    from intake.jobs.poll import run_once
    from intake.mail.smtp import make_mailer
    from intake.mail.sources.local import FilesSource

    cfg = embedded_config(
        tmp_path,
        smtp={"host": "127.0.0.1", "port": silent_server, "security": "none", "username": "", "timeout_seconds": 2},
    )
    cfg.write_text(cfg.read_text().replace(f'outbox = "{tmp_path / "outbox"}"\n', ""))
    settings = load_settings(cfg)
    assert settings.smtp.outbox is None
    rng = random.Random(3)
    paths = []
    for i, (code, name) in enumerate([("bj", "北京市"), ("tj", "天津市"), ("he", "河北省")]):
        sub = Submission(name, f"fgdj-{code}@aic.example.cn", people=[Person(f"张{i}", "男", f"{name}市场监督管理局")])
        path = tmp_path / f"{code}.eml"
        path.write_bytes(build_message(sub, rng))
        paths.append(path)
    store = Store(settings.database.url, settings.archive.path)
    mailer = make_mailer(settings)
    with pytest.raises(SmtpUnavailable, match="did not answer in time"):
        mailer._open()  # type: ignore[attr-defined]
    result = run_once(FilesSource(paths), store, settings, datetime.now(UTC), make_mailer(settings))
    assert result.processed == 3 and result.receipts_sent == 0 and result.receipts_failed == 0
    with store.session() as repo:
        waiting = repo.receipts_in(["queued"])
        assert len(waiting) == 3 and all(r.attempts == 0 for r in waiting)
        assert sum(1 for r in waiting if "did not answer in time" in r.last_error) == 1


def test_status_for_a_probe(tmp_path: Path) -> None:
    """Never polled: stale (1). After a poll: healthy (0). A receipt that failed: 1 until a person
    acknowledges it."""
    import random

    from intake.dev.samples import Person, Submission, build_message
    from intake.office import checks

    cfg = embedded_config(tmp_path)
    first = run_intake("status", config=cfg, cwd=tmp_path)
    assert first.returncode == 1 and "last good poll:    never" in first.stdout, first.stdout
    assert "STALE" in first.stdout and "intake.db" in first.stdout and str(tmp_path / "archive") in first.stdout
    sub = Submission("北京市", "fgdj-bj@aic.example.cn", people=[Person("张伟", "男", "北京市市场监督管理局")])
    deliver(tmp_path / "inbox", {"1.eml": build_message(sub, random.Random(2))})
    assert run_intake("poll", config=cfg, cwd=tmp_path).returncode == 0
    healthy = run_intake("status", config=cfg, cwd=tmp_path)
    assert healthy.returncode == 0 and "status: ok" in healthy.stdout, healthy.stdout
    assert "1 sent" not in healthy.stdout and "receipts:          0 queued, 0 failed" in healthy.stdout

    settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)
    with store.session() as repo:
        [receipt] = repo.receipts_in(["sent"])
        receipt.state, receipt.last_error = "failed", "550 mailbox unavailable"
        receipt_id = receipt.id
    failed = run_intake("status", config=cfg, cwd=tmp_path)
    assert failed.returncode == 1 and f"FAILED, not acknowledged: receipt {receipt_id}" in failed.stdout
    checks.acknowledge_failure(store, "receipt", receipt_id, by="值班员", note="已电话告知北京市")
    again = run_intake("status", config=cfg, cwd=tmp_path)
    assert again.returncode == 0 and "receipts:          0 queued, 1 failed" in again.stdout, again.stdout
    with store.session() as repo:
        assert any(e.action == "acknowledge_failure" for e in repo.audit())


def test_systemd_units_verify(tmp_path: Path) -> None:
    """deploy/'s units, checked by systemd itself (where systemd-analyze is installed; nothing is
    started). The units name /opt/intake/venv/bin/intake: here, this checkout's own."""
    import shutil
    import subprocess
    import sys

    analyze = shutil.which("systemd-analyze")
    require(analyze is not None, "systemd-analyze is not installed")
    assert analyze is not None
    intake_bin = Path(sys.executable).with_name("intake")
    units = []
    for unit in sorted((Path(__file__).resolve().parents[2] / "deploy").glob("intake*.*")):
        text = unit.read_text().replace("/opt/intake/venv/bin/intake", str(intake_bin))
        (tmp_path / unit.name).write_text(text)
        units.append(str(tmp_path / unit.name))
    assert {Path(u).name for u in units} >= {"intake.service", "intake-web.service"}
    done = subprocess.run([analyze, "verify", "--man=no", *units], capture_output=True, text=True)
    problems = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 0 and not problems, problems
    worker = (tmp_path / "intake.service").read_text()
    for line in ("ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "Restart=on-failure"):
        assert line in worker
    assert "EnvironmentFile=/etc/intake/secrets.env" in worker and "ReadWritePaths=/var/lib/intake" in worker
    assert "RestartPreventExitStatus=77 78" in worker
    web = (tmp_path / "intake-web.service").read_text()
    assert "EnvironmentFile" not in web.replace("# No EnvironmentFile", "")  # no mail passwords in the console
    for unit in (worker, web):
        for line in (
            "SystemCallFilter=@system-service",
            "ProtectKernelLogs=yes",
            "ProtectClock=yes",
            "ProtectHostname=yes",
            "RestrictNamespaces=yes",
            "CapabilityBoundingSet=\n",
            "MemoryMax=",
            "TasksMax=",
        ):
            assert line in unit, line


def test_init_check_and_run_from_anywhere(tmp_path: Path, dovecot: Dovecot, smtp) -> None:  # type: ignore[no-untyped-def]
    """`intake init`, fill in the campaign, `intake check` green against Dovecot and aiosmtpd, then
    a poll started from / (as systemd starts it) keeps its data beside the configuration."""
    handler, smtp_port = smtp
    deployment = tmp_path / "etc-intake"
    made = run_intake("init", str(deployment), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    intake_toml, campaign_toml = deployment / "intake.toml", deployment / "campaign.toml"
    again = run_intake("init", str(deployment), cwd=tmp_path)
    assert again.returncode == EX_CONFIG and "never overwrites" in again.stderr

    # Every setting of the model is in the file, explained.
    from intake.ops.explained import setting_names

    text, campaign = intake_toml.read_text(), campaign_toml.read_text()
    for name in setting_names():
        key = name.rpartition(".")[2]
        assert f"\n{key} =" in text + campaign or f"\n# {key} =" in text + campaign, name
    assert campaign.count("\n[[provinces]]\n") == 31 and "PLACEHOLDERS" in campaign
    # The letters and the documents' templates, copied for the office to edit.
    copied = {p.name for p in (deployment / "templates").iterdir()}
    assert {"receipt.txt.j2", "tongbao.docx", "gongshi.docx"} <= copied
    assert campaign.index('"北京市"') < campaign.index('"天津市"') < campaign.index('"新疆维吾尔自治区"')

    # As written: not ready (placeholders), and no server is tried without its password.
    first = run_intake("check", config=intake_toml, cwd=tmp_path, env=cli_env())
    assert first.returncode == 1, first.stdout
    assert "[FAIL] province senders" in first.stdout and "[FAIL] summary recipients" in first.stdout
    assert "[FAIL] IMAP: mailbox password not set" in first.stdout

    # Filled in, pointed at this machine's servers: ready.
    text = text.replace('host = "imap.126.com"', 'host = "127.0.0.1"').replace("port = 993", f"port = {dovecot.port}")
    text = text.replace('host = "smtp.126.com"', 'host = "127.0.0.1"').replace("port = 465", f"port = {smtp_port}")
    text = text.replace('security = "tls"', 'security = "none"')
    text = text.replace(
        'username = "gsfgdj@126.com"\n# the environment variable holding the SMTP',
        'username = ""\n# the environment variable holding the SMTP',
    )
    text = text.replace('recipients = ["office@placeholder.example"]', 'recipients = ["office@hq.gov.cn"]')
    intake_toml.write_text(text)
    campaign_toml.write_text(
        campaign.replace("@placeholder.example", "@aic.gov.cn").replace("2017-04-30T23:59:59", "2030-04-30T23:59:59")
    )
    env = cli_env(INTAKE_IMAP_PASSWORD=dovecot.password)
    ready = run_intake("check", config=intake_toml, cwd=tmp_path, env=env)
    assert ready.returncode == 0 and "ready" in ready.stdout, ready.stdout + ready.stderr
    for line in ("[ ok ] IMAP", "[ ok ] SMTP: 127.0.0.1", "[ ok ] province senders", "[ ok ] database"):
        assert line in ready.stdout, ready.stdout
    assert handler.received == []  # check sends nothing

    # The unit's way: working directory /, the configuration by absolute path.
    import random

    from intake.dev.samples import Person, Submission, build_message

    sub = Submission("北京市", "fgdj-bj@aic.gov.cn", people=[Person("张伟", "男", "北京市市场监督管理局")])
    dovecot.append([build_message(sub, random.Random(1), domain="aic.gov.cn")])
    polled = run_intake("poll", config=intake_toml, cwd=Path("/"), env=env)
    assert polled.returncode == 0, polled.stderr
    assert (deployment / "var" / "intake.db").exists() and (deployment / "var" / "archive").is_dir()
    assert len(handler.received) == 1  # the receipt, to 北京市's registered address
    assert "fetched 1, new 1" in polled.stdout


def test_every_setting_is_explained_and_the_readme_table_is_current() -> None:
    from intake.ops.explained import EXPLAINED, setting_names, settings_table

    missing = [n for n in setting_names() if n not in EXPLAINED]
    assert not missing, f"settings without an explanation: {missing}"
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    start = readme.index("<!-- settings: generated")
    start = readme.index("\n", start) + 1
    end = readme.index("<!-- end of settings -->")
    assert readme[start:end] == settings_table(), "README settings table is stale: python -m intake.ops.explained"


def test_the_wheel_carries_its_defaults_and_templates(tmp_path: Path) -> None:
    """Built, installed in a fresh venv outside the checkout, run on the embedded defaults: the
    same results as from the checkout."""
    import json
    import random
    import subprocess
    import sys
    import sysconfig

    from intake.dev.samples import Person, Submission, build_message

    root = Path(__file__).resolve().parents[2]
    dist = tmp_path / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(root)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    [wheel] = dist.glob("intake-*.whl")
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert "intake/defaults/intake.toml" in names and "intake/defaults/templates/receipt.txt.j2" in names
    assert "intake/defaults/templates/tongbao.docx" in names and "intake/defaults/templates/gongshi.docx" in names

    venv = tmp_path / "venv"
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True)
    # The dependencies come from this environment (no index here); intake itself from the wheel.
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import intake; print(intake.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(site)), where

    rng = random.Random(6)
    mail = [
        build_message(
            Submission("北京市", "fgdj-bj@aic.example.cn", people=[Person("张伟", "男", "北京市市场监督管理局")]), rng
        ),
        build_message(
            Submission("浙江省", "fgdj-zj@aic.example.cn", people=[Person("周杰", "男", "杭州市市场监督管理局")]), rng
        ),
    ]
    env = {k: v for k, v in cli_env().items() if k not in ("PYTHONPATH", "INTAKE_CONFIG")}
    exports = []
    for name, command in (
        ("wheel", [str(venv / "bin" / "intake")]),
        ("checkout", [sys.executable, "-m", "intake.cli"]),
    ):
        home = tmp_path / name
        deliver(home / "var" / "mail" / "inbox", {f"{i}.eml": raw for i, raw in enumerate(mail)})
        run_env = env if name == "wheel" else cli_env()
        for args in (["poll"], ["summary"], ["export", "--format", "json"]):
            done = subprocess.run([*command, *args], cwd=home, env=run_env, capture_output=True, text=True)
            assert done.returncode == 0, (name, args, done.stderr[-2000:])
        assert "北京市" in done.stdout
        exports.append(json.loads(done.stdout))
        assert len(list((home / "var" / "mail" / "outbox").glob("*.eml"))) == 2  # receipts, from the templates
    wheel_export, checkout_export = exports
    assert wheel_export["provinces"] == checkout_export["provinces"]
    assert [(n["name"], n["province"]) for n in wheel_export["nominees"]] == [
        (n["name"], n["province"]) for n in checkout_export["nominees"]
    ]


def test_backup_while_the_worker_runs_and_restore_elsewhere(tmp_path: Path, db_url: str) -> None:
    """Mail read, a correction and a review on record; `intake backup` while `intake run` holds the
    mailbox; `intake restore` into an empty deployment: the same export, the same ids, every blob's
    hash checked."""
    import json
    import random
    import signal
    import subprocess
    import sys

    from intake.dev.samples import Person, Submission, build_message
    from tests.servers import create_pg_database, drop_pg_database

    source = tmp_path / "a"
    source.mkdir()
    cfg = embedded_config(
        source,
        database={"url": db_url},
        schedule={"poll_minutes": 60},
    )
    rng = random.Random(9)
    mail = {}
    for code, name, who in (("bj", "北京市", "张伟"), ("zj", "浙江省", "周杰"), ("sc", "四川省", "李娜")):
        sub = Submission(name, f"fgdj-{code}@aic.example.cn", people=[Person(who, "男", f"{name}市场监督管理局")])
        mail[f"{code}.eml"] = build_message(sub, rng)
    deliver(source / "inbox", mail)
    assert run_intake("poll", config=cfg, cwd=source).returncode == 0
    before = json.loads(run_intake("export", config=cfg, cwd=source).stdout)
    first = before["nominees"][0]["id"]
    assert (
        run_intake(
            "correct", str(first), "workplace=北京市朝阳区市场监督管理局", "--reason", "核对", config=cfg
        ).returncode
        == 0
    )
    assert run_intake("review", str(first), "--state", "approved", config=cfg).returncode == 0
    before = json.loads(run_intake("export", config=cfg, cwd=source).stdout)

    worker = subprocess.Popen(
        [sys.executable, "-m", "intake.cli", "run", "--config", str(cfg)],
        cwd=source,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # until its first cycle is done (by its log, not a clock)
            line = worker.stderr.readline()  # type: ignore[union-attr]
            if "cycle 1:" in line or not line:
                break
        snapshot = tmp_path / "backups" / "intake.tar"
        made = run_intake("backup", str(snapshot), config=cfg, cwd=source)
        assert made.returncode == 0 and "3 messages" in made.stdout, made.stderr
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    assert snapshot.stat().st_mode & 0o077 == 0

    target_url = create_pg_database() if db_url.startswith("postgresql") else f"sqlite:///{tmp_path / 'b.db'}"
    try:
        target = tmp_path / "b"
        target.mkdir()
        cfg_b = embedded_config(target, database={"url": target_url})
        restored = run_intake("restore", str(snapshot), config=cfg_b, cwd=target)
        assert restored.returncode == 0 and "restored 3 messages" in restored.stdout, restored.stderr
        after = json.loads(run_intake("export", config=cfg_b, cwd=target).stdout)
        assert after == before
        settings_b = load_settings(cfg_b)
        store_b = Store(settings_b.database.url, settings_b.archive.path)
        with store_b.session() as repo:
            digests = {m.sha256 for m in repo.all_messages()} | {
                a.sha256 for m in repo.all_messages() for a in m.attachments
            }
        assert digests and all(store_b.blobs.verify(d) for d in digests)
        store_b.dispose()
        # Only into an empty deployment: a second restore is refused, and nothing is changed.
        again = run_intake("restore", str(snapshot), config=cfg_b, cwd=target)
        assert again.returncode == EX_USAGE and "empty deployment" in again.stderr
        # The next message gets a new id, after the restored ones.
        sub = Submission("河北省", "fgdj-he@aic.example.cn", people=[Person("王芳", "女", "河北省市场监督管理局")])
        deliver(target / "inbox", {"he.eml": build_message(sub, rng)})
        assert run_intake("poll", config=cfg_b, cwd=target).returncode == 0
        latest = json.loads(run_intake("export", config=cfg_b, cwd=target).stdout)
        assert max(m["id"] for m in latest["messages"]) == max(m["id"] for m in before["messages"]) + 1
    finally:
        if target_url.startswith("postgresql"):
            drop_pg_database(target_url)


def test_two_workers_and_a_reprocess_on_one_postgresql(tmp_path: Path) -> None:
    """Two ingests over the same mail and a reprocess started at the same moment, on one
    PostgreSQL and one archive: the result is the one a single process gives, no flag, nominee
    or receipt doubled, none lost, and each receipt sent once."""
    import json
    import random
    import subprocess
    import sys
    from collections import Counter

    from intake.dev.samples import Person, Submission, build_message, person_name
    from tests.servers import create_pg_database, drop_pg_database

    rng = random.Random(12)
    mail = tmp_path / "mail"
    mail.mkdir()
    provinces = [("bj", "北京市"), ("tj", "天津市"), ("js", "江苏省"), ("sc", "四川省")]
    for i in range(24):
        code, name = provinces[i % 4]
        people = [Person(person_name(rng), "男", f"{name}市场监督管理局") for _ in range(1 + i % 3)]
        raw = build_message(Submission(name, f"fgdj-{code}@aic.example.cn", people=people), rng)
        (mail / f"{i:02d}.eml").write_bytes(raw)

    def deployment(name: str, url: str) -> Path:
        home = tmp_path / name
        home.mkdir()
        return embedded_config(home, database={"url": url}, campaign={"deadline": "2030-04-30T23:59:59+08:00"})

    def export(cfg: Path) -> dict:  # type: ignore[type-arg]
        return json.loads(run_intake("export", config=cfg, cwd=cfg.parent).stdout)  # type: ignore[no-any-return]

    def view(data: dict) -> dict:  # type: ignore[type-arg]
        """What must not double or go missing, without the ids (which depend on who came first)."""
        ids = {m["id"]: m["message_id"] for m in data["messages"]}
        return {
            "messages": sorted(
                (m["message_id"], m["classification"], tuple(sorted(m["flags"])), bool(m["receipt"]))
                for m in data["messages"]
            ),
            # Which of a province's six receipts waits for the next hour depends on who sent first;
            # how many went to each address, and how many wait, does not.
            "receipts": sorted(
                Counter((m["receipt"]["to"], m["receipt"]["state"]) for m in data["messages"] if m["receipt"]).items()
            ),
            "nominees": sorted(
                (
                    ids.get(n.get("message")),
                    n["province"],
                    n["kind"],
                    n["name"],
                    n["current"],
                    tuple(sorted(n["flags"])),
                )
                for n in data["nominees"]
            ),
            "provinces": data["provinces"],
        }

    single = deployment("single", f"sqlite:///{tmp_path / 'single.db'}")
    assert run_intake("ingest", str(mail), config=single, cwd=single.parent).returncode == 0
    expected = view(export(single))

    url = create_pg_database()
    try:
        shared = deployment("shared", url)
        assert run_intake("export", config=shared, cwd=shared.parent).returncode == 0  # the schema, once
        command = [sys.executable, "-m", "intake.cli"]
        procs = [
            subprocess.Popen(
                [*command, *args, "--config", str(shared)],
                cwd=shared.parent,
                env=cli_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for args in (["ingest", str(mail)], ["ingest", str(mail)], ["reprocess"])
        ]
        for p in procs:
            _out, err = p.communicate(timeout=600)
            assert p.returncode == 0, err[-3000:]
        got = view(export(shared))
        assert got == expected
        sent = list((shared.parent / "outbox").glob("*.eml"))
        # Five an hour to each province's address, the sixth waits: 20 sent, each once.
        assert len(sent) == sum(n for (_to, state), n in expected["receipts"] if state == "sent") == 20
    finally:
        drop_pg_database(url)


def test_rules_evaluated_at_once_by_several_processes_never_double_a_flag(tmp_path: Path) -> None:
    """Evaluations racing on PostgreSQL (threads stand in for processes: each has its own
    connection and transaction) leave exactly the flags of one evaluation."""
    import random
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from sqlalchemy import func, select

    from intake.campaign import rules
    from intake.dev.samples import Person, Submission, build_message, person_name
    from store.models import Flag
    from tests.servers import create_pg_database, drop_pg_database

    rng = random.Random(3)
    mail = tmp_path / "mail"
    mail.mkdir()
    for i in range(8):  # 北京市 over its quota of 6, with no ranking: province flags as well
        people = [Person(person_name(rng), "男", "北京市市场监督管理局") for _ in range(2)]
        (mail / f"{i}.eml").write_bytes(
            build_message(Submission("北京市", "fgdj-bj@aic.example.cn", people=people), rng)
        )
    url = create_pg_database()
    try:
        cfg = embedded_config(tmp_path, database={"url": url})
        assert run_intake("ingest", str(mail), config=cfg, cwd=tmp_path).returncode == 0
        settings = load_settings(cfg)
        store = Store(settings.database.url, settings.archive.path)

        def rule_flags() -> int:
            with store.session() as repo:
                return int(repo.s.scalar(select(func.count(Flag.id)).where(Flag.origin == "rules")) or 0)

        once = rule_flags()
        assert once > 0
        now = datetime.now(UTC)

        def evaluate(_: int) -> None:
            with store.session() as repo:
                rules.apply(repo, settings, now)

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(evaluate, range(30)))
        assert rule_flags() == once
        store.dispose()
    finally:
        drop_pg_database(url)


def test_an_mbox_is_read_whole_once(tmp_path: Path) -> None:
    import mailbox
    import random

    from intake.dev.samples import Person, Submission, build_message, person_name

    rng = random.Random(4)
    box = mailbox.mbox(str(tmp_path / "saved.mbox"))
    for _ in range(30):
        sub = Submission("北京市", "fgdj-bj@aic.example.cn", people=[Person(person_name(rng), "男", "北京市局")])
        box.add(build_message(sub, rng))
    box.close()
    cfg = embedded_config(tmp_path)
    first = run_intake("ingest", str(tmp_path / "saved.mbox"), config=cfg, cwd=tmp_path)
    assert first.returncode == 0 and "fetched 30, new 30" in first.stdout, first.stdout + first.stderr
    again = run_intake("ingest", str(tmp_path / "saved.mbox"), config=cfg, cwd=tmp_path)
    assert again.returncode == 0 and "fetched 0, new 0" in again.stdout, again.stdout


def test_the_worker_keeps_trying_an_unavailable_server_and_says_so(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    cfg = embedded_config(
        tmp_path,
        mailbox=_imap_at(free_port()),
        schedule={"poll_minutes": 60},
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "intake.cli", "run", "--config", str(cfg)],
        cwd=tmp_path,
        env=cli_env(OPS_IMAP_PW="x"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = ""
    try:
        for line in worker.stderr:  # type: ignore[union-attr]
            seen += line
            if "cycle failed" in line:
                break
        assert "cycle failed (1 in a row)" in seen and "trying again in 30 s" in seen, seen
        assert worker.poll() is None  # still running: a server away is not a reason to stop
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0


def test_idle_wakes_the_worker_for_new_mail(tmp_path: Path, dovecot: Dovecot, smtp) -> None:  # type: ignore[no-untyped-def]
    """With a 60-minute interval, only IDLE can bring a message appended after the first poll to
    its receipt while the test waits."""
    import queue
    import random
    import signal
    import subprocess
    import sys

    from intake.dev.samples import Person, Submission, build_message

    handler, smtp_port = smtp
    cfg = embedded_config(
        tmp_path,
        mailbox=dovecot.mailbox_settings(password_env="OPS_IMAP_PW"),
        smtp={"host": "127.0.0.1", "port": smtp_port, "security": "none", "username": ""},
        schedule={"poll_minutes": 60},
        campaign={"deadline": "2030-04-30T23:59:59+08:00"},
    )
    cfg.write_text(cfg.read_text().replace(f'outbox = "{tmp_path / "outbox"}"\n', ""))
    worker = subprocess.Popen(
        [sys.executable, "-m", "intake.cli", "run", "--config", str(cfg)],
        cwd=tmp_path,
        env=cli_env(OPS_IMAP_PW=dovecot.password),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in worker.stderr], daemon=True).start()  # type: ignore[union-attr]

    def wait_for(text: str) -> str:
        seen = ""
        while text not in seen:
            seen += lines.get(timeout=120)
        return seen

    try:
        wait_for("IDLE: waiting for new mail")
        sub = Submission("北京市", "fgdj-bj@aic.example.cn", people=[Person("张伟", "男", "北京市市场监督管理局")])
        dovecot.append([build_message(sub, random.Random(2))])
        wait_for("fetched 1, new 1")
        deadline = time.monotonic() + 60
        while not handler.received and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(handler.received) == 1  # the receipt, from a poll that IDLE started
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
