"""intake/campaign/rules.py: every rule at its edge, and order-independence of the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from intake.campaign.rules import MessageFacts, NomineeFacts, evaluate, opinion_empty, ranking_problem
from intake.core.settings import Province
from intake.ingest.record import received_time
from parsers.mime import parse_message
from parsers.wordcount import WordCount, count_words

DEADLINE = datetime.fromisoformat("2017-04-30T23:59:59+08:00")
PROVINCES = (
    Province(code="bj", name="北京市", individuals=2, units=1),
    Province(code="hi", name="海南省", individuals=1, units=1),
)


def msg(
    i: int,
    when: datetime = datetime(2017, 4, 20, tzinfo=UTC),
    province: str = "bj",
    cls: str = "submission",
) -> MessageFacts:
    return MessageFacts(i, province, when, cls)


def person(
    i: int,
    name: str,
    rank: int | None = None,
    chars: int | None = 800,
    kind: str = "individual",
    workplace: str = "某区市场监督管理局",
    opinions: tuple = (),
    province: str = "bj",
    current: bool = True,
) -> NomineeFacts:  # type: ignore[type-arg]
    return NomineeFacts(i, province, kind, name, rank, chars, current, workplace, opinions)


def codes(outcome, scope: str | None = None) -> set[tuple]:  # type: ignore[no-untyped-def,type-arg]
    key = {"province": lambda f: f.province, "nominee": lambda f: f.nominee, "message": lambda f: f.message}
    return {(f.scope, f.code, key[f.scope](f)) for f in outcome.flags if scope is None or f.scope == scope}


@pytest.mark.parametrize(
    ("when", "late"),
    [
        (DEADLINE, False),
        (DEADLINE + timedelta(seconds=1), True),
        (datetime.fromisoformat("2017-04-30T15:59:59+00:00"), False),  # the same instant, written in UTC
        (datetime.fromisoformat("2017-04-30T16:00:00+00:00"), True),
    ],
)
def test_late_at_the_edge(when: datetime, late: bool) -> None:
    out = evaluate([msg(1, when)], [person(1, "甲")], PROVINCES, DEADLINE, 1500, when)
    assert (("message", "late", 1) in codes(out)) is late
    assert (("province", "late", "bj") in codes(out)) is late


def test_internaldate_wins_over_a_date_header_in_utc() -> None:
    raw = (
        b"From: a@b.cn\r\nSubject: s\r\nDate: Sun, 30 Apr 2017 15:00:00 +0000\r\n"
        b"Received: from x by y; Mon, 01 May 2017 08:30:00 +0800\r\n\r\nbody\r\n"
    )
    parsed = parse_message(raw)
    now = datetime.now(UTC)
    internal = datetime.fromisoformat("2017-05-01T08:31:00+08:00")
    assert received_time(internal, parsed, now) == (internal, "internaldate")
    got, source = received_time(None, parsed, now)
    assert source == "received" and got > DEADLINE  # the Date header alone would have said "in time"
    parsed.first_received = None
    got, source = received_time(None, parsed, now)
    assert source == "date" and got < DEADLINE


@pytest.mark.parametrize(("chars", "flag"), [(1500, None), (1501, "narrative_too_long"), (None, "narrative_missing")])
def test_narrative_limit(chars: int | None, flag: str | None) -> None:
    out = evaluate([msg(1)], [person(1, "甲", chars=chars)], PROVINCES, DEADLINE, 1500, DEADLINE)
    got = {f.code for f in out.flags if f.scope == "nominee"}
    assert got == ({flag} if flag else set())


def test_word_count_table() -> None:
    cases = {"2024年": 2, "Hello、World。": 4, "１２３４５": 5, "事迹 材料": 4, "": 0, "a-b c": 2, "第1名": 3}
    assert {t: count_words(t).words for t in cases} == cases
    assert count_words("事迹 材料").chars_nospace == 4
    text = "字" * 1500
    assert count_words(text).words == 1500 and count_words(text + "。").words == 1501


def test_word_count_of_a_text_of_every_character_stays_small() -> None:
    from parsers.wordcount import _CLASSES

    # Every ideograph of the basic block and of extension B, once each: 63,712 characters.
    every = "".join(chr(c) for c in [*range(0x4E00, 0xA000), *range(0x20000, 0x2A6E0)])
    assert count_words(every) == WordCount(len(every), len(every))
    assert len(_CLASSES) <= _CLASSES.KEPT
    assert count_words("2024年 事迹 材料").words == 6  # the table started afresh reads right


@pytest.mark.parametrize(
    ("ranks", "problem"),
    [
        ([1, 2, 3], ""),
        ([1, 3, 2], ""),
        ([1, 2, 4], "缺 3"),
        ([1, 1, 2], "排序 1 重复"),
        ([None, None, None], "未注明排序"),
        ([1, None, 2], "人1 未注明排序"),
    ],
)
def test_ranking(ranks: list[int | None], problem: str) -> None:
    group = [person(i, f"人{i}", rank=r) for i, r in enumerate(ranks)]
    got = ranking_problem(group)
    assert (problem in got) if problem else got == ""


def test_over_quota_needs_ranking() -> None:
    m = [msg(1)]
    unranked = [person(i, f"人{i}") for i in range(3)]
    out = evaluate(m, unranked, PROVINCES, DEADLINE, 1500, DEADLINE)
    assert {("province", "over_quota_individuals", "bj"), ("province", "ranking_missing", "bj")} <= codes(out)
    ranked = [person(i, f"人{i}", rank=i + 1) for i in range(3)]
    out = evaluate(m, ranked, PROVINCES, DEADLINE, 1500, DEADLINE)
    assert ("province", "over_quota_individuals", "bj") in codes(out)
    assert ("province", "ranking_missing", "bj") not in codes(out)
    at_quota = [person(i, f"人{i}") for i in range(2)]
    assert not codes(evaluate(m, at_quota, PROVINCES, DEADLINE, 1500, DEADLINE), "province")


@pytest.mark.parametrize(
    ("text", "empty"),
    [
        ("", True),
        ("（盖章）\n年　月　日", True),
        ("(盖 章)  2017年 月 日", True),
        ("签字：\n年 月 日", True),
        ("同意推荐。\n（盖章）\n2017年4月20日", False),
        ("同意", False),
    ],
)
def test_opinion_placeholders(text: str, empty: bool) -> None:
    assert opinion_empty(text) is empty


def test_opinion_missing_only_for_checked_opinions() -> None:
    opinions = (
        ("推荐单位意见", "同意", "recommender"),
        ("组织部门意见", "（盖章）年 月 日", "organization"),
        ("省局意见", "", "other"),
    )
    out = evaluate([msg(1)], [person(1, "甲", opinions=opinions)], PROVINCES, DEADLINE, 1500, DEADLINE)
    details = [f.detail for f in out.flags if f.code == "opinion_missing"]
    assert details == ["组织部门意见为空"]


@pytest.mark.parametrize(
    ("kind", "name", "workplace", "warn"),
    [
        ("individual", "甲", "某区市场监督管理局科长", False),
        ("individual", "甲", "某县工商局", False),
        ("individual", "甲", "某县人民政府办公室", True),
        ("individual", "甲", "", False),
        ("unit", "北京市海淀区市场监督管理局", "", False),
        ("unit", "北京市工商行政管理局", "", True),
        ("unit", "北京市工商局朝阳分局", "", False),
        ("unit", "北京市市场监督管理局", "", True),
        ("unit", "杭州市市场监督管理局", "", False),
    ],
)
def test_eligibility(kind: str, name: str, workplace: str, warn: bool) -> None:
    n = person(1, name, kind=kind, workplace=workplace)
    out = evaluate([msg(1)], [n], PROVINCES, DEADLINE, 1500, DEADLINE)
    assert any(f.code == "eligibility_warning" for f in out.flags) is warn


def test_only_current_nominees_count_and_are_checked() -> None:
    """Replaced and withdrawn nominees (the dossiers say which) are out of the count and the checks."""
    nominees = [person(1, "甲"), person(2, "乙"), person(3, "丙", chars=None, current=False)]
    out = evaluate([msg(1)], nominees, PROVINCES, DEADLINE, 1500, DEADLINE)
    assert out.received[("bj", "individual")] == 2
    assert not codes(out, "nominee") and not codes(out, "province")


def test_a_decided_province_is_asked_for_no_ranking() -> None:
    unranked = [person(i, f"人{i}") for i in range(3)]
    out = evaluate([msg(1)], unranked, PROVINCES, DEADLINE, 1500, DEADLINE)
    assert ("province", "ranking_missing", "bj") in codes(out)
    decided = [NomineeFacts(n.id, n.province, n.kind, n.name, n.rank, 800, decided=True) for n in unranked]
    out = evaluate([msg(1)], decided, PROVINCES, DEADLINE, 1500, DEADLINE)
    assert ("province", "ranking_missing", "bj") not in codes(out)
    assert ("province", "over_quota_individuals", "bj") in codes(out)


def test_duplicates_and_auto_replies_are_never_late() -> None:
    late = DEADLINE + timedelta(days=1)
    out = evaluate([msg(1, late, cls="duplicate"), msg(2, late, cls="auto_reply")], [], PROVINCES, DEADLINE, 1500, late)
    assert not codes(out)
