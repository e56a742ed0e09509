"""The documents the office issues from the review states: 审核名单.xlsx for the leading group,
公示名单.docx, and 通报表扬.docx in the layout of GB/T 9704-2012 (党政机关公文格式), with a PDF of
each where LibreOffice is installed.

Provinces stand in the official order (GB/T 2260 code order, the order of the campaign's quota
table), units before individuals, each by rank. Each Word document is a .docx template the office
edits in Word or WPS (``templates/gongshi.docx``, ``templates/tongbao.docx``, copied there by
``init``; made by ``intake.dev.doc_templates``), its fields filled from ``[documents]``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from docxtpl import DocxTemplate
from jinja2 import TemplateError

from intake.campaign.standing import Standing
from intake.core.errors import ConfigError
from intake.core.settings import Settings
from intake.core.templates import template_folders
from intake.core.text import display_name
from intake.core.time import cn_date
from intake.core.vocabulary import REVIEW_STATES, labels
from intake.ingest.convert import ConversionError, convert, office_binary
from intake.reports import workbooks
from store.repo import Repo

log = logging.getLogger(__name__)


@dataclass
class Entry:
    id: int
    kind: str
    name: str
    rank: int | None
    workplace: str
    narrative_chars: int | None
    flags: list[str]
    state: str
    reason: str
    held: list[str] = field(default_factory=list)  # open problems that keep it out of the documents


@dataclass
class ProvinceEntries:
    code: str
    name: str
    units: list[Entry] = field(default_factory=list)
    individuals: list[Entry] = field(default_factory=list)


def collect(repo: Repo, settings: Settings) -> list[ProvinceEntries]:
    """Current nominees by province in the official order, units then individuals, by rank; each
    with its open problems (one a person checked is not one)."""
    reviews = repo.review_states()
    standing = Standing(repo, settings)
    out = {p.code: ProvinceEntries(p.code, p.name) for p in settings.provinces}
    for n in repo.nominees():
        if not n.current or n.province_code not in out:
            continue
        review = reviews.get(n.id)
        state = review.state if review else "pending"
        problems = standing.open_problems(standing.of_nominee(n.id))
        entry = Entry(
            id=n.id,
            kind=n.kind,
            name=display_name(n.name),
            rank=n.rank,
            workplace=display_name(str((n.fields or {}).get("workplace", ""))),
            narrative_chars=n.narrative_chars,
            flags=[p.label for p in problems],
            state=state,
            reason=review.reason if review else "",
            held=[p.label for p in standing.of_nominee(n.id) if p.open and p.code in HELD_FROM_DOCUMENTS],
        )
        group = out[n.province_code]
        (group.units if n.kind == "unit" else group.individuals).append(entry)
    for group in out.values():
        for entries in (group.units, group.individuals):
            entries.sort(key=lambda e: (e.rank is None, e.rank or 0, e.id))
    return list(out.values())


# --------------------------------------------------------------------------- 审核名单.xlsx


def review_workbook(groups: list[ProvinceEntries], title: str, day: date) -> bytes:
    wb = workbooks.new_workbook()
    ws = wb.active
    ws.title = "审核名单"
    headers = [
        "序号",
        "省份",
        "类别",
        "姓名/单位名称",
        "排序",
        "工作单位及职务",
        "事迹字数",
        "问题",
        "审核状态",
        "理由",
    ]
    widths = [6, 12, 6, 26, 6, 30, 8, 20, 10, 24]
    rows: list[list[object]] = []
    for g in groups:
        for e in g.units + g.individuals:
            rows.append(
                [
                    len(rows) + 1,
                    g.name,
                    labels("kind", e.kind),
                    e.name,
                    e.rank,
                    e.workplace,
                    e.narrative_chars,
                    "、".join(e.flags),
                    REVIEW_STATES[e.state],
                    e.reason,
                ]
            )
    heading = f"{title}审核名单（{cn_date(day)}）"
    workbooks.table(ws, heading, headers, rows, widths, heading=heading)
    return workbooks.saved(wb)


# --------------------------------------------------------------------------- Word documents


def template_file(settings: Settings, name: str) -> Path:
    """The office's own template (its ``templates`` folder, as ``init`` copied it), else the
    shipped one."""
    for folder in template_folders(settings):
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    raise ConfigError(f"template {name} not found in {settings.templates}")


def publicity_period(
    start: date, days: int, holidays: tuple[date, ...], workdays: tuple[date, ...]
) -> tuple[date, date]:
    """The first and last day of a 公示 of ``days`` working days from ``start`` (a day off moves
    the start to the next working day): weekends and ``holidays`` skipped, ``workdays`` (weekend
    days worked in exchange for a holiday) counted."""

    def working(d: date) -> bool:
        return d in workdays or (d.weekday() < 5 and d not in holidays)

    first = start
    while not working(first):
        first += timedelta(days=1)
    last, counted = first, 1
    while counted < days:
        last += timedelta(days=1)
        counted += working(last)
    return first, last


def _groups(groups: list[ProvinceEntries], units: bool) -> list[dict[str, str]]:
    out = []
    for g in groups:
        entries = g.units if units else g.individuals
        if entries:
            out.append({"province": g.name, "names": _names(entries, with_post=not units)})
    return out


def _names(entries: list[Entry], with_post: bool) -> str:
    if with_post:
        return "；".join(f"{e.name}（{e.workplace}）" if e.workplace else e.name for e in entries)
    return "；".join(e.name for e in entries)


def document_context(groups: list[ProvinceEntries], settings: Settings, day: date) -> dict[str, Any]:
    """What the templates' fields are filled with."""
    d = settings.documents
    first, last = publicity_period(d.publicity_start or day, d.publicity_days, d.holidays, d.workdays)
    ways = "；".join(
        f"{label}：{value}"
        for label, value in (("电话", d.objection_phone), ("电子邮箱", d.objection_mail), ("地址", d.objection_address))
        if value
    )
    return {
        "campaign_title": f"《关于{settings.campaign.title}工作的通知》",
        "list_title": f"{settings.campaign.title.removesuffix('推荐')}名单",
        "units": sum(len(g.units) for g in groups),
        "individuals": sum(len(g.individuals) for g in groups),
        "unit_groups": _groups(groups, units=True),
        "people_groups": _groups(groups, units=False),
        "issuer": d.issuer,
        "number": d.number.replace("{year}", str(day.year)),
        "signer": d.signer,
        "recipients": d.recipients,
        "copy_to": d.copy_to,
        "printed_by": d.printed_by,
        "printed_on": cn_date(day),
        "publicity_by": d.publicity_by,
        "date": cn_date(day),
        "publicity": {"start": cn_date(first), "end": cn_date(last), "days": d.publicity_days},
        "objection": {"unit": d.objection_unit, "ways": f"（{ways}）" if ways else ""},
    }


