"""intake/campaign/dossiers.py and derive.py: a nominee's materials joined over several mails, each
shape of mail a province really sends, and the same dossiers whatever order the mails are read in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from intake.campaign.derive import derive, list_problems, replacements
from intake.campaign.dossiers import Assembly, MatFact, MessageFact, assemble
from parsers.names import normal_name

T0 = datetime(2017, 4, 20, 2, tzinfo=UTC)


class Mail:
    """Mails of one province, built one material at a time."""

    def __init__(self) -> None:
        self.messages: list[MessageFact] = []
        self.materials: list[MatFact] = []

    def send(self, day: int, words: str = "", *, replaces: bool = False, province: str = "gz") -> int:
        pk = len(self.messages) + 1
        self.messages.append(MessageFact(pk, province, T0 + timedelta(days=day), words, replaces))
        return pk

    def add(self, message: int, kind: str, name: str = "", person_kind: str = "individual", **more: object) -> None:
        fields = dict(more.pop("fields", {}) or {})  # type: ignore[call-overload]
        self.materials.append(
            MatFact(
                id=len(self.materials) + 1,
                message=message,
                position=len([x for x in self.materials if x.message == message]),
                kind=kind,
                person_kind=person_kind if kind != "narrative" else "",
                name=name if kind != "narrative" else "",
                key=normal_name(name) if kind != "narrative" else "",
                birth=str(more.pop("birth", "")),
                rank=more.pop("rank", None),  # type: ignore[arg-type]
                fields=fields,
                info=dict(more.pop("info", {}) or {}),  # type: ignore[call-overload]
                words=more.pop("words", 900 if kind == "narrative" else None),  # type: ignore[arg-type]
            )
        )

    def form(self, message: int, name: str, **more: object) -> None:
        self.add(message, "form", name, **more)

    def row(self, message: int, name: str, **more: object) -> None:
        self.add(message, "list_row", name, **more)

    def narrative(self, message: int, file: str, head: str = "", **more: object) -> None:
        self.add(message, "narrative", info={"file": file, "head": [head] if head else []}, **more)

    def assemble(self) -> Assembly:
        return assemble(self.messages, self.materials)


def _by_name(a: Assembly) -> dict[str, dict[str, object]]:
    replaced = replacements(a)
    out = {}
    for d in a.dossiers:
        got = derive(a, d, {}, replaced)
        out[got.name] = {
            "current": d.current,
            "narrative": got.narrative_words,
            "problems": [c for c, _ in list_problems(a, d)],
            "kinds": [x.kind for x in d.materials],
            "dossier": d,
        }
    return out


def test_a_narrative_sent_a_day_later_joins_the_nominee_its_file_names() -> None:
    mail = Mail()
    first = mail.send(0, "贵州省推荐材料")
    mail.form(first, "吴杰")
    mail.form(first, "曹志强")
    later = mail.send(1, "贵州省补报事迹材料（吴杰、曹志强）\n吴杰事迹材料.docx 曹志强同志事迹材料.docx")
    mail.narrative(later, "吴杰事迹材料.docx")
    mail.narrative(later, "曹志强同志事迹材料.docx")
    a = mail.assemble()
    got = _by_name(a)
    assert set(got) == {"吴杰", "曹志强"} and not a.unmatched
    assert got["吴杰"]["kinds"] == ["form", "narrative"] and got["曹志强"]["narrative"] == 900


def test_a_narrative_that_comes_first_waits_for_its_nominee() -> None:
    mail = Mail()
    early = mail.send(0, "补报材料")
    mail.narrative(early, "事迹材料.docx", head="热依拉·买买提同志先进事迹")
    later = mail.send(2, "推荐表")
    mail.form(later, "热依拉.买买提")
    a = mail.assemble()
    (only,) = a.dossiers
    assert [x.kind for x in only.materials] == ["narrative", "form"] and not a.unmatched


def test_the_same_person_however_the_dots_are_written() -> None:
    mail = Mail()
    m = mail.send(0, "新疆推荐材料")
    for name in ("热依拉.买买提", "阿依古丽・吐尔逊"):
        mail.row(m, name)
    for name in ("热依拉·买买提", "阿依古丽·吐尔逊"):
        mail.form(m, name)
        mail.narrative(m, f"{name}事迹材料.docx")
    got = _by_name(mail.assemble())
    assert len(got) == 2
    assert all(v["problems"] == [] for v in got.values())  # nobody form_missing, nobody not_listed


def test_two_people_of_one_name_only_when_both_give_a_birth_that_differs() -> None:
    mail = Mail()
    m = mail.send(0)
    mail.form(m, "张伟", birth="1975-03")
    mail.form(m, "张伟", birth="1982-11")
    mail.row(m, "张伟")  # a list row without a birth, and a shortened 工作单位: no third person
    later = mail.send(1, "补报事迹材料")
    mail.narrative(later, "张伟事迹材料.docx")
    a = mail.assemble()
    assert len(a.dossiers) == 2
    assert [why for _, why in a.unmatched] == ["ambiguous"]  # which 张伟: the office says


def test_a_correction_in_its_own_words_with_its_list_replaces_the_set() -> None:
    mail = Mail()
    first = mail.send(0, "吉林省推荐材料")
    for name in ("冯伟", "邓丽"):
        mail.form(first, name)
    fix = mail.send(1, "吉林省推荐材料（更正，以此为准）", replaces=True)
    mail.form(fix, "曹明")
    mail.row(fix, "曹明")
    a = mail.assemble()
    got = _by_name(a)
    assert got["曹明"]["current"] and not got["冯伟"]["current"] and not got["邓丽"]["current"]
    assert a.replaced_sets == {fix: 2}


def test_a_correction_carrying_everyone_on_record_replaces_the_set_one_form_only_updates() -> None:
    mail = Mail()
    first = mail.send(0)
    for name in ("甲一", "乙二"):
        mail.form(first, name, rank=1)
    full = mail.send(1, "重新报送，以此为准", replaces=True)
    for name in ("甲一", "乙二", "丙三"):
        mail.form(full, name, rank=2)
    one = mail.send(2, "更正甲一的推荐表", replaces=True)
    mail.form(one, "甲一", rank=3)
    a = mail.assemble()
    got = _by_name(a)
    assert all(v["current"] for v in got.values()) and len(got) == 3
    assert a.replaced_sets == {full: 2}  # the one-form correction replaced only its own form
    replaced = replacements(a)
    jia = got["甲一"]["dossier"]
    assert [replaced.get(x.id) for x in jia.materials] == [full, one, None]  # type: ignore[attr-defined]
    assert derive(a, jia, {}, replaced).rank == 3  # type: ignore[arg-type]


def test_words_that_are_only_quoted_replace_nothing() -> None:
    """A reply quoting our receipt (which says 注明“更正”) is no correction: its own words decide."""
    mail = Mail()
    first = mail.send(0)
    for name in ("甲一", "乙二"):
        mail.form(first, name)
    reply = mail.send(1, "补报丙三的材料")  # the classifier read no 更正 in its own words
    mail.form(reply, "丙三")
    mail.row(reply, "丙三")
    got = _by_name(mail.assemble())
    assert all(v["current"] for v in got.values())


def test_a_nominee_is_dropped_when_the_province_withdraws_them_by_name() -> None:
    mail = Mail()
    first = mail.send(0)
    for name in ("甲一", "乙二"):
        mail.form(first, name)
    mail.send(3, "关于撤回乙二同志推荐的说明\n经研究，不再推荐乙二同志。")
    got = _by_name(mail.assemble())
    assert got["甲一"]["current"] and not got["乙二"]["current"]
    assert got["乙二"]["dossier"].withdrawn  # type: ignore[attr-defined]


def test_one_file_holding_several_narratives_counts_each() -> None:
    from intake.campaign.derive import split_sections

    text = "吴杰同志事迹\n" + "甲" * 300 + "\n曹志强同志事迹\n" + "乙" * 1600
    sections = split_sections(text, ["吴杰", "曹志强"])
    assert len(sections["吴杰"]) < 400 and len(sections["曹志强"]) > 1600
    mail = Mail()
    m = mail.send(0)
    mail.form(m, "吴杰")
    mail.form(m, "曹志强")
    mail.narrative(m, "吴杰、曹志强事迹材料.docx")
    a = mail.assemble()
    texts = {x.id: text for d in a.dossiers for x in d.materials if x.kind == "narrative"}
    words = {d.key: derive(a, d, texts, replacements(a)).narrative_words for d in a.dossiers}
    assert words["吴杰"] < 400 < 1600 < words["曹志强"]  # type: ignore[operator]


MAILS = [
    (0, "初报", [("form", "甲一"), ("form", "乙二"), ("narrative", "甲一事迹材料.docx")]),
    (1, "补报", [("narrative", "乙二事迹材料.docx")]),
    (2, "补报事迹", [("narrative", "丙三事迹材料.docx")]),
    (3, "补报推荐表", [("form", "丙三")]),
    (4, "汇总表", [("list_row", "甲一"), ("list_row", "乙二"), ("list_row", "丙三")]),
    (5, "更正乙二", [("form", "乙二")]),
]


def _campaign(order: list[int]) -> list[tuple[str, bool, tuple[tuple[int, str], ...]]]:
    mail = Mail()
    for i in order:
        day, words, items = MAILS[i]
        pk = i + 1
        mail.messages.append(MessageFact(pk, "gz", T0 + timedelta(days=day), words, False))
        for kind, name in items:
            if kind == "narrative":
                mail.narrative(pk, name)
            else:
                mail.add(pk, kind, name)
    a = mail.assemble()
    return sorted((d.key, d.current, tuple((x.message, x.kind) for x in d.materials)) for d in a.dossiers)


@settings(max_examples=60, deadline=None)
@given(st.permutations(range(len(MAILS))))
def test_any_order_of_reading_gives_the_same_dossiers(order: list[int]) -> None:
    """Mails are taken by when they arrived: read in any order (a reprocess, two workers), the
    dossiers are the same, and nobody is recorded twice."""
    reference = _campaign(list(range(len(MAILS))))
    assert _campaign(list(order)) == reference
    assert [key for key, _, _ in reference] == ["丙三", "乙二", "甲一"]
