"""People's corrections laid over what the parsers read. Used by the pipeline after every parse
and by the actions when a person makes a change, so both give the same nominee."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from store.repo import Correction, Nominee

# The nominee's own columns; every other field lives in ``fields`` by its parsed name.
COLUMNS = ("name", "kind", "rank")
KINDS = ("individual", "unit")


def parsed_identity(nominee: Nominee) -> tuple[str, str]:
    """(kind, name) as the parser read them: what matches a nominee again on ``reprocess``."""
    parsed = (nominee.info or {}).get("parsed") or {}
    kind = parsed.get("kind") or nominee.kind
    name = parsed.get("name") or nominee.name
    return kind, "".join(name.split())


def current_value(nominee: Nominee, field: str) -> Any:
    if field in COLUMNS:
        return getattr(nominee, field)
    return (nominee.fields or {}).get(field)


def set_value(nominee: Nominee, field: str, value: str) -> None:
    if field == "rank":
        nominee.rank = int(value) if value.strip() else None
    elif field in ("name", "kind"):
        setattr(nominee, field, value.strip())
    else:
        nominee.fields = {**(nominee.fields or {}), field: value}


def apply_corrections(nominee: Nominee, corrections: Iterable[Correction]) -> None:
    """The corrections in the order they were made: the last one of a field stands."""
    for c in sorted(corrections, key=lambda c: c.id):
        set_value(nominee, c.field, c.new_value)


def flag_key(scope: str, code: str, message_pk: int | None, nominee_id: int | None, province: str | None) -> str:
    """A flag by what it says: flag rows are rebuilt by every rules run and reprocess, so a
    person's check holds on to this instead of a row id."""
    return "|".join(str(x or "") for x in (scope, code, message_pk, nominee_id, province))
