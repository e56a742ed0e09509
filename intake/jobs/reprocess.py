"""``intake reprocess``: every archived message read again with the current code, the campaign
rebuilt, no receipt sent twice."""

from __future__ import annotations

from datetime import datetime

from intake.campaign.rebuild import refresh
from intake.core.process import StopFlag
from intake.core.settings import Settings
from intake.ingest.keys import recorded_keys
from intake.ingest.reading import RunResult, read_messages
from store.repo import Store


def reprocess(store: Store, settings: Settings, now: datetime, stop: StopFlag | None = None) -> RunResult:
    """Parse every archived message again with the current code (a reading kept by the same
    parsers is taken as it is: ``parsing.ReadingCache``). Messages never read (new, or failed) are
    claimed first, as a worker would, and their receipts queued; messages already processed are
    read again where they stand and no receipt is queued twice. What is unchanged is found for the
    whole archive at once (``recorded_keys``)."""
    result = RunResult()
    with store.session() as repo:
        messages = repo.all_messages(with_children=False)
        items = [(m.id, m.sha256) for m in messages if m.state != "processing"]
        due = frozenset(m.id for m in messages if m.state in ("new", "failed"))
        recorded = recorded_keys(repo, messages)
    read_messages(
        store, settings, now, items, result, stop, claim=False, label="reprocessing", due=due, recorded=recorded
    )
    with store.session() as repo:
        refresh(repo, settings, now)
        repo.mark_rules_applied(None)
    return result
