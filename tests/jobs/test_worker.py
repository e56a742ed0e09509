"""intake/jobs/worker.py and daily.py, intake/reports/summary.py and summary_book.py, and the worker lock."""

from __future__ import annotations

import io
import itertools
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from email import policy
from email.parser import BytesParser
from pathlib import Path

import openpyxl
import pytest

from intake.dev.demo import demo_messages, write_maildir
from intake.dev.samples import Person, Submission, build_message, person_name
from intake.jobs.daily import send_daily_summary
from intake.jobs.poll import run_once
from intake.jobs.worker import Worker, fire_times, poll_trigger, summary_trigger
from intake.mail.smtp import make_mailer
from intake.mail.sources.local import MaildirSource
from intake.reports.summary import build_summary, summary_mail
from intake.reports.summary_book import write_workbook
from store.locks import LockBusy, worker_lock
from store.repo import Store
from tests.conftest import cli_env, run_intake, write_config


def test_jobs_fire_at_the_configured_times_in_beijing(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(schedule={"poll_minutes": 10, "summary_at": "08:00"})
    start = datetime(2017, 4, 20, 23, 55, tzinfo=UTC)  # 07:55 in Beijing
    daily = fire_times(summary_trigger(settings), start, 3)
    assert [d.astimezone(settings.campaign.tz).strftime("%m-%d %H:%M") for d in daily] == [
        "04-21 08:00",
        "04-22 08:00",
        "04-23 08:00",
    ]
    assert daily[0] == datetime(2017, 4, 21, 0, 0, tzinfo=UTC)
    polls = fire_times(poll_trigger(settings), start, 4)
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(polls)}
    assert gaps == {600.0}


