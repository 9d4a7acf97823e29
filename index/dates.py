"""Publish dates in, ISO 8601 out."""

from __future__ import annotations

import re
from datetime import datetime

_TIME = re.compile(r"\d{1,2}:\d{2}")


def to_iso(raw: str) -> str | None:
    """'Monday 30 January 2023 - 13:46' -> '2023-01-30T13:46:00'; None when unparseable.

    A date without a time of day stays a date ('2023-01-30'); a zone, when given, is kept.
    """
    from dateutil import parser

    text = raw.strip()
    if not text:
        return None
    try:
        when = parser.parse(text, fuzzy=True, default=datetime(1, 1, 1))
    except (ValueError, OverflowError):
        return None
    if when.year == 1:
        return None
    return when.isoformat() if _TIME.search(text) else when.date().isoformat()


def exact_iso(raw: str) -> str | None:
    """Like `to_iso`, for text that is a whole date and nothing else: a year, a month and a day
    must all be written ('November 20, 2026', '20 November 2026', '2026-11-20'), no other word
    may stand beside them ('On November 20, 2026 the council voted' is None), and 'May 2026'
    (no day) is None. For lines that might be a sentence of the article rather than its date.
    """
    from dateutil import parser

    text = raw.strip()
    if not text:
        return None
    try:
        # Two defaults: a field the text leaves out comes from the default, so they differ.
        one = parser.parse(text, default=datetime(1, 1, 1))
        two = parser.parse(text, default=datetime(2, 2, 2))
    except (ValueError, OverflowError):
        return None
    if one.date() != two.date():
        return None
    return one.isoformat() if _TIME.search(text) else one.date().isoformat()
