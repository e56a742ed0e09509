"""Faults: the process killed at random moments, two pollers at once, the database away."""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intake.pipeline import run_once
from intake.receipts import make_mailer
from intake.samples import many_submissions
from intake.sources.imap import ImapSource
from store.repo import Attachment, Store
from tests.conftest import cli_env, run_intake, write_config
from tests.servers import Dovecot


def _config(tmp_path: Path, dovecot: Dovecot, smtp_port: int, db_url: str) -> Path:
    return write_config(
        tmp_path / "c.toml",
        {
            "database": {"url": db_url},
            "archive": {"path": str(tmp_path / "archive")},
            "mailbox": dovecot.mailbox_settings(password_env="FAULT_PW", batch_size=20),
            "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none", "username": ""},
            "receipts": {"per_sender_per_hour": 10000},
        },
    )


def _check_complete(store: Store, n: int) -> None:
    with store.session() as repo:
        messages = repo.all_messages()
        assert len(messages) == n and len({m.sha256 for m in messages}) == n
        assert {m.state for m in messages} == {"processed"}
        assert all(m.parse_count >= 1 for m in messages)
        for m in messages:
            assert store.blobs.verify(m.sha256), m.id
            for a in m.attachments:
                assert store.blobs.verify(a.sha256), (m.id, a.filename)
        assert len(repo.s.query(Attachment).all()) == sum(len(m.attachments) for m in messages)


@pytest.mark.slow
def test_sigkill_at_twenty_random_moments(dovecot: Dovecot, smtp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    handler, port = smtp
    n = 200
    dovecot.append(many_submissions(n, 40, seed=11))
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    cfg = _config(tmp_path, dovecot, port, db)
    env = cli_env(FAULT_PW=dovecot.password)
    seed = int(os.environ.get("INTAKE_FAULT_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    print(f"kill moments drawn with seed {seed} (INTAKE_FAULT_SEED to repeat)")
    cmd = [sys.executable, "-m", "intake.cli", "poll", "--config", str(cfg), "--wait", "30"]
    kills = 0
    for _ in range(20):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 2.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 10
    for _ in range(3):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        if "fetched 0" in done.stdout and "receipts sent 0" in done.stdout:
            break
    store = Store(db, tmp_path / "archive")
    _check_complete(store, n)
    with store.session() as repo:
        receipts = repo.receipts_in(["queued", "sending", "sent", "failed", "suppressed"])
        assert {r.state for r in receipts} == {"sent"} and len(receipts) == n
        ids = {r.rfc_message_id for r in receipts}
    deliveries = collections.Counter(r.message["Message-ID"] for r in handler.received)
    assert set(deliveries) == ids
    assert set(deliveries.values()) == {1}, [k for k, v in deliveries.items() if v > 1]


def test_two_pollers_at_once_on_postgresql_process_each_message_once(dovecot: Dovecot, tmp_path: Path) -> None:
    from tests.servers import create_pg_database, drop_pg_database, start_smtp

    url = create_pg_database()
    controller, handler, port = start_smtp()
    try:
        n = 60
        dovecot.append(many_submissions(n, 20, seed=12))
        cfg = _config(tmp_path, dovecot, port, url)
        os.environ["FAULT_PW"] = dovecot.password
        from intake.settings import load_settings

        settings = load_settings(cfg)
        stores = [Store(url, tmp_path / "archive"), Store(url, tmp_path / "archive", create=False)]
        results = []

        def poll(store: Store) -> None:
            # Both bypass the mailbox lock on purpose: the claims alone must keep them apart.
            results.append(
                run_once(ImapSource(settings.mailbox), store, settings, datetime.now(UTC), make_mailer(settings))
            )

        threads = [threading.Thread(target=poll, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(r.processed for r in results) == n
        assert sum(r.new for r in results) == n
        _check_complete(stores[0], n)
        with stores[0].session() as repo:
            assert {m.parse_count for m in repo.all_messages(with_children=False)} == {1}
        deliveries = collections.Counter(r.message["Message-ID"] for r in handler.received)
        assert len(deliveries) == n and set(deliveries.values()) == {1}
        # And through the command line, the second waits for the first.
        env = cli_env()
        cmd = [sys.executable, "-m", "intake.cli", "poll", "--config", str(cfg), "--wait", "60"]
        procs = [
            subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
        ]
        outs = [p.communicate(timeout=300) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs
        for s in stores:
            s.dispose()
    finally:
        controller.stop()
        drop_pg_database(url)


def test_database_unavailable_is_one_clear_line(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.toml",
        {"database": {"url": "postgresql+psycopg://intake@127.0.0.1:1/none"}, "archive": {"path": str(tmp_path / "a")}},
    )
    proc = run_intake("poll", config=cfg, timeout=120)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("intake: database unavailable")