def test_poll_job_never_overlaps(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    store = Store(settings.database.url, settings.archive.path)
    worker = Worker(MaildirSource(settings.mailbox.maildir), store, settings, make_mailer(settings))
    jobs = {j.id: j for j in worker.scheduler.get_jobs()}
    assert jobs["poll"].max_instances == 1 and jobs["poll"].coalesce
    assert jobs["summary"].max_instances == 1
    # A second call while one is running returns at once instead of running alongside it.
    worker._running.acquire()
    worker.poll_job()
    assert worker.cycles == 0
    worker._running.release()
    worker.poll_job()
    assert worker.cycles == 1


def test_file_lock_refuses_a_second_worker(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "a")
    with worker_lock(store.engine, "imap://x"), pytest.raises(LockBusy):
        with worker_lock(store.engine, "imap://x"):
            pass
    with worker_lock(store.engine, "imap://x"):
        pass  # free again


def test_postgres_advisory_lock_refuses_a_second_worker(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url, tmp_path / "a")
    other = Store(db_url, tmp_path / "a", create=False)
    with worker_lock(store.engine, "imap://y"), pytest.raises(LockBusy):
        with worker_lock(other.engine, "imap://y", wait_seconds=1):
            pass
    with worker_lock(other.engine, "imap://y"):
        pass
    store.dispose()
    other.dispose()


def test_cli_poll_refuses_while_a_worker_holds_the_mailbox(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.toml",
        {
            "database": {"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
            "archive": {"path": str(tmp_path / "archive")},
            "mailbox": {"source": "maildir", "maildir": str(tmp_path / "inbox")},
            "smtp": {"outbox": str(tmp_path / "outbox")},
        },
    )
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "archive")
    with worker_lock(store.engine, f"maildir:{tmp_path / 'inbox'}"):
        proc = run_intake("poll", config=cfg, timeout=120)
    assert proc.returncode != 0
    assert "another worker is already working" in proc.stderr and "Traceback" not in proc.stderr


def _many(n: int) -> list[bytes]:
    rng = random.Random(5)
    out = []
    for i in range(n):
        s = Submission(
            "北京市",
            "fgdj-bj@aic.example.cn",
            people=[Person(person_name(rng) + str(i), "男", "北京市某区市场监督管理局科长")],
        )
        out.append(build_message(s, rng))
    return out


def test_sigterm_mid_cycle_loses_nothing(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    write_maildir(inbox, _many(40))
    cfg = write_config(
        tmp_path / "c.toml",
        {
            "database": {"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
            "archive": {"path": str(tmp_path / "archive")},
            "mailbox": {"source": "maildir", "maildir": str(inbox)},
            "smtp": {"outbox": str(tmp_path / "outbox")},
            "schedule": {"poll_minutes": 60},
            "receipts": {"per_sender_per_hour": 100},
        },
    )
    env = cli_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "intake.cli", "run", "--config", str(cfg)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path / "archive")
    deadline = time.monotonic() + 120
    processed = 0
    while time.monotonic() < deadline:
        with store.session() as repo:
            processed = sum(1 for m in repo.all_messages(with_children=False) if m.state == "processed")
        if processed >= 3:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "finishing the message in hand" in err
    with store.session() as repo:
        states = [m.state for m in repo.all_messages(with_children=False)]
    assert "processing" not in states and "failed" not in states
    # The rest is picked up by the next cycle, each message once.
    settings_env = run_intake("poll", config=cfg, env=env)
    assert settings_env.returncode == 0, settings_env.stderr
    with store.session() as repo:
        messages = repo.all_messages(with_children=False)
        assert len(messages) == 40 and {m.state for m in messages} == {"processed"}
        assert len(repo.nominees()) == 40
        assert len(repo.receipts_in(["sent"])) == 40
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 40


@pytest.fixture
def demo_store(make_settings, tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = make_settings()
    write_maildir(settings.mailbox.maildir, demo_messages())
    store = Store(settings.database.url, settings.archive.path)
    run_once(MaildirSource(settings.mailbox.maildir), store, settings, datetime.now(UTC), make_mailer(settings))
    return settings, store


def test_summary_workbook_read_back_cell_by_cell(demo_store) -> None:  # type: ignore[no-untyped-def]
    settings, store = demo_store
    with store.session() as repo:
        summary = build_summary(repo, settings, date(2017, 4, 21), datetime(2017, 4, 21, tzinfo=UTC))
    wb = openpyxl.load_workbook(io.BytesIO(write_workbook(summary)))
    assert wb.sheetnames == ["汇总", "人员名单", "问题清单", "邮件", "图表"]
    ws = wb["汇总"]
    assert ws["A1"].value == "推荐材料接收情况日报（2017-04-21）　汇总"
    assert [c.value for c in ws[2]][:5] == ["省份", "个人名额", "个人收到", "单位名额", "单位收到"]
    rows = {r[0]: r for r in ws.iter_rows(min_row=3, max_row=33, values_only=True)}
    assert len(rows) == 31
    assert rows["北京市"][1:5] == (6, 2, 2, 1)
    assert rows["海南省"][1:5] == (3, 4, 1, 0) and rows["海南省"][5] == "个人超1，单位缺1"
    assert rows["上海市"][6] == "是"
    assert rows["天津市"][5] == "未报送"
    total = [c.value for c in ws[34]]
    assert total[:5] == ["合计", 200, 11, 60, 1] and total[5] == "距报送截止还有 9 天"
    assert ws.freeze_panes == "A3" and ws.auto_filter.ref.startswith("A2:")
    hainan = next(row for row in ws.iter_rows(min_row=3, max_row=33) if row[0].value == "海南省")
    tianjin = next(row for row in ws.iter_rows(min_row=3, max_row=33) if row[0].value == "天津市")
    assert hainan[0].fill.fgColor.rgb.endswith("FFC7CE")  # problems filled in colour
    assert not str(tianjin[0].fill.fgColor.rgb).endswith("FFC7CE")
    people = wb["人员名单"]
    assert people.max_row == 2 + 12
    problems = [r[2] for r in wb["问题清单"].iter_rows(min_row=3, values_only=True)]
    assert {"事迹材料超长", "意见栏为空", "逾期报送", "发件地址未登记", "超名额未排序"} <= set(problems)
    assert wb["邮件"].max_row == 2 + 6
    assert {c.value for c in wb["邮件"]["D"][2:]} <= {"报送材料", "自动回复", "退信", "无关邮件", "重复邮件"}

    # Printing: every table sheet on A4, fitted to the width, its title and header on every page,
    # text wrapped, one font; the charts on their own sheet, one to a page, nothing under them.
    for name in ("汇总", "人员名单", "问题清单", "邮件"):
        sheet = wb[name]
        assert sheet.page_setup.orientation == "landscape" and int(sheet.page_setup.paperSize) == 9
        assert sheet.sheet_properties.pageSetUpPr.fitToPage
        assert (sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight) == (1, 0)
        assert sheet.print_title_rows == "$1:$2"
        assert not sheet._charts
        texts = [c for row in sheet.iter_rows(min_row=3) for c in row if isinstance(c.value, str) and c.value]
        assert texts and all(c.alignment.wrap_text for c in texts)
        fonts = {c.font.name for row in sheet.iter_rows() for c in row if c.value is not None}
        assert fonts == {"宋体"}, (name, fonts)
    charts = wb["图表"]
    assert len(charts._charts) == 2 and charts.max_row == 1
    assert [b.id for b in charts.row_breaks.brk] == [32]
    anchors = sorted(c.anchor._from.row for c in charts._charts)
    assert anchors == [1, 33]  # rows 2 and 34: one chart each side of the page break
    for c in charts._charts:
        assert c.anchor.ext.height == 14 * 360000  # 14 cm: one chart fits a landscape page


def test_summary_mail_received_with_a_readable_filename(demo_store, smtp, make_settings) -> None:  # type: ignore[no-untyped-def]
    settings, store = demo_store
    handler, port = smtp
    smtp_settings = make_settings(
        smtp={"host": "127.0.0.1", "port": port, "security": "none", "username": ""},
        summary={"recipients": ["office@hq.example.cn", "chief@hq.example.cn"]},
        database={"url": settings.database.url},
    )
    sent = send_daily_summary(store, smtp_settings, make_mailer(smtp_settings), datetime(2017, 4, 21, tzinfo=UTC))
    assert sent == 2 and len(handler.received) == 2
    m = BytesParser(policy=policy.default).parsebytes(handler.received[0].data)
    assert m["Subject"] == "推荐材料接收情况日报（2017-04-21）"
    body = m.get_body(("plain",)).get_content()
    assert "个人：收到11名，名额200名" in body and "尚未报送：天津市" in body
    (att,) = list(m.iter_attachments())
    assert att.get_filename() == "推荐材料接收日报2017-04-21.xlsx"
    raw = handler.received[0].data
    assert b'filename="=?utf-8?b?' in raw and b"spreadsheetml.sheet;" in raw
    wb = openpyxl.load_workbook(io.BytesIO(att.get_content()))
    assert wb.sheetnames[0] == "汇总"


def test_cli_summary_names_all_provinces(demo_store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings, _ = demo_store
    cfg = write_config(
        tmp_path / "s.toml",
        {
            "database": {"url": settings.database.url},
            "archive": {"path": str(settings.archive.path)},
            "mailbox": {"source": "maildir", "maildir": str(settings.mailbox.maildir)},
            "smtp": {"outbox": str(settings.smtp.outbox)},
        },
    )
    env = cli_env(COLUMNS="200")
    out = tmp_path / "日报.xlsx"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "intake.cli",
            "summary",
            "--date",
            "2017-04-21",
            "--xlsx",
            str(out),
            "--config",
            str(cfg),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    ws = openpyxl.load_workbook(out)["汇总"]
    names = [r[0] for r in ws.iter_rows(min_row=3, max_row=33, values_only=True)]
    assert len(set(names)) == 31 and "新疆维吾尔自治区" in names
    assert "北京市" in proc.stdout


def test_summary_mail_unit(demo_store) -> None:  # type: ignore[no-untyped-def]
    settings, store = demo_store
    with store.session() as repo:
        summary = build_summary(repo, settings, date(2017, 4, 21), datetime(2017, 4, 21, tzinfo=UTC))
    msg = summary_mail(summary, settings, b"PK")
    assert msg["Auto-Submitted"] == "auto-generated"
