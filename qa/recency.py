"""Dates in the ranking: newer first among equals, and newer favoured when asked."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date

from qa.answer import Hit
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


def gains(hits: Iterable[Hit], today: date, weight: float) -> dict[int, float]:
    """chunk id -> what its sentences gain for their article's freshness: `weight` times
    it (RECENT_WEIGHT for --recent, QuoteSettings.recency_weight for the mild default)."""
    if not weight:
        return {}
    return {h.chunk.id: weight * freshness(h.chunk.published, today) for h in hits}


def by_date(scored: Sequence[Sentence], today: date) -> list[Sentence]:
    """The sentences best first; among near-equal scores the newer article first."""
    ages: dict[int, float] = {}
    for c in scored:
        if c.hit.chunk.id not in ages:
            age = age_days(c.hit.chunk.published, today)
            ages[c.hit.chunk.id] = math.inf if age is None else age
    return sorted(scored, key=lambda c: (-round(c.score / TIE), ages[c.hit.chunk.id]))
