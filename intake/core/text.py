"""Text from mail made fit to show: one line, no control or bidi-override characters."""

from __future__ import annotations

from parsers.charsets import one_line


def display_name(text: str) -> str:
    """A name, subject or file name from mail as shown to people."""
    return one_line(text or "")


def header_text(text: str, limit: int) -> str:
    """Text from mail made fit for a header we write: as shown to people, and cut."""
    clean = display_name(text)
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
