"""Each dated chunk's day, in memory: date scopes and article ages without asking the store.

Read once a generation (`DayTable.of`), a question's date scope is cut from it by
binary search (~0.1 ms where the store's join cost ~15 ms at 40k chunks), and the ages the
recency prior needs come from it for every candidate, before any chunk's text is fetched.
"""

from __future__ import annotations

import sqlite3
from datetime import date

import numpy as np


class DayTable:
    """Chunk ids with their articles' days; undated chunks are not in it."""

    def __init__(self, ids: np.ndarray, days: list[str]) -> None:
        """`ids` (int64) and their days ('YYYY-MM-DD', or a prefix such as 'YYYY'; a day
        that is not one leaves its chunk out, as undated)."""
        try:  # all at once: ~10 ms at 200k chunks, where one by one took ~2.5 s
            parsed = np.array(days, dtype="datetime64[D]")
        except ValueError:
            parsed = np.array([_parse(d) for d in days], dtype="datetime64[D]")
        dated = ~np.isnat(parsed)
        ids, parsed = ids[dated], parsed[dated]
        order = np.argsort(parsed, kind="stable")
        self._ids, self._days = ids[order], parsed[order]
        order = np.argsort(self._ids, kind="stable")
        self._by_id = self._ids[order]
        self._day_by_id = self._days[order]

    @classmethod
    def of(cls, db: sqlite3.Connection) -> DayTable:
        """The table of the local search backend's entries (index.local_backend)."""
        rows = db.execute(
            "SELECT id, substr(published, 1, 10) FROM search_entries WHERE published IS NOT NULL"
        ).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return cls(ids, [r[1] for r in rows])

    def __len__(self) -> int:
        return len(self._ids)

    def between(self, since: str | None, until: str | None) -> np.ndarray:
        """(n,) ids of the chunks dated from `since` to `until`, both days included (ISO
        dates or datetimes; only the day counts)."""
        lo = 0 if since is None else int(np.searchsorted(self._days, _day(since), "left"))
        hi = len(self._ids)
        if until is not None:
            hi = int(np.searchsorted(self._days, _day(until), "right"))
        return self._ids[lo:hi]

    def inside(self, ids: np.ndarray, since: str | None, until: str | None) -> np.ndarray:
        """(n,) bool: whether each chunk is dated from `since` to `until` (as `between`),
        without sorting the scope's ids: ~0.1 ms for 4,000 ids where np.isin took ~3."""
        day, known = self._day_of(ids)
        if since is not None:
            known &= day >= _day(since)
        if until is not None:
            known &= day <= _day(until)
        return known

    def _day_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(each id's day, whether the table knows it)."""
        if not len(self._by_id):
            return np.zeros(len(ids), "datetime64[D]"), np.zeros(len(ids), bool)
        at = np.minimum(np.searchsorted(self._by_id, ids), len(self._by_id) - 1)
        return self._day_by_id[at], self._by_id[at] == ids

    def ages(self, ids: np.ndarray, today: date) -> np.ndarray:
        """(n,) float days from each chunk's article to `today` (0 for a later one; NaN for
        an undated chunk or one the table does not know)."""
        day, known = self._day_of(ids)
        age = (np.datetime64(today, "D") - day).astype(np.float64)
        return np.where(known, np.maximum(age, 0.0), np.nan)


def _day(text: str) -> np.datetime64:
    return np.datetime64(text[:10], "D")  # only the day of a datetime


def _parse(text: str) -> np.datetime64:
    try:
        return _day(text)
    except ValueError:
        return np.datetime64("NaT", "D")
