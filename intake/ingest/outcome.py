"""What reading one message gives back to the process that records it."""

from __future__ import annotations

from dataclasses import dataclass

from parsers.documents import Reading
from parsers.mime import ParsedMessage


@dataclass
class ParseOutcome:
    parsed: ParsedMessage | None
    readings: list[Reading]
    error: str | None = None
    stopped: str | None = None  # why reading was stopped from outside (time limit, worker died)
    digest: str = ""  # of what was read: the same bytes read the same way give the same digest
