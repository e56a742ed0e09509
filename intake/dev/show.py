"""Print what the store holds as tables (used by ``make demo``)."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from intake.core.settings import load_settings
from intake.core.vocabulary import labels
from intake.reports.export import export_data
from store.repo import Store


def main() -> int:
    settings = load_settings(None)
    store = Store(settings.database.url, settings.archive.path)
    with store.session() as repo:
        data = export_data(repo, settings)
    console = Console()

    t = Table(title="邮件 messages")
    for col in ("received (Beijing)", "from", "subject", "class", "province", "flags", "receipt"):
        t.add_column(col)
    for m in data["messages"]:
        receipt = m["receipt"]["state"] if m["receipt"] else "-"
        t.add_row(
            (m["received_at"] or "")[:16],
            m["from"],
            m["subject"][:30],
            m["classification"],
            m["province"] or "-",
            ", ".join(m["flags"]),
            receipt,
        )
    console.print(t)

    t = Table(title="推荐对象 nominees")
    for col in ("province", "kind", "name", "rank", "字数", "current", "flags"):
        t.add_column(col)
    for n in data["nominees"]:
        t.add_row(
            n["province"] or "-",
            labels("kind", n["kind"]),
            n["name"],
            str(n["rank"] or ""),
            str(n["narrative_chars"] if n["narrative_chars"] is not None else "-"),
            "yes" if n["current"] else "no",
            ", ".join(labels("flag", f) for f in n["flags"]),
        )
    console.print(t)

    t = Table(title="省份 provinces (those with mail or flags)")
    for col in ("province", "个人 received/quota", "单位 received/quota", "flags"):
        t.add_column(col)
    for p in data["provinces"]:
        r, q = p["received"], p["quota"]
        if r["individuals"] or r["units"] or p["flags"]:
            t.add_row(
                p["name"],
                f"{r['individuals']}/{q['individuals']}",
                f"{r['units']}/{q['units']}",
                ", ".join(labels("flag", f) for f in p["flags"]),
            )
    console.print(t)
    console.print(f"receipts written to {settings.smtp.outbox}" if settings.smtp.outbox else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
