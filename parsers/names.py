"""One person however the name is written: middle dots of every kind (· . ・ • ‧ ･), full-width
and half-width forms, spaces between the characters ("张  三"), a trailing 同志, all compared on
one normal form. The name is shown as the form wrote it; only the comparison uses this."""

from __future__ import annotations

import re
import unicodedata

# Every dot a name of Xinjiang, Tibet, Qinghai, Inner Mongolia or Ningxia is written with.
_DOTS = re.compile(r"[·.・•‧･∙⋅•▪︲]")
_SPACE = re.compile(r"[\s\u3000\u00a0\u2002-\u200b]+")
_HONORIFIC = re.compile(r"(同志|先生|女士)$")


def normal_name(name: str) -> str:
    """The form a name is compared on."""
    text = unicodedata.normalize("NFKC", name or "")
    text = _SPACE.sub("", text)
    text = _DOTS.sub("·", text)
    text = _HONORIFIC.sub("", text)
    return text.strip("·").lower()


def normal_text(text: str) -> str:
    """Text (a file name, a heading, a subject) made comparable with ``normal_name``."""
    text = unicodedata.normalize("NFKC", text or "")
    return _DOTS.sub("·", _SPACE.sub("", text)).lower()


_BIRTH = re.compile(r"((?:19|20)\d{2})\s*[年.\-/／]?\s*(\d{1,2})")


def birth_month(text: str) -> str:
    """出生年月 as YYYY-MM ("1975.03", "1975年3月", "1975-03-01", "197503"), or "" if not one."""
    m = _BIRTH.search(unicodedata.normalize("NFKC", text or ""))
    if not m:
        return ""
    month = int(m.group(2))
    return f"{m.group(1)}-{month:02d}" if 1 <= month <= 12 else ""


def names_in(text: str, names: list[str]) -> list[str]:
    """Of ``names`` (normal forms), those written in ``text``, longest first: 张三丰 before 张三, and
    a name inside a longer one found is not counted again."""
    hay = normal_text(text)
    found: list[str] = []
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        if name in hay and not any(name in longer for longer in found):
            found.append(name)
    return found
