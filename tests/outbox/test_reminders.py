"""Reminders (催报) and returns (退回修改): to exactly the provinces that owe something, once per
slot across restarts, drafts a reviewer lets go, returns in the thread closed by the correction."""

from __future__ import annotations

import email
import email.policy
import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from intake.core.settings import load_settings
from intake.dev.samples import Person, Submission, build_message
from intake.office.letters import decide
from intake.outbox import reminders
from store.repo import Store
from tests.conftest import embedded_config, run_intake

PROVINCES = [
    {"code": "bj", "name": "北京市", "individuals": 6, "units": 2, "senders": ["fgdj-bj@aic.example.cn"]},
    {"code": "zj", "name": "浙江省", "individuals": 6, "units": 2, "senders": ["fgdj-zj@aic.example.cn"]},
    {
        "code": "xj",
        "name": "新疆维吾尔自治区",
        "individuals": 2,
        "units": 1,
        "senders": ["fgdj-xj@aic.example.cn", "x2@aic.example.cn"],
    },
]


def _deployment(tmp_path: Path, deadline: datetime, review: bool = True) -> Path:
    rng = random.Random(4)
    folder = tmp_path / "mail"
    folder.mkdir(exist_ok=True)
    complete = Submission("北京市", "fgdj-bj@aic.example.cn", people=[Person("张伟", "男", "北京市市场监督管理局科长")])
    (folder / "bj.eml").write_bytes(build_message(complete, rng))
    missing = Submission("浙江省", "fgdj-zj@aic.example.cn", people=[Person("周杰", "男", "杭州市市场监督管理局科长")])
    raw = build_message(missing, rng)
    # Without its narrative: the province owes a 事迹材料.
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    msg.set_payload([p for p in msg.get_payload() if "事迹材料" not in (p.get_filename() or "")])  # type: ignore[arg-type]
    (folder / "zj.eml").write_bytes(msg.as_bytes())
    cfg = embedded_config(
        tmp_path,
        campaign={"deadline": deadline.isoformat()},
        reminders={"review": review},
        provinces=PROVINCES,
    )
    done = run_intake("ingest", str(folder), config=cfg, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return cfg


def _days_ahead(days: int) -> datetime:
    """A deadline ``days`` calendar days ahead in Beijing, whatever the time of day the test runs
    (reminders count days by the campaign's calendar)."""
    beijing = ZoneInfo("Asia/Shanghai")
    day = datetime.now(beijing).date() + timedelta(days=days)
    return datetime.combine(day, time(23, 59), beijing).astimezone(UTC)


def _sent(tmp_path: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
        for p in sorted((tmp_path / "outbox").rglob("*.eml"))
    ]


def test_reminders_once_per_slot_to_those_who_owe(tmp_path: Path) -> None:
    deadline = _days_ahead(3)
    cfg = _deployment(tmp_path, deadline)
    settings = load_settings(cfg)
    # Everyone but 北京市, whose submission is complete: the silent provinces and 浙江省.
    expected = sorted(a for p in settings.provinces if p.code != "bj" for a in p.senders)
    dry = run_intake("remind", "--dry-run", config=cfg, cwd=tmp_path)
    assert dry.returncode == 0 and f"{len(expected)} reminder(s) would be made" in dry.stdout, dry.stdout
    assert "浙江省 <fgdj-zj@aic.example.cn>：周杰：缺少事迹材料" in dry.stdout and "北京市" not in dry.stdout
    store = Store(settings.database.url, settings.archive.path)
    assert reminders.waiting_count(store) == 0  # a dry run makes nothing
    # Made by one process, asked again by another after a "restart": none twice.
    assert f"{len(expected)} reminder(s) drafted" in run_intake("remind", config=cfg, cwd=tmp_path).stdout
    assert "0 reminder(s) drafted" in run_intake("remind", config=cfg, cwd=tmp_path).stdout
    with store.session() as repo:
        drafts = repo.outgoing_mail(["draft"])
        assert sorted(d.to_addr for d in drafts) == expected
        assert {d.detail["slot"] for d in drafts} == {3}
        zj = next(d for d in drafts if d.province_code == "zj")
        xj = next(d for d in drafts if d.to_addr == "x2@aic.example.cn")
        assert "缺少事迹材料" in zj.body and "尚未收到" in xj.body
    # Nothing goes out before a reviewer lets it.
    assert run_intake("poll", config=cfg, cwd=tmp_path).returncode == 0
    assert not [m for m in _sent(tmp_path) if "提醒" in str(m["Subject"])]
    decide(store, zj.id, "send", by="审核员", body=zj.body + "\n（请尽快报送）")
    for d in drafts:
        if d.id != zj.id:
            decide(store, d.id, "discard", by="审核员")
    assert run_intake("poll", config=cfg, cwd=tmp_path).returncode == 0
    letters = [m for m in _sent(tmp_path) if "提醒" in str(m["Subject"])]
    assert [str(m["To"]) for m in letters] == ["fgdj-zj@aic.example.cn"]
    assert "（请尽快报送）" in letters[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert letters[0]["Auto-Submitted"] == "auto-generated"
    assert run_intake("poll", config=cfg, cwd=tmp_path).returncode == 0
    assert len([m for m in _sent(tmp_path) if "提醒" in str(m["Subject"])]) == 1  # once

    # The next slot, a day before the deadline: reminded again, once.
    with store.session() as repo:
        later = reminders.plan_reminders(repo, settings, deadline - timedelta(hours=20))
    assert {p["slot"] for p in later} == {1} and len(later) == len(expected)


def test_reminders_without_review_and_returns_in_thread(tmp_path: Path) -> None:
    deadline = _days_ahead(7)
    cfg = _deployment(tmp_path, deadline, review=False)
    settings = load_settings(cfg)
    expected = sum(len(p.senders) for p in settings.provinces if p.code != "bj")
    assert f"{expected} reminder(s) queued" in run_intake("remind", config=cfg, cwd=tmp_path).stdout
    assert run_intake("poll", config=cfg, cwd=tmp_path).returncode == 0
    assert len([m for m in _sent(tmp_path) if "提醒" in str(m["Subject"])]) == expected

    store = Store(settings.database.url, settings.archive.path)
    with store.session() as repo:
        zj = next(m for m in repo.all_messages() if m.province_code == "zj")
        zj_id, zj_mid = zj.id, zj.message_id
    done = run_intake("return", str(zj_id), "--reason", "缺少事迹材料，请补报", config=cfg, cwd=tmp_path)
    assert done.returncode == 0 and "drafted" in done.stdout, done.stderr
    with store.session() as repo:
        draft = repo.outgoing_mail(["draft"])[0]
    decide(store, draft.id, "send", by="审核员")
    assert run_intake("poll", config=cfg, cwd=tmp_path).returncode == 0
    (returned,) = [m for m in _sent(tmp_path) if str(m["Subject"]).startswith("退回修改")]
    assert str(returned["In-Reply-To"]).strip() == zj_mid and zj_mid in str(returned["References"])
    body = returned.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "缺少事迹材料，请补报" in body and "周杰：缺少事迹材料" in body
    with store.session() as repo:
        assert [w["message_id"] for w in reminders.returns_waiting(repo)] == [zj_id]

    # The province's correction closes the return.
    rng = random.Random(8)
    fix = Submission(
        "浙江省",
        "fgdj-zj@aic.example.cn",
        people=[Person("周杰", "男", "杭州市市场监督管理局科长")],
        subject="浙江省推荐材料（更正）",
        when=datetime.now(UTC),
    )
    (tmp_path / "fix").mkdir()
    (tmp_path / "fix" / "fix.eml").write_bytes(build_message(fix, rng))
    assert run_intake("ingest", str(tmp_path / "fix"), config=cfg, cwd=tmp_path).returncode == 0
    with store.session() as repo:
        assert reminders.returns_waiting(repo) == []


def test_reminders_go_once_across_a_kill_and_a_restart(tmp_path: Path) -> None:
    """The process dies after the first reminder's file is in the outbox folder and before it is
    recorded as sent; a restarted worker plans the slot again (nothing new) and finds that file:
    every address gets exactly one reminder (the outbox folder is its own record)."""
    import pytest

    from intake.mail.smtp import make_mailer
    from intake.outbox.send import send_due
    from tests.outbox.test_send import DiesAfterTheServerTookIt, as_if_dead

    deadline = _days_ahead(1)
    cfg = _deployment(tmp_path, deadline, review=False)
    settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)
    made = reminders.queue_reminders(store, settings, datetime.now(UTC))
    expected = sorted(a for p in settings.provinces if p.code != "bj" for a in p.senders)
    assert sorted(m["to"] for m in made) == expected
    with pytest.raises(KeyboardInterrupt):
        send_due(store, settings, DiesAfterTheServerTookIt(make_mailer(settings)), datetime.now(UTC))
    assert len([m for m in _sent(tmp_path) if "提醒" in str(m["Subject"])]) == 1
    as_if_dead(store)
    # The restart: the slot is planned again (nothing new), and the poll sends the rest.
    assert reminders.queue_reminders(store, settings, datetime.now(UTC)) == []
    assert run_intake("poll", config=cfg, cwd=tmp_path).returncode == 0
    assert run_intake("poll", config=cfg, cwd=tmp_path).returncode == 0
    sent = [str(m["To"]) for m in _sent(tmp_path) if "提醒" in str(m["Subject"])]
    assert sorted(sent) == expected
    with store.session() as repo:
        assert {m.state for m in repo.outgoing_mail() if m.kind == "reminder"} == {"sent"}


def test_daily_summary_goes_through_the_outbox_once_a_day(tmp_path: Path) -> None:
    from intake.jobs.daily import send_daily_summary
    from intake.mail.smtp import make_mailer

    cfg = embedded_config(tmp_path, summary={"recipients": ["office@aic.example.cn", "head@aic.example.cn"]})
    settings = load_settings(cfg)
    store = Store(settings.database.url, settings.archive.path)
    now = datetime.now(UTC)
    assert send_daily_summary(store, settings, make_mailer(settings), now) == 2
    assert send_daily_summary(store, settings, make_mailer(settings), now) == 0  # a restart: not again
    with store.session() as repo:
        rows = [m for m in repo.outgoing_mail() if m.kind == "summary"]
        assert sorted(m.to_addr for m in rows) == ["head@aic.example.cn", "office@aic.example.cn"]
        assert {m.state for m in rows} == {"sent"} and all("截至" in m.body for m in rows)
    # Asked for by hand, it goes again, and is on record too.
    done = run_intake("summary", "--send", config=cfg, cwd=tmp_path)
    assert done.returncode == 0 and "summary sent to 2 recipient(s)" in done.stdout, done.stderr
    with store.session() as repo:
        assert len([m for m in repo.outgoing_mail() if m.kind == "summary"]) == 4
    assert len([m for m in _sent(tmp_path) if "日报" in str(m["Subject"])]) == 4
