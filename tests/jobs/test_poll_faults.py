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
from intake.mail.smtp import make_mailer
from intake.mail.sources.imap import ImapSource
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
    _delivered_at_least_once_and_only_identical_copies(store, handler, n)


def _delivered_at_least_once_and_only_identical_copies(store: Store, handler, n: int) -> None:  # type: ignore[no-untyped-def]
    """Every receipt recorded sent reached the server at least once; a second copy of one is only
    ever the identical mail (a crash after the server took it, before that was recorded)."""
    with store.session() as repo:
        receipts = repo.receipts_in(["queued", "sending", "sent", "failed", "suppressed"])
        assert {r.state for r in receipts} == {"sent"} and len(receipts) == n
        ids = {r.rfc_message_id for r in receipts}
    copies: dict[str, set[bytes]] = collections.defaultdict(set)
    for r in handler.received:
        copies[r.message["Message-ID"]].add(r.data)
    assert set(copies) == ids, f"never delivered: {sorted(ids - set(copies))[:5]}"
    different = [k for k, v in copies.items() if len(v) > 1]
    assert not different, f"copies that differ: {different[:5]}"


class KillsTheSenderInData:
    """An SMTP server that, for the first ``kills`` mails, takes the whole message and then
    SIGKILLs the process sending it, before its 250 is given: the window between a mail's end
    reaching the server and the sender recording it. With ``keep`` the server delivers what it
    took (as one that had queued it before answering would); without, it drops it."""

    def __init__(self, handler, kills: int, keep: bool) -> None:  # type: ignore[no-untyped-def]
        self.handler, self.kills, self.keep, self.pid = handler, kills, keep, 0
        self.killed = 0
        self.cut_off: set[str] = set()  # each kill on a mail not cut off before

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        return await self.handler.handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        answer = await self.handler.handle_DATA(server, session, envelope)
        mid = self.handler.received[-1].message["Message-ID"] if self.handler.received else ""
        if self.killed < self.kills and self.pid and mid not in self.cut_off:
            self.killed += 1
            self.cut_off.add(mid)
            if not self.keep:
                self.handler.received.pop()
            os.kill(self.pid, signal.SIGKILL)
        return answer


@pytest.mark.parametrize("keep", [False, True], ids=["server-drops-it", "server-keeps-it"])
def test_sigkill_inside_the_smtp_transaction_loses_no_mail(dovecot: Dovecot, tmp_path: Path, keep: bool) -> None:
    """The window that lost a receipt (recorded sent before the server took it), hit on purpose:
    the SMTP server kills the sending process inside DATA, three times, each on another mail;
    polls then run to the end. Every receipt arrives, a second copy only identical, and a last
    poll sends nothing."""
    from aiosmtpd.controller import Controller

    from tests.servers import RecordingHandler, free_port

    handler = RecordingHandler()
    killer = KillsTheSenderInData(handler, kills=3, keep=keep)
    port = free_port()
    controller = Controller(killer, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        n = 8
        dovecot.append(many_submissions(n, n, seed=13))
        db = f"sqlite:///{tmp_path / 'db.sqlite'}"
        cfg = _config(tmp_path, dovecot, port, db)
        env = cli_env(FAULT_PW=dovecot.password)
        cmd = [sys.executable, "-m", "intake.cli", "poll", "--config", str(cfg), "--wait", "30"]
        for expected_kills in (1, 2, 3):
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            killer.pid = proc.pid
            assert proc.wait(timeout=600) == -signal.SIGKILL
            assert killer.killed == expected_kills
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0 and "receipts sent 0" in again.stdout, again.stdout
        store = Store(db, tmp_path / "archive")
        _check_complete(store, n)
        _delivered_at_least_once_and_only_identical_copies(store, handler, n)
        # Each mail cut off was sent again; where the server had kept it, that is a second copy.
        assert len(handler.received) == n + (3 if keep else 0)
        store.dispose()
    finally:
        controller.stop()


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
    from intake.ingest import reading as pipeline
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
