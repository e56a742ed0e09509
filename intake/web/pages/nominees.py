"""推荐对象: every nominee, filtered by province, kind, state, source and problem, searched,
sorted; the same view as a workbook, which says what it was filtered by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from intake.campaign.standing import Standing
from intake.core.settings import Settings
from intake.core.time import cn_date
from intake.core.vocabulary import REVIEW_STATES, labels
from intake.reports import workbooks
from intake.web.pages.common import nominee_row
from store.repo import Repo


@dataclass(frozen=True)
class NomineeFilter:
    province: str = ""
    kind: str = ""
    state: str = ""  # current | replaced | a review state
    flag: str = ""
    source: str = ""
    q: str = ""
    sort: str = "province"

    def describe(self, settings: Settings) -> str:
        """筛选：浙江省，个人，初审通过: the filter in words, for a title."""
        parts = []
        if self.province:
            p = settings.province(self.province)
            parts.append(p.name if p else self.province)
        if self.kind:
            parts.append(labels("kind", self.kind))
        if self.state:
            parts.append(
                {"current": "有效", "replaced": "已被更正替换"}.get(self.state) or labels("review", self.state)
            )
        if self.flag:
            parts.append(f"问题：{labels('flag', self.flag)}")
        if self.source:
            parts.append(f"来源：{labels('source', self.source)}")
        if self.q:
            parts.append(f"搜索：{self.q}")
        return "，".join(parts)


def _wanted(f: NomineeFilter, n: Any, review: str) -> bool:
    if f.state in REVIEW_STATES and (review != f.state or not n.current):
        return False
    if f.province and n.province_code != f.province:
        return False
    if f.kind and n.kind != f.kind:
        return False
    if (f.state == "current" and not n.current) or (f.state == "replaced" and n.current):
        return False
    if f.source and n.source != f.source:
        return False
    return not (f.q and f.q.strip() not in n.name)


def nominees_list(repo: Repo, settings: Settings, f: NomineeFilter) -> list[dict[str, Any]]:
    order = {p.code: i for i, p in enumerate(settings.provinces)}
    messages = {m.id: m for m in repo.all_messages(with_children=False)}
    standing = Standing(repo, settings)
    out = []
    for n in repo.nominees():
        if not _wanted(f, n, standing.review_state(n.id)):
            continue
        row = nominee_row(n, settings, standing, messages.get(n.message_pk))
        if f.flag and f.flag not in row["flag_codes"]:
            continue
        out.append(row)
    keys = {
        "province": lambda r: (order.get(r["province_code"] or "", 999), r["kind_code"], r["rank"] or 999, r["name"]),
        "name": lambda r: r["name"],
        "rank": lambda r: (r["rank"] is None, r["rank"] or 0),
        "narrative": lambda r: -(r["narrative_chars"] or 0),
        "received": lambda r: r["received"] or datetime.min.replace(tzinfo=settings.campaign.tz),
    }
    out.sort(key=keys.get(f.sort, keys["province"]))
    return out


def nominees_workbook(rows: list[dict[str, Any]], day: date, described: str = "") -> bytes:
    """The console's current list of nominees as a workbook; its title says how it was filtered."""
    wb = workbooks.new_workbook()
    ws = wb.active
    ws.title = "推荐对象"
    title = f"推荐对象名单（{cn_date(day)}）" + (f"　筛选：{described}" if described else "　全部")
    headers = [
        "省份",
        "类别",
        "姓名/单位名称",
        "排序",
        "工作单位及职务",
        "事迹字数",
        "来源",
        "是否有效",
        "审核状态",
        "问题",
    ]
    body = [
        [
            r["province"],
            r["kind"],
            r["name"],
            r["rank"],
            r["workplace"],
            r["narrative_chars"],
            r["source"],
            "是" if r["current"] else "已被更正替换",
            r["review"],
            "、".join(r["flags"]),
        ]
        for r in rows
    ]
    widths = [12, 6, 26, 6, 32, 9, 8, 12, 10, 28]
    workbooks.table(ws, title, headers, body, widths, heading=title)
    return workbooks.saved(wb)
