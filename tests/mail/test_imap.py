"""intake/mail/sources/imap.py and the pipeline against a real Dovecot."""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest

from intake.core.errors import MailboxError
from intake.dev.samples import Person, Submission, Unit, auto_reply, build_message, person_name
from intake.jobs.poll import run_once
from intake.mail.smtp import make_mailer
from intake.mail.sources.imap import ImapSession, ImapSource
from store.repo import Store
from tests.conftest import cli_env, run_intake, write_config
from tests.servers import Dovecot


def submissions(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    codes = ["bj", "tj", "he", "sx", "nm", "ln", "jl", "hl", "sh", "js", "zj"]
    names = [
        "北京市",
        "天津市",
        "河北省",
        "山西省",
        "内蒙古自治区",
        "辽宁省",
        "吉林省",
        "黑龙江省",
        "上海市",
        "江苏省",
        "浙江省",
    ]
    out = []
    for i in range(n):
        k = i % len(codes)
        sub = Submission(
            names[k],
            f"fgdj-{codes[k]}@aic.example.cn",
            people=[Person(person_name(rng), "男", f"{names[k]}某区市场监督管理局科长")],
            units=[Unit(f"{names[k]}某县市场监督管理局", "张三")] if i % 3 == 0 else [],
        )
        out.append(build_message(sub, rng))
    return out


class CountingSource(ImapSource):
    """The real IMAP source, keeping each session so a test can count what was sent and fetched."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.sessions: list[ImapSession] = []
        self.after_fetch: object = None

    @contextmanager
    def connect(self) -> Iterator[ImapSession]:
        with super().connect() as session:
            self.sessions.append(session)
            if self.after_fetch is not None:
                session.fetch = _wrap_fetch(session.fetch, self.after_fetch)  # type: ignore[method-assign]
            yield session


def _wrap_fetch(fetch, hook):  # type: ignore[no-untyped-def]
    def wrapped(uids):  # type: ignore[no-untyped-def]
        for i, m in enumerate(fetch(uids)):
            yield m
            hook(i + 1)

    return wrapped


def counts(store: Store) -> tuple[int, int, int]:
    with store.session() as repo:
        messages = repo.all_messages(with_children=False)
        return len(messages), len(repo.nominees()), len({m.sha256 for m in messages})


@pytest.fixture
def imap_settings(make_settings, dovecot: Dovecot):  # type: ignore[no-untyped-def]
    def make(**mailbox: object):  # type: ignore[no-untyped-def]
        return make_settings(mailbox=dovecot.mailbox_settings(**mailbox))

    return make


def test_poll_then_poll_again_changes_nothing(dovecot: Dovecot, imap_settings) -> None:  # type: ignore[no-untyped-def]
    msgs = submissions(6)
    msgs.append(auto_reply("fgdj-gd@aic.example.cn", random.Random(3)))
    dovecot.append(msgs, when=datetime(2017, 4, 20, 2, 0, tzinfo=UTC))
    settings = imap_settings()
    store = Store(settings.database.url, settings.archive.path)
    now = datetime.now(UTC)
    first = run_once(ImapSource(settings.mailbox), store, settings, now, make_mailer(settings))
    assert (first.fetched, first.new, first.failed) == (7, 7, 0)
    assert first.classifications == {"submission": 6, "auto_reply": 1}
    with store.session() as repo:
        for m in repo.all_messages():
            assert m.received_source == "internaldate"
            assert m.received_at == datetime(2017, 4, 20, 2, 0, tzinfo=UTC)
            assert store.blobs.verify(m.sha256)
    before = counts(store)
    second = run_once(ImapSource(settings.mailbox), store, settings, now, make_mailer(settings))
    assert (second.fetched, second.new, second.processed, second.receipts_sent) == (0, 0, 0, 0)
    assert counts(store) == before


def test_uidvalidity_change_processes_nothing_twice(dovecot: Dovecot, imap_settings) -> None:  # type: ignore[no-untyped-def]
    msgs = submissions(5, seed=2)
    dovecot.append(msgs, folder="Nominations")
    settings = imap_settings(folder="Nominations")
    store = Store(settings.database.url, settings.archive.path)
    now = datetime.now(UTC)
    run_once(ImapSource(settings.mailbox), store, settings, now)
    before = counts(store)
    c = dovecot.client()
    old = c.folder_status("Nominations", ["UIDVALIDITY"])[b"UIDVALIDITY"]
    c.delete_folder("Nominations")
    c.logout()
    dovecot.append(msgs, folder="Nominations")
    c = dovecot.client()
    assert c.folder_status("Nominations", ["UIDVALIDITY"])[b"UIDVALIDITY"] != old
    c.logout()
    again = run_once(ImapSource(settings.mailbox), store, settings, now)
    assert again.fetched == 5
    assert again.new == 0 and again.processed == 0
    assert counts(store) == before
    # And a message added after the reset is new.
    dovecot.append(submissions(1, seed=99), folder="Nominations")
    third = run_once(ImapSource(settings.mailbox), store, settings, now)
    assert (third.fetched, third.new) == (1, 1)


def test_dovecot_stopped_mid_fetch_then_restarted(dovecot: Dovecot, imap_settings) -> None:  # type: ignore[no-untyped-def]
    msgs = submissions(12, seed=4)
    dovecot.append(msgs)
    settings = imap_settings(batch_size=3)
    store = Store(settings.database.url, settings.archive.path)
    now = datetime.now(UTC)
    source = CountingSource(settings.mailbox, connect_attempts=1)

    def stop_after(i: int) -> None:
        if i == 4:
            dovecot.stop()

    source.after_fetch = stop_after
    with pytest.raises(MailboxError):
        run_once(source, store, settings, now, reconnects=1)
    partial = counts(store)[0]
    assert 1 <= partial < 12
    dovecot.start()
    result = run_once(ImapSource(settings.mailbox), store, settings, now)
    assert result.failed == 0
    total, nominees, distinct = counts(store)
    assert total == distinct == 12
    assert nominees == sum(1 + (1 if i % 3 == 0 else 0) for i in range(12))


def test_idle_poll_on_a_large_mailbox_fetches_no_bodies(dovecot: Dovecot, imap_settings) -> None:  # type: ignore[no-untyped-def]
    small = []
    for i in range(1000):
        m = EmailMessage()
        m["From"] = f"person{i}@example.org"
        m["Subject"] = f"note {i}"
        m["Message-ID"] = make_msgid()
        m.set_content("hello")
        small.append(bytes(m))
    dovecot.append(small)
    settings = imap_settings(batch_size=200)
    store = Store(settings.database.url, settings.archive.path)
    now = datetime.now(UTC)
    first = CountingSource(settings.mailbox)
    run_once(first, store, settings, now)
    assert counts(store)[0] == 1000
    idle = CountingSource(settings.mailbox)
    result = run_once(idle, store, settings, now)
    assert result.fetched == 0
    session = idle.sessions[0]
    assert session.fetched_bytes == 0
    assert session.commands == 1  # one UID SEARCH past the watermark, no FETCH


def test_cli_poll_twice_and_export(dovecot: Dovecot, tmp_path: Path) -> None:
    dovecot.append(submissions(3, seed=7))
    cfg = write_config(
        tmp_path / "intake.toml",
        {
            "database": {"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
            "archive": {"path": str(tmp_path / "archive")},
            "mailbox": dovecot.mailbox_settings(password_env="IMAP_PW"),
            "smtp": {"outbox": str(tmp_path / "outbox")},
        },
    )
    env = cli_env(IMAP_PW=dovecot.password)

    def intake(*args: str) -> subprocess.CompletedProcess[str]:
        return run_intake(*args, config=cfg, env=env, cwd=tmp_path)

    first = intake("poll")
    assert first.returncode == 0, first.stderr
    exported = json.loads(intake("export", "--format", "json").stdout)
    second = intake("poll")
    assert second.returncode == 0, second.stderr
    assert "fetched 0" in second.stdout
    assert json.loads(intake("export", "--format", "json").stdout) == exported
    assert [m["classification"] for m in exported["messages"]] == ["submission"] * 3
    assert [m["province"] for m in exported["messages"]] == ["bj", "tj", "he"]
    assert all(m["receipt"]["state"] == "sent" for m in exported["messages"])
    assert len(exported["provinces"]) == 31


def test_wrong_password_is_one_clear_line(dovecot: Dovecot, tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "bad.toml",
        {
            "database": {"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
            "archive": {"path": str(tmp_path / "archive")},
            "mailbox": dovecot.mailbox_settings(password_env="IMAP_PW"),
        },
    )
    proc = run_intake("poll", config=cfg, env=cli_env(IMAP_PW="wrong"), timeout=120, cwd=tmp_path)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("intake: IMAP login refused")
    assert "Traceback" not in proc.stderr
    assert "wrong" not in proc.stderr
