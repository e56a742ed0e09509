"""The outbox's receipts and the SMTP mailer against aiosmtpd as the real SMTP server (and Dovecot's Sent)."""

from __future__ import annotations

import random
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid
from pathlib import Path

import pytest

from intake.dev.samples import Person, Submission, auto_reply, build_message, person_name
from intake.jobs.poll import run_once
from intake.mail.smtp import SentFolder, SmtpMailer, make_mailer
from intake.mail.sources.imap import ImapSource
from intake.mail.sources.local import FilesSource
from store.repo import Store
from tests.servers import Dovecot


def _sub(code: str, name: str, seed: int) -> bytes:
    rng = random.Random(seed)
    s = Submission(
        name, f"fgdj-{code}@aic.example.cn", people=[Person(person_name(rng), "男", f"{name}某区市场监督管理局科长")]
    )
    return build_message(s, rng)


def _bounce() -> bytes:
    return (
        b"From: MAILER-DAEMON@mx.example.cn\r\nTo: gsfgdj@126.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        b"Message-ID: <bounce-1@mx>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n"
        b"--R\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--R\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; x@y\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        b"--R--\r\n"
    )


def _unrelated() -> bytes:
    m = EmailMessage()
    m["From"] = "newsletter@shop.example.com"
    m["Subject"] = "本周优惠"
    m["Message-ID"] = make_msgid()
    m.set_content("优惠活动")
    return bytes(m)


def _write(tmp_path: Path, messages: list[bytes]) -> list[Path]:
    paths = []
    for i, raw in enumerate(messages):
        p = tmp_path / "mail" / f"{i:03d}.eml"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(raw)
        paths.append(p)
    return paths


@pytest.fixture
def smtp_settings(make_settings, smtp):  # type: ignore[no-untyped-def]
    handler, port = smtp

    def make(**extra: object):  # type: ignore[no-untyped-def]
        return make_settings(
            smtp={
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "username": "",
                "sender": "总局非公党建办 <gsfgdj@126.com>",
            },
            **extra,
        )

    return make, handler


def test_one_receipt_per_submission_none_to_robots(tmp_path: Path, smtp_settings) -> None:  # type: ignore[no-untyped-def]
    make, handler = smtp_settings
    settings = make()
    sub1, sub2 = _sub("bj", "北京市", 1), _sub("zj", "浙江省", 2)
    messages = [sub1, sub2, sub1, auto_reply("fgdj-gd@aic.example.cn", random.Random(1)), _bounce(), _unrelated()]
    paths = _write(tmp_path, messages)
    store = Store(settings.database.url, settings.archive.path)
    now = datetime.now(UTC)
    # The duplicate is the same message delivered again: two locations, same Message-ID.
    dup = sub1.replace(b"Subject:", b"X-Delivered: again\r\nSubject:", 1)
    paths.append(_write(tmp_path / "d", [dup])[0])
    result = run_once(FilesSource(paths), store, settings, now, make_mailer(settings))
    assert result.classifications == {"submission": 2, "duplicate": 1, "auto_reply": 1, "bounce": 1, "unrelated": 1}
    assert result.receipts_sent == 2
    assert sorted(r.recipients[0] for r in handler.received) == ["fgdj-bj@aic.example.cn", "fgdj-zj@aic.example.cn"]
    for r in handler.received:
        m = BytesParser(policy=policy.default).parsebytes(r.data)
        original = BytesParser(policy=policy.default).parsebytes(sub1 if "bj" in r.recipients[0] else sub2)
        assert m["Auto-Submitted"] == "auto-replied"
        assert m["X-Auto-Response-Suppress"] == "All"
        assert m["In-Reply-To"].strip() == original["Message-ID"].strip()
        assert original["Message-ID"].strip() in m["References"]
        assert m["Subject"] == "回执：" + original["Subject"]
        body = m.get_body(("plain",)).get_content()
        html = m.get_body(("html",)).get_content()
        assert "个人：已收到1名" in body and "回执编号" in body and "北京时间" in body
        assert "个人：已收到1名" in html
        assert r.envelope_from == "gsfgdj@126.com"
    again = run_once(FilesSource(paths), store, settings, now, make_mailer(settings))
    assert again.receipts_sent == 0 and len(handler.received) == 2


