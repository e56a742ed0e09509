"""Word's 字数 (word count) rule for Chinese documents.

Each CJK ideograph and each full-width character counts 1; each run of other non-space
characters counts 1: ``2024年`` is 2, ``Hello、World。`` is 4, ``１２３４５`` is 5. Word also shows
字符数(不计空格), every character that is not white space.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Punctuation Word counts one by one in Chinese text although Unicode calls it ambiguous width.
_SINGLE = set("‘’“”—…·")


def _is_single(ch: str) -> bool:
    if ch in _SINGLE:
        return True
    return unicodedata.east_asian_width(ch) in ("W", "F")


@dataclass(frozen=True)
class WordCount:
    words: int  # 字数
    chars_nospace: int  # 字符数(不计空格)


def count_words(text: str) -> WordCount:
    words = 0
    nospace = 0
    in_run = False
    for ch in text:
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Zs"):
            in_run = False
            continue
        nospace += 1
        if _is_single(ch):
            words += 1
            in_run = False
        elif not in_run:
            words += 1
            in_run = True
    return WordCount(words, nospace)
