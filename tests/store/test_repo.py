"""store/: migrations, the repository and the blob archive, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from store.blobs import BlobStore, sha256_hex
from store.errors import StoreError
from store.models import OutgoingMail
from store.repo import Flag, Nominee, Store


def _record(
    store: Store,
    uid: str,
    raw: bytes,
    *,
    mailbox: str = "imap://x",
    uidvalidity: int = 7,
    message_id: str = "<a@b>",
    claim_for: str | None = None,
):  # type: ignore[no-untyped-def]
    digest = store.blobs.put(raw)
    with store.session() as repo:
        return repo.record_message(
            mailbox=mailbox,
            uidvalidity=uidvalidity,
            uid=uid,
            sha256=digest,
            size=len(raw),
            message_id=message_id,
            internaldate=datetime(2017, 4, 20, 2, tzinfo=UTC),
            claim_for=claim_for,
        )


def test_migrations_create_every_table(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url, tmp_path / "archive")
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "messages",
        "message_locations",
        "attachments",
        "nominees",
        "flags",
        "outbox",
        "mailbox_state",
        "runs",
        "alembic_version",
    } <= tables
    Store(db_url, tmp_path / "archive")  # migrating again is a no-op
    store.dispose()


def test_migrations_and_models_describe_the_same_schema(db_url: str, tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from store.models import Base

    store = Store(db_url, tmp_path / "archive")
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    store.dispose()


def test_head_constant_matches_the_migrations(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    from store.db import HEAD, alembic_config

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD


def test_record_is_once_per_location(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url, tmp_path / "archive")
    m1, new1 = _record(store, "1", b"raw one")
    assert m1 is not None and new1
    again, new_again = _record(store, "1", b"raw one")
    assert again is None and not new_again
    # Same bytes delivered twice: a second row, which classification will call a duplicate.
    m2, new2 = _record(store, "2", b"raw one")
    assert m2 is not None and new2 and m2.id != m1.id
    with store.session() as repo:
        assert repo.earlier_duplicate(repo.message(m2.id)).id == m1.id  # type: ignore[arg-type,union-attr]
    store.dispose()


def test_uidvalidity_reset_links_known_messages(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url, tmp_path / "archive")
    a, _ = _record(store, "1", b"A")
    b, _ = _record(store, "2", b"B")
    b2, _ = _record(store, "3", b"B")  # a second delivery of B
    linked = [_record(store, uid, raw, uidvalidity=8) for uid, raw in (("1", b"A"), ("2", b"B"), ("3", b"B"))]
    assert [(m.id, new) for m, new in linked] == [(a.id, False), (b.id, False), (b2.id, False)]  # type: ignore[union-attr]
    fresh, new = _record(store, "4", b"C", uidvalidity=8)
    assert new and fresh is not None
    store.dispose()


def test_watermark_only_moves_forward(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url, tmp_path / "archive")
    with store.session() as repo:
        repo.mailbox_state("m")
        repo.reset_uidvalidity("m", 5)
    with store.session() as repo:
        repo.advance_watermark("m", 5, 10)
        repo.advance_watermark("m", 5, 4)
    with store.session() as repo:
        assert repo.mailbox_state("m").last_uid == 10
    store.dispose()


def test_claim_is_exclusive_across_threads(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url, tmp_path / "archive")
    m, _ = _record(store, "1", b"x")
    wins: list[bool] = []
    barrier = threading.Barrier(4)

    def take() -> None:
        with store.session() as repo:
            msg = repo.message(m.id)  # type: ignore[union-attr]
            barrier.wait()
            wins.append(repo.claim(msg, f"host:{threading.get_ident()}"))  # type: ignore[arg-type]

    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False, False, False, True]
    store.dispose()


def test_claiming_mail_to_send_waits_for_another_process_claiming(db_url: str, tmp_path: Path) -> None:
    """Counting an address's mail this hour and claiming within the cap is one step at a time
    across processes (two engines here): the second waits until the first has committed."""
    first, second = Store(db_url, tmp_path / "archive"), Store(db_url, tmp_path / "archive")
    order: list[str] = []
    with first.session() as repo:
        repo.lock_sending()

        def claim() -> None:
            with second.session() as other:
                other.lock_sending()
                order.append("second")

        waiting = threading.Thread(target=claim)
        waiting.start()
        waiting.join(1.0)  # long enough for it to have gone on, had it not waited
        order.append("first")
        repo.commit()
    waiting.join(60)
    assert order == ["first", "second"]
    first.dispose()
    second.dispose()


def test_datetimes_come_back_aware_and_equal(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url, tmp_path / "archive")
    m, _ = _record(store, "1", b"x")
    beijing = datetime.fromisoformat("2017-04-30T23:59:59+08:00")
    with store.session() as repo:
        msg = repo.message(m.id)  # type: ignore[union-attr]
        msg.received_at = beijing  # type: ignore[union-attr]
    with store.session() as repo:
        got = repo.message(m.id).received_at  # type: ignore[union-attr]
    assert got == beijing and got.tzinfo is not None  # type: ignore[union-attr]
    store.dispose()


def test_rule_flags_are_replaced_parse_flags_kept(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url, tmp_path / "archive")
    m, _ = _record(store, "1", b"x")
    with store.session() as repo:
        repo.add(Flag(scope="message", origin="parse", code="scan_only", message_pk=m.id))  # type: ignore[union-attr]
        repo.add(Flag(scope="province", origin="rules", code="late", province_code="bj"))
        repo.add(Nominee(message_pk=m.id, kind="individual", name="王喆", fields={"a": "甲"}))  # type: ignore[union-attr]
    with store.session() as repo:
        repo.clear_rule_flags()
    with store.session() as repo:
        assert [f.code for f in repo.all_flags()] == ["scan_only"]
        assert repo.nominees()[0].fields == {"a": "甲"}
    store.dispose()


def _receipt(message_pk: int) -> OutgoingMail:
    return OutgoingMail(
        kind="receipt",
        key=f"receipt:{message_pk}",
        message_pk=message_pk,
        to_addr="a@b.cn",
        rfc_message_id="<r@x>",
        state="queued",
    )


def test_receipt_queued_once(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url, tmp_path / "archive")
    m, _ = _record(store, "1", b"x")
    assert m is not None
    with store.session() as repo:
        assert repo.queue_mail(_receipt(m.id)) is not None
    with store.session() as repo:
        assert repo.queue_mail(_receipt(m.id)) is None
        due = repo.due_mail(datetime.now(UTC) - timedelta(days=1))
        assert len(due) == 1 and repo.receipt_for(m.id) is not None
    store.dispose()


def test_receipts_of_an_older_database_move_into_the_one_outbox(tmp_path: Path) -> None:
    """A database made before the one outbox: its receipts become outbox rows, states and all, and
    a person's acknowledgement of a failed one follows it to its new id."""
    import sqlalchemy as sa
    from alembic import command

    from store.db import alembic_config, make_engine

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    cfg = alembic_config()
    at = datetime(2017, 4, 20, tzinfo=UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0011")
        meta = sa.MetaData()
        meta.reflect(conn, only=["messages", "receipts", "flag_checks"])
        conn.execute(
            meta.tables["messages"].insert(),
            {
                "id": 1,
                "sha256": "a",
                "size": 1,
                "message_id": "<m@x>",
                "mailbox": "m",
                "received_source": "",
                "from_addr": "x@y",
                "from_name": "",
                "reply_to": "",
                "subject": "s",
                "classification": "submission",
                "province_code": "bj",
                "intent": "",
                "state": "processed",
                "info": {},
                "created_at": at,
                "parse_count": 1,
                "attempts": 0,
            },
        )
        receipts = meta.tables["receipts"]
        for rid, state in ((5, "failed"),):
            conn.execute(
                receipts.insert(),
                {
                    "id": rid,
                    "message_pk": 1,
                    "state": state,
                    "to_addr": "x@y",
                    "rfc_message_id": f"<r{rid}@x>",
                    "reason": "",
                    "attempts": 3,
                    "last_error": "550",
                    "created_at": at,
                    "body": "text",
                },
            )
        conn.execute(
            meta.tables["flag_checks"].insert(),
            {"key": "receipt|failed|5", "code": "send_failed", "by": "x", "at": at, "note": "n"},
        )
    engine.dispose()
    store = Store(url, tmp_path / "archive")
    with store.session() as repo:
        (row,) = repo.outgoing_mail()
        got = (row.kind, row.key, row.state, row.to_addr, row.body, row.province_code, row.attempts)
        assert got == ("receipt", "receipt:1", "failed", "x@y", "text", "bj", 3)
        assert f"outbox|failed|{row.id}" in repo.flag_checks()
    assert "receipts" not in inspect(store.engine).get_table_names()
    store.dispose()


def test_blob_store_is_content_addressed_and_verified(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "a")
    digest = blobs.put(b"hello")
    assert digest == sha256_hex(b"hello")
    assert blobs.put(b"hello") == digest
    assert blobs.get(digest) == b"hello"
    assert blobs.verify(digest)
    path = blobs.path_for(digest)
    assert path.relative_to(tmp_path / "a").parts[:2] == (digest[:2], digest[2:4])
    path.write_bytes(b"tampered")
    assert not blobs.verify(digest)
    with pytest.raises(StoreError):
        blobs.path_for("../../etc/passwd")
    assert not list((tmp_path / "a").rglob(".tmp-*"))


def test_unreachable_database_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        Store("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path / "a")


def test_claims_of_a_dead_process_are_released(db_url: str, tmp_path: Path) -> None:
    import socket
    import subprocess

    store = Store(db_url, tmp_path / "archive")
    a, _ = _record(store, "1", b"a")
    b, _ = _record(store, "2", b"b")
    gone = subprocess.Popen(["true"])
    gone.wait()
    host = socket.gethostname()
    with store.session() as repo:
        assert repo.claim(repo.message(a.id), f"{host}:{gone.pid}")  # type: ignore[arg-type,union-attr]
        assert repo.claim(repo.message(b.id), "elsewhere:1")  # type: ignore[arg-type,union-attr]
    with store.session() as repo:
        assert repo.release_stale_claims(f"{host}:1", timedelta(minutes=10)) == 1
    with store.session() as repo:
        assert [m.id for m in repo.pending_messages()] == [a.id]  # type: ignore[union-attr]
        assert repo.release_stale_claims(f"{host}:1", timedelta(0)) == 1  # the lease ran out
    store.dispose()


def test_a_message_claimed_as_it_is_recorded_by_a_process_that_died_is_read_again(db_url: str, tmp_path: Path) -> None:
    """Fetched messages are claimed with their rows, to be read while the rest are fetched. A
    process killed while it held them counts against none of them: they are marked and read again."""
    import socket
    import subprocess

    from store.repo import INTERRUPTED, MAX_ATTEMPTS

    store = Store(db_url, tmp_path / "archive")
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = f"{socket.gethostname()}:{gone.pid}"
    m, is_new = _record(store, "1", b"a", claim_for=dead)
    assert is_new and m is not None
    with store.session() as repo:
        held = repo.message(m.id)
        assert held is not None and (held.state, held.claimed_by, held.attempts) == ("processing", dead, 0)
        assert repo.pending_messages() == []
    for _ in range(MAX_ATTEMPTS + 1):  # however often it happens
        with store.session() as repo:
            assert repo.release_stale_claims(f"{socket.gethostname()}:1", timedelta(minutes=10)) == 1
        with store.session() as repo:
            back = repo.message(m.id)
            assert back is not None and (back.state, back.error, back.attempts) == ("new", INTERRUPTED, 0)
            assert repo.claim_many([m.id, m.id + 1000], dead) == [m.id]
    store.dispose()


def test_claims_of_a_first_poll_of_tens_of_thousands_are_renewed_and_given_back(db_url: str, tmp_path: Path) -> None:
    """More messages in hand than one statement may name (PostgreSQL: 65,535 values)."""
    store = Store(db_url, tmp_path / "archive")
    m, _ = _record(store, "1", b"a", claim_for="here:1")
    assert m is not None
    in_hand = [*range(m.id + 1, m.id + 70_000), m.id]
    with store.session() as repo:
        repo.renew_claims(in_hand, "here:1")
        repo.release_claims(in_hand, "here:1")
    with store.session() as repo:
        assert [p.id for p in repo.pending_messages()] == [m.id]
    store.dispose()
