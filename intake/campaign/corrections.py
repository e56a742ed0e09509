"""People's corrections laid over what the dossiers read: applied after every rebuild of the
campaign and by the office when a person makes one, so both give the same nominee."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from store.repo import Correction, Nominee

# The nominee's own columns; every other field lives in ``fields`` by its parsed name.
COLUMNS = ("name", "kind", "rank")
KINDS = ("individual", "unit")


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
