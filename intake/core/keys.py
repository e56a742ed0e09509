"""How a person's check names what it checked. Flags are derived and rebuilt by every rules run
and reprocess, so a check holds on to what the flag says, never to its row."""

from __future__ import annotations


def flag_key(scope: str, code: str, message_pk: int | None, nominee_id: int | None, province: str | None) -> str:
    return "|".join(str(x or "") for x in (scope, code, message_pk, nominee_id, province))


def failure_key(kind: str, pk: int) -> str:
    """What acknowledging a mail that could not be sent records (beside flag checks)."""
    return f"{kind}|failed|{pk}"