@pytest.mark.parametrize("reply", ["451 4.3.0 try again later", "421 4.7.0 too busy"])
def test_temporary_refusal_is_retried_later(tmp_path: Path, smtp_settings, reply: str) -> None:  # type: ignore[no-untyped-def]
    make, handler = smtp_settings
    settings = make()
    store = Store(settings.database.url, settings.archive.path)
    paths = _write(tmp_path, [_sub("bj", "北京市", 3)])
    handler.reply = reply
    now = datetime.now(UTC)
    first = run_once(FilesSource(paths), store, settings, now, make_mailer(settings))
    assert first.processed == 1 and first.receipts_sent == 0 and first.receipts_failed == 0
    with store.session() as repo:
        (r,) = repo.receipts_in(["queued"])
        assert reply.split()[0] in r.last_error and r.next_attempt_at > now
    handler.reply = None
    soon = run_once(FilesSource(paths), store, settings, now + timedelta(seconds=30), make_mailer(settings))
    assert soon.receipts_sent == 0  # not due yet
    later = run_once(FilesSource(paths), store, settings, now + timedelta(hours=1), make_mailer(settings))
    assert later.receipts_sent == 1 and len(handler.received) == 1


def test_permanent_refusal_fails_with_the_servers_words(tmp_path: Path, smtp_settings) -> None:  # type: ignore[no-untyped-def]
    make, handler = smtp_settings
    settings = make()
    store = Store(settings.database.url, settings.archive.path)
    handler.rcpt_reply = "550 5.1.1 mailbox unavailable"
    result = run_once(
        FilesSource(_write(tmp_path, [_sub("bj", "北京市", 4)])),
        store,
        settings,
        datetime.now(UTC),
        make_mailer(settings),
    )
    assert result.receipts_failed == 1
    with store.session() as repo:
        (r,) = repo.receipts_in(["failed"])
        assert "550" in r.last_error and "mailbox unavailable" in r.last_error


def test_connection_cut_during_data_is_temporary(tmp_path: Path, smtp_settings) -> None:  # type: ignore[no-untyped-def]
    make, handler = smtp_settings
    settings = make()
    store = Store(settings.database.url, settings.archive.path)
    handler.drop_during_data = True
    result = run_once(
        FilesSource(_write(tmp_path, [_sub("bj", "北京市", 5)])),
        store,
        settings,
        datetime.now(UTC),
        make_mailer(settings),
    )
    assert result.processed == 1 and result.receipts_failed == 0
    with store.session() as repo:
        assert [r.state for r in repo.receipts_in(["queued"])] == ["queued"]


