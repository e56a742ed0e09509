"""intake/campaign/rules.py: every rule at its edge, and order-independence of the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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
    intent: str = "initial",
    cls: str = "submission",
) -> MessageFacts:
    return MessageFacts(i, province, when, cls, intent)


def person(
    i: int,
    m: int,
    name: str,
    rank: int | None = None,
    chars: int | None = 800,
    kind: str = "individual",
    workplace: str = "某区市场监督管理局",
    opinions: tuple = (),
) -> NomineeFacts:  # type: ignore[type-arg]
    return NomineeFacts(i, m, kind, name, rank, "form", chars, workplace, opinions)


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
    out = evaluate([msg(1, when)], [person(1, 1, "甲")], PROVINCES, DEADLINE, 1500, when)
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
    out = evaluate([msg(1)], [person(1, 1, "甲", chars=chars)], PROVINCES, DEADLINE, 1500, DEADLINE)
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
    group = [person(i, 1, f"人{i}", rank=r) for i, r in enumerate(ranks)]
    got = ranking_problem(group)
    assert (problem in got) if problem else got == ""


def test_over_quota_needs_ranking() -> None:
    m = [msg(1)]
    unranked = [person(i, 1, f"人{i}") for i in range(3)]
    out = evaluate(m, unranked, PROVINCES, DEADLINE, 1500, DEADLINE)
    assert {("province", "over_quota_individuals", "bj"), ("province", "ranking_missing", "bj")} <= codes(out)
    ranked = [person(i, 1, f"人{i}", rank=i + 1) for i in range(3)]
    out = evaluate(m, ranked, PROVINCES, DEADLINE, 1500, DEADLINE)
    assert ("province", "over_quota_individuals", "bj") in codes(out)
    assert ("province", "ranking_missing", "bj") not in codes(out)
    at_quota = [person(i, 1, f"人{i}") for i in range(2)]
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
    out = evaluate([msg(1)], [person(1, 1, "甲", opinions=opinions)], PROVINCES, DEADLINE, 1500, DEADLINE)
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
    n = person(1, 1, name, kind=kind, workplace=workplace)
    out = evaluate([msg(1)], [n], PROVINCES, DEADLINE, 1500, DEADLINE)
    assert any(f.code == "eligibility_warning" for f in out.flags) is warn


def test_correction_replaces_supplement_adds() -> None:
    t = datetime(2017, 4, 20, tzinfo=UTC)
    messages = [
        msg(1, t),
        msg(2, t + timedelta(days=1), intent="correction"),
        msg(3, t + timedelta(days=2), intent="supplement"),
    ]
    nominees = [
        person(1, 1, "甲"),
        person(2, 1, "乙"),
        person(3, 2, "丙"),
        person(4, 3, "丁"),
        person(5, 1, "某区局", kind="unit"),
    ]
    out = evaluate(messages, nominees, PROVINCES, DEADLINE, 1500, DEADLINE)
    assert out.current == {1: False, 2: False, 3: True, 4: True, 5: True}  # the unit was not corrected
    assert ("message", "supersedes_earlier", 2) in codes(out)
    assert out.received[("bj", "individual")] == 2


def test_resend_of_the_same_nominees_replaces_and_counts_once() -> None:
    t = datetime(2017, 4, 20, tzinfo=UTC)
    messages = [msg(1, t), msg(2, t + timedelta(hours=1))]
    nominees = [person(1, 1, "甲"), person(2, 1, "乙"), person(3, 2, "甲"), person(4, 2, "乙")]
    out = evaluate(messages, nominees, PROVINCES, DEADLINE, 1500, DEADLINE)
    assert out.received[("bj", "individual")] == 2
    assert [k for k, v in out.current.items() if v] == [3, 4]


def test_duplicates_and_auto_replies_do_not_count() -> None:
    messages = [msg(1), msg(2, cls="duplicate"), msg(3, cls="auto_reply")]
    nominees = [person(1, 1, "甲"), person(2, 2, "乙")]
    out = evaluate(messages, nominees, PROVINCES, DEADLINE, 1500, DEADLINE)
    assert out.received[("bj", "individual")] == 1


MESSAGES = [
    (msg(1, datetime(2017, 4, 10, tzinfo=UTC)), [person(1, 1, "甲"), person(2, 1, "乙")]),
    (msg(2, datetime(2017, 4, 11, tzinfo=UTC), intent="supplement"), [person(3, 2, "丙", rank=3)]),
    (msg(3, datetime(2017, 4, 12, tzinfo=UTC), intent="correction"), [person(4, 3, "甲", rank=1)]),
    (msg(4, datetime(2017, 4, 13, tzinfo=UTC), province="hi"), [person(5, 4, "丁"), person(6, 4, "戊")]),
    (msg(5, datetime(2017, 5, 13, tzinfo=UTC), province="hi", intent="supplement"), [person(7, 5, "己")]),
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(range(len(MESSAGES))), min_size=1, max_size=12))
def test_any_order_or_repetition_gives_the_same_ledger(order: list[int]) -> None:
    """Messages are keyed by arrival time, so ingesting them in any order, or again, changes nothing."""
    chosen = sorted(set(order))
    reference = evaluate(
        [MESSAGES[i][0] for i in chosen],
        [n for i in chosen for n in MESSAGES[i][1]],
        PROVINCES,
        DEADLINE,
        1500,
        DEADLINE,
    )
    shuffled_msgs = [MESSAGES[i][0] for i in order]
    unique_msgs = list({m.id: m for m in shuffled_msgs}.values())
    unique_nominees = list({n.id: n for i in order for n in MESSAGES[i][1]}.values())
    got = evaluate(unique_msgs, unique_nominees, PROVINCES, DEADLINE, 1500, DEADLINE)
    assert got.received == reference.received
    assert got.current == reference.current
    assert sorted(map(repr, got.flags)) == sorted(map(repr, reference.flags))
