"""Keyword search: FTS5 BM25 over the chunks' folded text (`chunks_fts`, the local search
backend's table), for any user text, kept to a scope by the backend's filter when asked.

The query is built by `index.keyword_query` (content words, each quoted, the rarest required
up to a budget of postings); words' posting counts are remembered until the index changes.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable

import numpy as np

from index.keyword_query import POSTINGS_BUDGET, match_expression, query_terms, split
from index.records import Scope

COUNTS_KEPT = 100_000  # words' posting counts remembered between questions


class KeywordSearch:
    """Keyword search on the store's connection (index.local_backend's)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        # Words' posting counts (see _frequency), kept until the index changes (the store
        # forgets them at each commit, a reader at each new generation): most words of a
        # question were counted for an earlier one, ~1.6 ms a question at 77k chunks.
        self._counts: dict[tuple[str, int], int] = {}

    def search(
        self,
        query: str,
        k: int,
        budget: int = POSTINGS_BUDGET,
        keep: Callable[[np.ndarray], np.ndarray] | None = None,
        share: float = 0.0,
    ) -> list[tuple[int, float]]:
        """Top `k` (chunk id, BM25 score; higher is better) for any user text.

        The query is the text's content words, each quoted, so FTS operators (AND, NEAR, *,
        column:) in the text are searched as words, never parsed; the chunks scored are
        those holding its rarest words, up to `budget` of them (index.keyword_query).
        `keep` tells of chunk ids which are in a scope the caller knows: every match is
        scored anyway, so they are filtered in memory, several times cheaper than joining
        each match to its article; `share`, the part of the index `keep` holds, lets a wide
        scope read only the best matches.
        """
        words = query_terms(query) if k > 0 else []
        rare, common = words, list[str]()
        if len(words) > 1:  # one word is searched whatever its count: nothing to choose
            rare, common = split(words, lambda w: self._frequency(w, budget + 1), budget)
        if not rare:
            return []
        match = match_expression(rare, common)
        if keep is not None:
            return self._kept(match, k, keep, share)
        rows = self._db.execute(
            "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
            "ORDER BY bm25(chunks_fts) LIMIT ?",
            (match, k),
        )
        return [(int(r), -float(s)) for r, s in rows]

    def _kept(
        self, match: str, k: int, keep: Callable[[np.ndarray], np.ndarray], share: float
    ) -> list[tuple[int, float]]:
        """The top `k` matches that `keep` keeps. Every match is scored anyway; a scope of
        a large `share` reads only the best few times k/share of them, and all of them
        when those hold fewer than k (no row leaves SQLite that cannot be needed)."""
        limit = math.ceil(k * 3 / share) if share >= 0.2 else 0
        if limit:
            found = self._db.execute(
                "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? "
                "ORDER BY bm25(chunks_fts) LIMIT ?",
                (match, limit),
            ).fetchall()
        else:
            found = self._db.execute(
                "SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ?",
                (match,),
            ).fetchall()
        ids = np.fromiter((r[0] for r in found), np.int64, len(found))
        scores = np.fromiter((r[1] for r in found), np.float64, len(found))
        inside = keep(ids)
        if limit and len(found) == limit and inside.sum() < k:
            return self._kept(match, k, keep, 0.0)
        ids, scores = ids[inside], scores[inside]
        best = np.argsort(scores, kind="stable")[:k]  # bm25() is lower for better
        return [(int(ids[i]), -float(scores[i])) for i in best]

    def _frequency(self, word: str, cap: int) -> int:
        """How many chunks hold `word`, counted up to `cap`: a walk of its posting list
        without scoring, tens of times cheaper a row than BM25, and bounded by the cap."""
        n = self._counts.get((word, cap))
        if n is None:
            (n,) = self._db.execute(
                "SELECT count(*) FROM (SELECT 1 FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?)",
                (match_expression([word]), cap),
            ).fetchone()
            if len(self._counts) >= COUNTS_KEPT:
                self._counts.clear()
            self._counts[word, cap] = n
        return int(n)

    def forget_counts(self) -> None:
        """Drop the words' posting counts: the index has changed."""
        self._counts.clear()


def scope_sql(scope: Scope, table: str = "a") -> tuple[str, list[str]]:
    """A WHERE condition on `table` (an alias of `articles`, or of the local backend's
    `search_entries`: both have published, source and url) and its parameters; never
    formats user text."""
    where, args = ["1"], []
    # Plain comparisons of the ISO text, so the articles_by_date index serves them: any
    # "YYYY-MM-DD..." is >= since's day, and < until's day followed by "~", which sorts
    # after every character an ISO date or time holds.
    if scope.since:
        where.append(f"{table}.published >= ?")
        args.append(scope.since)
    if scope.until:
        where.append(f"{table}.published < ?")
        args.append(scope.until + "~")
    if scope.source:
        source = f"coalesce({table}.source, '') || ' ' || coalesce({table}.url, '')"
        where.append(f"instr(lower({source}), ?) > 0")
        args.append(scope.source.casefold())
    return " AND ".join(where), args
