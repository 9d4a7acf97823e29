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
