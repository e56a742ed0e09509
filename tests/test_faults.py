"""Faults: the process killed at random moments, two pollers at once, the database away."""

from __future__ import annotations

import collections
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from intake.dev.samples import many_submissions
from intake.jobs.poll import run_once
from intake.mail.sources.imap import ImapSource
from intake.outbox.receipts import make_mailer
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


def _progress(db_path: Path, handler) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """How far the work has gone, as the program itself records it: messages archived and recorded,
    messages processed, receipts taken by the SMTP server."""
    counts = {"recorded": 0, "processed": 0, "delivered": len(handler.received)}
    if not db_path.exists():
        return counts
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as con:
            counts["recorded"] = con.execute("select count(*) from messages").fetchone()[0]
            counts["processed"] = con.execute(
                "select count(*) from messages where state in ('processed', 'failed')"
            ).fetchone()[0]
    except sqlite3.OperationalError:
        pass  # the schema is not there yet
    return counts


@pytest.mark.slow
def test_sigkill_at_twenty_random_moments(dovecot: Dovecot, smtp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Each kill is timed by the program's own progress, never by the clock: after a drawn number of
    further messages recorded, processed, or receipts delivered, while work of that stage remains."""
    handler, port = smtp
    n = 200
    dovecot.append(many_submissions(n, 40, seed=11))
    db_path = tmp_path / "db.sqlite"
    db = f"sqlite:///{db_path}"
    cfg = _config(tmp_path, dovecot, port, db)
    env = cli_env(FAULT_PW=dovecot.password)
    seed = int(os.environ.get("INTAKE_FAULT_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    print(f"kill moments drawn with seed {seed} (INTAKE_FAULT_SEED to repeat)")
    cmd = [sys.executable, "-m", "intake.cli", "poll", "--config", str(cfg), "--wait", "30"]
    margin = 6  # a kill is aimed only where at least this much of the stage is still to do
    kills: list[tuple[str, int]] = []
    # Six kills while fetching, seven while parsing, seven while sending (fewer where a stage ends).
    plan = ["recorded"] * 6 + ["processed"] * 7 + ["delivered"] * 7
    for planned in plan:
        before = _progress(db_path, handler)
        stages = [s for s in ("recorded", "processed", "delivered") if n - before[s] > margin]
        assert stages, f"no work left to interrupt after {len(kills)} kills: {before}"
        stage = planned if planned in stages else stages[0]
        target = before[stage] + rng.randint(1, min(20, n - before[stage] - margin))
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        hung = time.monotonic() + 600  # only a hung program gets here: no pace is asked of it
        while _progress(db_path, handler)[stage] < target:
            assert proc.poll() is None, f"poll ended before {stage} reached {target} (exit {proc.returncode})"
            assert time.monotonic() < hung, f"no progress towards {stage} {target} in 600 s"
            time.sleep(0.01)
        # Work of this stage is in flight: at most `target` of n done, and the process still at it.
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills.append((stage, target))
    assert len(kills) == 20 and all(t < n for _, t in kills)
    print("kills:", kills)
    # No parse worker outlives its killed poll.
    left = ""
    for _ in range(300):
        left = subprocess.run(["pgrep", "-f", str(cfg)], capture_output=True, text=True).stdout.strip()
        if not left:
            break
        time.sleep(0.1)
    assert left == "", f"processes left behind by killed polls: {left.split()}"
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
        from intake.core.settings import load_settings

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


def test_a_message_whose_recording_kills_the_process_is_failed_after_three_attempts(
    tmp_path: Path, make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Dying while recording what was read is the one thing a message in hand can be blamed for
    when the process dies: counted (before the recording) once the message was in hand at a
    death already, failed and flagged after MAX_ATTEMPTS, never taken again for ever."""
    import intake.jobs.poll as pipeline
    from intake.mail.sources.local import FilesSource
    from store.repo import INTERRUPTED, MAX_ATTEMPTS

    settings = make_settings()
    store = Store(settings.database.url, settings.archive.path)
    path = tmp_path / "one.eml"
    path.write_bytes(many_submissions(1, 1, seed=5)[0])
    real = pipeline.process_message

    def dies(*args: object, **kwargs: object) -> bool:
        raise KeyboardInterrupt("killed while recording")

    monkeypatch.setattr(pipeline, "process_message", dies)
    attempts = []
    for _ in range(MAX_ATTEMPTS + 1):
        with pytest.raises(KeyboardInterrupt):
            run_once(FilesSource([path]), store, settings, datetime.now(UTC))
        gone = subprocess.Popen(["true"])
        gone.wait()
        with store.session() as repo:
            (m,) = repo.all_messages(with_children=False)
            assert m.state == "processing"
            m.claimed_by = f"{socket.gethostname()}:{gone.pid}"  # as if this process had died
            attempts.append(m.attempts)
    assert attempts == [0, 1, 2, 3]  # the first death found it unmarked
    monkeypatch.setattr(pipeline, "process_message", real)
    result = run_once(FilesSource([path]), store, settings, datetime.now(UTC))
    assert result.processed == 0
    with store.session() as repo:
        (m,) = repo.all_messages()
        assert m.state == "failed" and m.error != INTERRUPTED
        assert [f.code for f in m.flags] == ["parse_failed"]
    store.dispose()
