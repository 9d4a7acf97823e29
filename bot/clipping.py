"""Cutting article text to fit a message: at word and sentence boundaries, with an ellipsis,
and the largest text budget with which a fragment still fits its limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.telegram_html import Fragment

ELLIPSIS = "\u2026"

_SENTENCE_END = re.compile(r"[.!?\u2026\u061f\u06d4][\"'\u201d\u2019)\]]*(?=\s)|\n")


def clip(s: str, n: int) -> str:
    """`s` cut to at most `n` characters at a word boundary, with an ellipsis when cut."""
    if len(s) <= n:
        return s
    if n <= 1:
        return ELLIPSIS if n == 1 else ""
    cut = s[: n - 1]
    space = cut.rfind(" ")
    if space > n // 2:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def tail(s: str, n: int) -> str:
    """The end of `s`, at most `n` characters, starting at a sentence start where one is near."""
    if len(s) <= n:
        return s
    cut = s[-n:]
    m = _SENTENCE_END.search(cut)
    if m and cut[m.end() :].strip():
        return cut[m.end() :].lstrip()
    space = cut.find(" ")
    return ELLIPSIS + (cut[space + 1 :] if 0 <= space < n // 2 else cut[1:])


def head(s: str, n: int) -> str:
    """The start of `s`, at most `n` characters, ending at a sentence end where one is near."""
    if len(s) <= n:
        return s
    cut = s[:n]
    ends = list(_SENTENCE_END.finditer(cut))
    if ends:
        return cut[: ends[-1].end()].rstrip()
    return clip(s, n)


def around(passage: str, sentence: str) -> tuple[str, str, str]:
    """(before, sentence, after) for a sentence inside a passage; the sentence alone if absent."""
    i = passage.find(sentence)
    if i < 0:
        return "", sentence, ""
    return passage[:i], sentence, passage[i + len(sentence) :]


def fit(build: Callable[[int | None], Fragment], limit: int) -> Fragment:
    """`build(None)` if it fits in `limit`, else `build(n)` for the largest text budget n that does.

    `build(n)` must shrink as `n` does; a budget of 0 must fit (citations are short).
    """
    whole = build(None)
    if whole.length <= limit:
        return whole
    lo, hi = 0, max(whole.length, 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if build(mid).length <= limit:
            lo = mid
        else:
            hi = mid - 1
    return build(lo)
