"""Word's 字数 (word count) rule for Chinese documents.

Each CJK ideograph and each full-width character counts 1; each run of other non-space
characters counts 1: ``2024年`` is 2, ``Hello、World。`` is 4, ``１２３４５`` is 5. Word also shows
字符数(不计空格), every character that is not white space.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Punctuation Word counts one by one in Chinese text although Unicode calls it ambiguous width.
_SINGLE = set("‘’“”—…·")


def _is_single(ch: str) -> bool:
    if ch in _SINGLE:
        return True
    return unicodedata.east_asian_width(ch) in ("W", "F")


class _Classes(dict[int, str]):
    """Each character's class, worked out once per process the first time it is seen:
    " " white space (and controls, format characters), "1" counted one by one, "a" part of a run.
    At most ``KEPT`` characters are remembered, the table started afresh when full: a text made
    of every character there is must not grow it past a few megabytes, nor leave it full of
    characters the next texts do not use."""

    KEPT = 1 << 15

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zs"):
            cls = " "
        elif _is_single(ch):
            cls = "1"
        else:
            cls = "a"
        if len(self) >= self.KEPT:
            self.clear()
        self[code] = cls
        return cls


_CLASSES = _Classes()
_RUN = re.compile("a+")


@dataclass(frozen=True)
class WordCount:
    words: int  # 字数
    chars_nospace: int  # 字符数(不计空格)


def count_words(text: str) -> WordCount:
    # One class letter per character, then counted by the string's own methods (a narrative is
    # tens of thousands of characters: a loop in Python over each was slow).
    classes = text.translate(_CLASSES)
    singles = classes.count("1")
    runs = sum(1 for _ in _RUN.finditer(classes))
    return WordCount(singles + runs, len(classes) - classes.count(" "))
