"""intake/campaign/standing.py: one standing, read by every answer. For a realistic campaign, the
board, the province page, the message page, the receipt, the reminder draft and the summary list
the same open problems; a problem a person checked is shown as checked everywhere (and asked of
nobody)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from intake.campaign.standing import Standing
from intake.core.settings import Settings
from intake.jobs.poll import run_once
from intake.mail.smtp import make_mailer
from intake.mail.sources.local import FilesSource
from intake.office.checks import confirm_flag
from intake.outbox.receipts import message_report
from intake.outbox.reminders import plan_reminders
from intake.reports.documents import collect
from intake.reports.summary import build_summary
from intake.web.pages.board import board
from intake.web.pages.message import message_page
from intake.web.pages.nominees import NomineeFilter, nominees_list
from intake.web.pages.province import province_page
from store.repo import Store
from tests.jobs.test_poll import build_mailbox


def _line(p: dict[str, Any]) -> str:
    who = f"{p['who']}：" if p["who"] else ""
    return f"{who}{p['label']}（{p['detail']}）" if p["detail"] else f"{who}{p['label']}"


def _answers_agree(store: Store, settings: Settings) -> dict[str, list[str]]:
    """Compare every answer; return each province's open problems."""
    deadline = settings.campaign.deadline
    now = deadline - timedelta(days=2)  # the 3-days-before reminder slot is due
    opened: dict[str, list[str]] = {}
    with store.session() as repo:
        standing = Standing(repo, settings)
        rows = {r.code: r for r in board(repo, settings, now)["rows"]}
        summary = build_summary(repo, settings, now.astimezone(settings.campaign.tz).date(), now)
        reminded: dict[str, list[str]] = {}
        for plan in plan_reminders(repo, settings, now):
            reminded[plan["province"].code] = sorted(plan["problems"])
        for p in settings.provinces:
            page = province_page(repo, settings, p.code)
            assert page is not None
            lines = sorted(_line(x) for x in page["open_problems"])
            opened[p.code] = lines
            assert rows[p.code].problems == len(lines), p.name
            assert sorted(_line(x) for x in summary.problems if x["province"] == p.name) == lines, p.name
            if rows[p.code].messages:
                assert reminded.get(p.code, []) == lines, p.name
        for m in repo.all_messages():
            if m.classification != "submission" or m.province_code is None:
                continue
            page = message_page(repo, settings, m.id)
            assert page is not None
            report = message_report(repo, m, settings, standing)
            assert sorted(page["problems"]) == sorted(_line(x) for x in report["problems"]), m.subject
            assert all(line in opened[m.province_code] for line in page["problems"]), m.subject
    return opened


def test_every_answer_lists_the_same_open_problems_and_a_check_everywhere(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    paths = []
    for i, (raw, _when) in enumerate(build_mailbox()[0]):
        path = tmp_path / "mail" / f"{i:03d}.eml"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(raw)
        paths.append(path)
    store = Store(settings.database.url, settings.archive.path)
    run_once(FilesSource(paths), store, settings, datetime.now(UTC), make_mailer(settings))
    before = _answers_agree(store, settings)
    with store.session() as repo:
        standing = Standing(repo, settings)
        problems = standing.open_problems(standing.all_standing())
    # A campaign with problems of every scope and many kinds.
    assert {p.scope for p in problems} == {"message", "nominee", "province"}
    assert len({p.code for p in problems}) >= 4, sorted({p.code for p in problems})

    # A person checks a nominee's problem and a message's.
    nominee = next(p for p in problems if p.scope == "nominee")
    message = next(p for p in problems if p.scope == "message")
    for p in (nominee, message):
        confirm_flag(store, p.flag_id, by="审核员", note="已电话核实")
    after = _answers_agree(store, settings)
    for p in (nominee, message):
        line = p.line()
        code = p.province or ""
        assert line in before[code] and line not in after[code]
    with store.session() as repo:
        page = province_page(repo, settings, nominee.province or "")
        assert page is not None
        assert nominee.line() in [_line(x) for x in page["checked_problems"]]
        shown = message_page(repo, settings, message.message_id or 0)
        assert shown is not None
        assert any(f["checked"] and f["id"] == message.flag_id for f in shown["flags"])
        # The nominee list and the 审核名单 show only what is still open.
        (row,) = [r for r in nominees_list(repo, settings, NomineeFilter()) if r["id"] == nominee.nominee_id]
        assert nominee.code not in row["flag_codes"]
        entries = [e for g in collect(repo, settings) for e in g.units + g.individuals if e.id == nominee.nominee_id]
        assert entries and all(nominee.label not in e.flags for e in entries)
    store.dispose()