def test_smtp_down_never_stops_processing(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    from tests.servers import free_port

    settings = make_settings(smtp={"host": "127.0.0.1", "port": free_port(), "security": "none", "username": ""})
    store = Store(settings.database.url, settings.archive.path)
    result = run_once(
        FilesSource(_write(tmp_path, [_sub("bj", "北京市", 6), _sub("sh", "上海市", 7)])),
        store,
        settings,
        datetime.now(UTC),
        make_mailer(settings),
    )
    assert result.processed == 2 and result.failed == 0 and result.receipts_sent == 0
    with store.session() as repo:
        assert len(repo.receipts_in(["queued"])) == 2


def test_per_sender_cap(tmp_path: Path, smtp_settings) -> None:  # type: ignore[no-untyped-def]
    make, handler = smtp_settings
    settings = make(receipts={"per_sender_per_hour": 2})
    store = Store(settings.database.url, settings.archive.path)
    msgs = [_sub("bj", "北京市", 10 + i) for i in range(4)]
    now = datetime.now(UTC)
    source = FilesSource(_write(tmp_path, msgs))
    result = run_once(source, store, settings, now, make_mailer(settings))
    assert result.receipts_sent == 2 and len(handler.received) == 2
    with store.session() as repo:
        waiting = repo.receipts_in(["queued"])
        assert len(waiting) == 2 and not repo.receipts_in(["suppressed"])
        assert all(r.next_attempt_at is not None and r.next_attempt_at > now for r in waiting)
    # Within the hour they still wait; after it they go: beyond the cap a receipt is deferred, never dropped.
    assert run_once(source, store, settings, now + timedelta(minutes=30), make_mailer(settings)).receipts_sent == 0
    result = run_once(source, store, settings, now + timedelta(minutes=61), make_mailer(settings))
    assert result.receipts_sent == 2 and len(handler.received) == 4


class DiesAfterTheServerTookIt:
    """The real mailer; the process dies once the server has taken the mail, before anything
    records that it went (``copied``: after its copy is in the Sent folder)."""

    def __init__(self, real, copied: bool = False) -> None:  # type: ignore[no-untyped-def]
        self.real, self.copied = real, copied

    def send(self, raw: bytes, to: str, rfc_message_id: str) -> None:
        self.real.send(raw, to, rfc_message_id)
        if self.copied:
            self.real.keep_copy(raw)
        raise KeyboardInterrupt("killed before recording the send")

    def already_sent(self, rfc_message_id: str) -> bool | None:
        return self.real.already_sent(rfc_message_id)

    def keep_copy(self, raw: bytes) -> None:
        self.real.keep_copy(raw)

    def close(self) -> None:
        self.real.close()


class DiesBeforeTheServerTookIt(DiesAfterTheServerTookIt):
    """The process dies with the mail's bytes kept and the SMTP transaction not yet begun."""

    def send(self, raw: bytes, to: str, rfc_message_id: str) -> None:
        raise KeyboardInterrupt("killed before sending")


def as_if_dead(store: Store) -> None:
    """This process stands in for the one that died: its claims now name a process that is gone."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    with store.session() as repo:
        for r in repo.outgoing_mail(["sending"]):
            r.claimed_by = f"{socket.gethostname()}:{gone.pid}"


@pytest.mark.parametrize("copied", [True, False])
def test_a_receipt_cut_off_after_the_server_took_it_is_resolved_by_the_sent_folder(
    tmp_path: Path,
    smtp_settings,  # type: ignore[no-untyped-def]
    dovecot: Dovecot,
    copied: bool,
) -> None:
    """Killed after the server accepted the receipt: found in the Sent folder, it is marked sent
    and not sent again; not found, it is sent again, the identical mail (same bytes, same
    Message-ID): at least once, a second copy only identical."""
    make, handler = smtp_settings
    settings = make(mailbox=dovecot.mailbox_settings(sent_folder="&XfJT0ZAB-"))
    dovecot.append([_sub("bj", "北京市", 20)])
    store = Store(settings.database.url, settings.archive.path)
    real = make_mailer(settings)
    assert isinstance(real, SmtpMailer) and isinstance(real.sent_folder, SentFolder)
    now = datetime.now(UTC)
    with pytest.raises(KeyboardInterrupt):
        run_once(ImapSource(settings.mailbox), store, settings, now, DiesAfterTheServerTookIt(real, copied))
    assert len(handler.received) == 1
    with store.session() as repo:
        (row,) = repo.receipts_in(["sending"])
        assert row.raw is not None and row.attempts == 1
    as_if_dead(store)
    result = run_once(ImapSource(settings.mailbox), store, settings, now, make_mailer(settings))
    with store.session() as repo:
        (row,) = repo.receipts_in(["sent"])
        assert row.attempts == 1  # the crash's attempt is not counted against it
    if copied:
        assert result.receipts_sent == 0 and len(handler.received) == 1
    else:
        assert result.receipts_sent == 1 and len(handler.received) == 2
        assert handler.received[0].data == handler.received[1].data  # the identical mail
    assert run_once(ImapSource(settings.mailbox), store, settings, now, make_mailer(settings)).receipts_sent == 0
    client = dovecot.client()
    assert client.folder_exists("&XfJT0ZAB-")  # NetEase's 已发送, created when missing
    client.select_folder("&XfJT0ZAB-")
    assert len(client.search()) == 1
    client.logout()


def test_a_receipt_cut_off_before_it_went_is_sent_once(tmp_path: Path, smtp_settings, dovecot: Dovecot) -> None:  # type: ignore[no-untyped-def]
    make, handler = smtp_settings
    settings = make(mailbox=dovecot.mailbox_settings(sent_folder="Sent"))
    dovecot.append([_sub("bj", "北京市", 21)])
    store = Store(settings.database.url, settings.archive.path)
    now = datetime.now(UTC)
    with pytest.raises(KeyboardInterrupt):
        run_once(ImapSource(settings.mailbox), store, settings, now, DiesBeforeTheServerTookIt(make_mailer(settings)))
    assert handler.received == []
    with store.session() as repo:
        (kept,) = repo.receipts_in(["sending"])
        raw = kept.raw
    as_if_dead(store)
    assert run_once(ImapSource(settings.mailbox), store, settings, now, make_mailer(settings)).receipts_sent == 1
    assert [r.data.replace(b"\r\n", b"\n") for r in handler.received] == [raw.replace(b"\r\n", b"\n")]


def test_one_connection_to_the_sent_folder_serves_a_run_and_a_lost_one_is_opened_again(
    tmp_path: Path,
    smtp_settings,  # type: ignore[no-untyped-def]
    dovecot: Dovecot,
) -> None:
    make, handler = smtp_settings
    settings = make(mailbox=dovecot.mailbox_settings(sent_folder="Sent"))
    dovecot.append([_sub("bj", "北京市", 50), _sub("tj", "天津市", 51), _sub("sh", "上海市", 52)])
    store = Store(settings.database.url, settings.archive.path)
    mailer = make_mailer(settings)
    assert isinstance(mailer, SmtpMailer) and isinstance(mailer.sent_folder, SentFolder)
    sent = mailer.sent_folder
    assert run_once(ImapSource(settings.mailbox), store, settings, datetime.now(UTC), mailer).receipts_sent == 3
    assert len(handler.received) == 3 and sent.logins == 1  # three copies, one login
    assert sent._client is None  # closed with the mailer at the end of the run

    def copies() -> int:
        client = dovecot.client()
        client.select_folder("Sent", readonly=True)
        n = len(client.search())
        client.logout()
        return n

    assert copies() == 3
    copy = handler.received[0].data
    sent.append(copy)
    assert sent._client is not None and sent.logins == 2
    sent._client.shutdown()  # the server dropped it meanwhile (its idle timeout, a restart)
    sent.append(copy)
    assert sent.logins == 3 and copies() == 5  # opened again, and the copy is there
    mid = BytesParser(policy=policy.default).parsebytes(copy)["Message-ID"]
    assert sent.contains(mid) is True and sent.logins == 3
    mailer.close()
    assert sent._client is None


def test_outbox_file_written_before_a_crash_is_not_written_again(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    store = Store(settings.database.url, settings.archive.path)
    paths = _write(tmp_path, [_sub("bj", "北京市", 40)])
    with pytest.raises(KeyboardInterrupt):
        run_once(
            FilesSource(paths), store, settings, datetime.now(UTC), DiesAfterTheServerTookIt(make_mailer(settings))
        )
    assert len(list(settings.smtp.outbox.glob("*.eml"))) == 1  # type: ignore[union-attr]
    as_if_dead(store)
    result = run_once(FilesSource(paths), store, settings, datetime.now(UTC), make_mailer(settings))
    assert result.receipts_sent == 0
    with store.session() as repo:
        assert [r.state for r in repo.receipts_in(["sent"])] == ["sent"]
    assert len(list(settings.smtp.outbox.glob("*.eml"))) == 1  # type: ignore[union-attr]


def test_outbox_writes_each_receipt_once(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    store = Store(settings.database.url, settings.archive.path)
    paths = _write(tmp_path, [_sub("bj", "北京市", 30), _sub("tj", "天津市", 31)])
    run_once(FilesSource(paths), store, settings, datetime.now(UTC), make_mailer(settings))
    run_once(FilesSource(paths), store, settings, datetime.now(UTC), make_mailer(settings))
    files = sorted(settings.smtp.outbox.glob("*.eml"))  # type: ignore[union-attr]
    assert len(files) == 2
    m = BytesParser(policy=policy.default).parsebytes(files[0].read_bytes())
    assert m["Auto-Submitted"] == "auto-replied" and m["Subject"].startswith("回执：")
