"""Dates in the ranking: newer first among equals, and newer favoured when asked."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from qa.quotes import Sentence

TIE = 0.01  # sentences whose scores differ by less than this answer equally well
RECENT_WEIGHT = 0.4  # what --recent or "recently" adds, at most (twice the default prior's)
HALF_LIFE_DAYS = 30.0  # --recent: an article this old gets half of RECENT_WEIGHT


def age_days(published: str | None, today: date) -> float | None:
    if not published:
        return None
    try:
        return max(0.0, float((today - date.fromisoformat(published[:10])).days))
    except ValueError:
        return None


def freshness(published: str | None, today: date) -> float:
    """1.0 for an article of today, halving every HALF_LIFE_DAYS; 0.0 when undated."""
    age = age_days(published, today)
    return 0.0 if age is None else math.pow(0.5, age / HALF_LIFE_DAYS)


def by_date(scored: Sequence[Sentence], today: date, weight: float) -> list[Sentence]:
    """The sentences best first; among near-equal scores the newer article first. Each
    score first gains `weight` times its article's freshness (RECENT_WEIGHT for --recent,
    QuoteSettings.recency_weight for the mild default, 0 for none)."""
    out = list(scored)
    if weight:
        out = [
            replace(c, score=c.score + weight * freshness(c.hit.chunk.published, today))
            for c in out
        ]

    def key(c: Sentence) -> tuple[float, float]:
        age = age_days(c.hit.chunk.published, today)
        return (-round(c.score / TIE), age if age is not None else math.inf)

    return sorted(out, key=key)
