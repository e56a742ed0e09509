"""What a message's recorded reading follows from: what was read, the code that records it, the
settings it is checked against, and what people decided about it. The same key means reading it
again would record the same."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from intake.core.settings import Settings
from intake.ingest.outcome import ParseOutcome
from store.repo import Message, Repo


def reading_key(
    outcome: ParseOutcome,
    settings: Settings,
    duplicate: bool,
    overrides: list[tuple[str, int, str]],
) -> str:
    """Everything a message's recorded reading follows from: what was read, this code, the
    settings that classify and check it, and what people decided about it (its overrides as
    (field, id, value)). The same key means reading it again would record the same; no key (an
    outcome without a digest) never matches. (Corrections are the campaign's: they are laid over
    the dossiers, not over one message.)"""
    if not outcome.digest:
        return ""
    h = hashlib.sha256()
    h.update(outcome.digest.encode())
    h.update(_code_and_settings(settings).encode())
    h.update(repr(duplicate).encode())
    h.update(repr(sorted(overrides)).encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Recorded:
    """What a processed message's reading was recorded against, read for all messages at once
    before a reprocess: the key of that reading and what goes into the key beside the reading."""

    key: str
    classification: str
    duplicate: bool
    overrides: list[tuple[str, int, str]]


def recorded_keys(repo: Repo, messages: list[Message]) -> dict[int, Recorded]:
    """For each processed message (``messages`` in id order) whose reading has a key, what it was
    recorded against (``_apply``'s checks, for every message in two queries)."""
    overrides = repo.overrides_by_message()
    out: dict[int, Recorded] = {}
    seen_sha: set[str] = set()
    seen_id: set[str] = set()
    for m in messages:
        # ``Repo.earlier_duplicate``: an earlier message with the same bytes or Message-ID.
        duplicate = m.sha256 in seen_sha or bool(m.message_id and m.message_id in seen_id)
        seen_sha.add(m.sha256)
        if m.message_id:
            seen_id.add(m.message_id)
        key = (m.info or {}).get("reading")
        if m.state == "processed" and m.processed_at is not None and key:
            out[m.id] = Recorded(key, m.classification or "", duplicate, overrides.get(m.id, []))
    return out


def _code() -> str:
    """A digest of the code that turns a reading into records, read when this module is imported:
    a worker that runs on after an upgrade was installed (until the service restarts) still
    records under its own code's digest, so the next reprocess records those messages again."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parents[2]
    for package in ("intake", "parsers"):
        for path in sorted((root / package).rglob("*.py")):
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()


_CODE = _code()
_SETTINGS: tuple[Settings, str] | None = None  # the last settings seen, and their digest


def _code_and_settings(settings: Settings) -> str:
    """A digest of the code that turns a reading into records and of the settings it consults: the
    campaign, provinces and limits, and our own sending address."""
    global _SETTINGS
    if _SETTINGS is None or _SETTINGS[0] is not settings:
        consulted = settings.model_dump(mode="json", include={"campaign", "limits", "provinces", "receipts"})
        consulted["sender"] = settings.smtp.sender
        text = json.dumps(consulted, sort_keys=True, default=str)
        _SETTINGS = (settings, hashlib.sha256(f"{_CODE}\n{text}".encode()).hexdigest())
    return _SETTINGS[1]