def render_docx(settings: Settings, name: str, context: dict[str, Any]) -> bytes:
    """The office's template ``name`` with its fields filled; every value escaped, so a name from
    mail is only ever text in the document."""
    template = DocxTemplate(str(template_file(settings, name)))
    try:
        template.render(context, autoescape=True)
    except TemplateError as exc:
        raise ConfigError(f"template {name}: {exc}") from exc
    buf = io.BytesIO()
    template.save(buf)
    return buf.getvalue()


# --------------------------------------------------------------------------- all three

NAMES = ("审核名单.xlsx", "公示名单.docx", "通报表扬.docx")
# What no document prints until a person has confirmed it: text that looks like a formula, fields
# read from a scan by text recognition.
HELD_FROM_DOCUMENTS = frozenset({"suspicious_text", "read_by_ocr"})


def withheld(groups: list[ProvinceEntries]) -> list[tuple[str, Entry]]:
    """(province name, entry) of every approved nominee kept out of 公示 and 通报 until confirmed."""
    return [(g.name, e) for g in approved(groups) for e in (*g.units, *g.individuals) if e.held]


def _keep(groups: list[ProvinceEntries], keep: Callable[[Entry], bool]) -> list[ProvinceEntries]:
    return [
        ProvinceEntries(g.code, g.name, [e for e in g.units if keep(e)], [e for e in g.individuals if keep(e)])
        for g in groups
    ]


def approved(groups: list[ProvinceEntries]) -> list[ProvinceEntries]:
    return _keep(groups, lambda e: e.state == "approved")


def documents(everyone: list[ProvinceEntries], settings: Settings, day: date) -> dict[str, bytes]:
    """The three documents, by file name, from every current nominee (``collect``): 审核名单 of
    them all; 公示名单 (the opening, the 公示期, where objections go, the lists) and 通报表扬
    (版头, the decision, its list as the attachment, 版记) of the approved ones not held."""
    shown = _keep(approved(everyone), lambda e: not e.held)
    context = document_context(shown, settings, day)
    return {
        "审核名单.xlsx": review_workbook(everyone, settings.campaign.title, day),
        "公示名单.docx": render_docx(settings, "gongshi.docx", context),
        "通报表扬.docx": render_docx(settings, "tongbao.docx", context),
    }


def build(repo: Repo, settings: Settings, now: datetime) -> dict[str, bytes]:
    """The three documents, by file name, as of ``now``."""
    return documents(collect(repo, settings), settings, now.astimezone(settings.campaign.tz).date())


def with_pdfs(documents: dict[str, bytes], timeout: float) -> dict[str, bytes]:
    """A PDF of each Word document, converted by LibreOffice where it is installed (else none: the
    .docx are what the office edits and prints)."""
    if office_binary() is None:
        return {}
    out = {}
    for name, data in documents.items():
        if name.endswith(".docx"):
            try:
                out[name.removesuffix(".docx") + ".pdf"] = convert(data, "docx", "pdf", timeout=timeout)
            except ConversionError as exc:
                log.warning("documents: no PDF of %s: %s", name, exc)
    return out


def write(documents: dict[str, bytes], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, data in documents.items():
        path = folder / name
        path.write_bytes(data)
        out.append(path)
    return out
