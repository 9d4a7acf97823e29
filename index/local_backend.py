"""The local search backend: FAISS for dense search, SQLite FTS5 for keyword search, in the
index folder beside the store (`index.backend` is the contract it keeps).

Private to it: `vectors-NNNNNN.faiss`, one file a generation (index.vectors), current once
the store's `search` record names it; `search_entries` (each chunk's date, source, URL and
the folded text its keyword row must be deleted with) and `chunks_fts`, in the store's file
and written on its connection, so ledger and search index change in one transaction; scope
planning (a small scope scored exactly, a wide one filtering a deeper search, dates cut
from each chunk's day held in memory: index.days).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from index.backend import Entry, Match
from index.days import DayTable
from index.errors import IndexCorrupt
from index.keyword_search import KeywordSearch, scope_sql
from index.manifest import Layout
from index.records import Scope
from index.store import Store
from index.textnorm import fold
from index.vectors import VectorIndex, choose_search
from index.wording import plural

log = logging.getLogger(__name__)

# A scope of at most this many chunks, or this share of the index, is searched exactly:
# scoring only a scope's chunks costs about as much a chunk as a search of all of them
# (77k chunks: 11 ms for a 68k-chunk scope, 4 ms for an unscoped search 1,000 deep).
EXACT_SCOPE = 50_000
WIDE_SHARE = 0.2
_RETRIES = 20  # a writer may replace the FAISS file between our reading its name and opening it
_IN = 10_000  # ids per IN (...) list

Vectors = Callable[[], tuple[np.ndarray, np.ndarray]]  # () -> (ids, float32 vectors)


class LocalBackend:
    """A `SearchBackend` over an index folder, on the connection of its store.

    Its writes join the store's open transaction when there is one (ingest writes articles
    and search rows together) and open their own otherwise. `exact` gives the ledger's
    float32 vectors, for a change of search kind and for a vector file found missing.
    """

    def __init__(
        self,
        store: Store,
        folder: Path,
        *,
        dimension: int = 0,
        search: str = "auto",
        exact: Vectors | None = None,
    ) -> None:
        self._store = store
        self._db = store.connection
        self._layout = Layout(folder)
        self.dimension = dimension  # 0: taken from the first vectors written
        self.search = search  # "auto": flat or HNSW by size (index.vectors.choose_search)
        self._exact = exact
        self._keywords = KeywordSearch(self._db)
        self._vectors: VectorIndex | None = None  # loaded on first use
        self._generation = 0
        self._days: DayTable | None = None  # see day_table
        self._days_lock = threading.Lock()
        self._owns_transaction = False
        self._cleared = False  # emptied by `clear` since the last commit
        self.shares_ledger_transaction = True
        self.holds_payload = False  # the ledger beside it holds what answers show

    # -- reading --------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        self._current()
        return self._generation

    @property
    def kind(self) -> str:
        """ "flat" or "hnsw": the search the current vectors give."""
        return self._current().kind

    def refresh(self) -> bool:
        if self._vectors is not None and self._committed() == self._generation:
            return False
        self._generation, self._vectors = self._load()
        self._forget()
        return True

    def describe(self, manifest: dict[str, Any]) -> None:
        """The manifest lives in the store beside this backend's tables."""

    def kept_manifest(self) -> dict[str, Any] | None:
        return None

    def count(self) -> int:
        return len(self._current())

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        return self._current().vectors_of(list(ids))

    def dense(self, query: np.ndarray, k: int, scope: Scope | None = None) -> list[Match]:
        vectors = self._current()
        if scope is None or scope.everything:
            return _matches(vectors.search(query, k))
        allowed = self.chunk_ids_in(scope)
        if len(allowed) > min(EXACT_SCOPE, len(vectors) * WIDE_SHARE):
            # A wide scope: most nearest neighbours pass it, so filter a deeper search.
            share = len(allowed) / max(1, len(vectors))
            deep = vectors.search(query, min(k * 20, math.ceil(k * 3 / share)))
            ids = np.fromiter((c for c, _ in deep), np.int64, len(deep))
            inside = self.in_scope(ids, scope, allowed)
            wide = [hit for hit, keep in zip(deep, inside, strict=True) if keep]
            if len(wide) >= k:
                return _matches(wide[:k])
        return _matches(vectors.search_among(query, allowed, k))

    def keyword(self, text: str, k: int, scope: Scope | None = None) -> list[Match]:
        if scope is None or scope.everything:
            return _matches(self._keywords.search(text, k))
        allowed = self.chunk_ids_in(scope)
        share = len(allowed) / max(1, self.count())
        kept = self._keywords.search(
            text, k, keep=lambda ids: self.in_scope(ids, scope, allowed), share=share
        )
        return _matches(kept)

    def chunk_ids_in(self, scope: Scope) -> np.ndarray:
        """(n,) int64 ids of the entries in `scope`.

        A scope of dates alone (every question asked as of a day has one) is cut by binary
        search from the day table: ~0.1 ms, where a join cost ~15 ms a question at 40k
        chunks. A source, or no limit at all (undated entries too), is matched in SQL.
        """
        if scope.source or scope.everything:
            where, args = scope_sql(scope, "e")
            rows = self._db.execute(f"SELECT e.id FROM search_entries e WHERE {where}", args)
            return np.fromiter((r[0] for r in rows), dtype=np.int64)
        return self.day_table().between(scope.since, scope.until)

    def in_scope(
        self, ids: np.ndarray, scope: Scope, allowed: np.ndarray | None = None
    ) -> np.ndarray:
        """(len(ids),) bool: which of these `scope` holds: by the day table when the scope
        is of dates alone, else by the scope's ids (`allowed`, when known)."""
        if scope.source or scope.everything:
            return np.isin(ids, self.chunk_ids_in(scope) if allowed is None else allowed)
        return self.day_table().inside(ids, scope.since, scope.until)

    def day_table(self) -> DayTable:
        """Each dated entry's day, read once a generation (index.days)."""
        with self._days_lock:  # the keyword thread may ask at the same time: read once
            if self._days is None:
                self._days = DayTable.of(self._db)
            return self._days

    def ages(self, ids: Sequence[int], today: date) -> np.ndarray:
        """(len(ids),) days from each entry's date to `today`; NaN where undated."""
        return self.day_table().ages(np.asarray(ids, dtype=np.int64), today)

    def keyword_rows(self) -> int:
        """Rows of the keyword index (a health check compares them with the chunks)."""
        (n,) = self._db.execute("SELECT count(*) FROM chunks_fts_docsize").fetchone()
        return int(n)

    def entry_count(self) -> int:
        """Rows of `search_entries` (a health check compares them with the vectors)."""
        (n,) = self._db.execute("SELECT count(*) FROM search_entries").fetchone()
        return int(n)

    # -- writing --------------------------------------------------------------------------

    def upsert(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        vectors = np.stack([np.asarray(e.vector, dtype=np.float32) for e in entries])
        self.dimension = self.dimension or vectors.shape[1]
        self._begin()
        if not len(self._current()) and self._current().dimension != vectors.shape[1]:
            self._vectors = VectorIndex.empty(vectors.shape[1], choose_search(0, self.search))
        ids = [e.id for e in entries]
        self._drop(ids)
        rows = [(e.id, e.published, e.source, e.url, fold(e.text)) for e in entries]
        self._db.executemany(
            "INSERT INTO search_entries(id, published, source, url, body) VALUES (?,?,?,?,?)",
            rows,
        )
        self._db.executemany(
            "INSERT INTO chunks_fts(rowid, body) VALUES (?, ?)", ((r[0], r[4]) for r in rows)
        )
        self._current().add(np.asarray(ids, dtype=np.int64), vectors)

    def delete(self, ids: Iterable[int]) -> None:
        wanted = list(dict.fromkeys(int(i) for i in ids))
        if wanted:
            self._begin()
            self._drop(wanted)

    def clear(self) -> None:
        self._cleared = True  # what was committed need not be read (nor be whole)
        self._begin()
        self._db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('delete-all')")
        self._db.execute("DELETE FROM search_entries")
        self._vectors = VectorIndex.empty(self.dimension, choose_search(0, self.search))
        self._cleared = True

    def commit(self) -> int:
        """Write the next generation's vector file and record it as current: at the end of
        the store's transaction when these writes joined one (its owner then calls `tidy`),
        else now."""
        self._begin()
        vectors = self._current().with_search(self.search, self._exact)
        generation = self._committed() + 1
        vectors.save(self._layout.vectors(generation))
        self._store.set_meta("search", {"generation": generation})
        self._vectors, self._generation, self._cleared = vectors, generation, False
        if self._owns_transaction:
            self._owns_transaction = False
            self._db.execute("COMMIT")
            self.tidy()
            self._forget()
        else:  # the caller commits, then tidies when it has finished its own work
            self._store.after_commit(self._forget)
        return generation

    def discard(self) -> None:
        """Undo every write since the last commit: the transaction's rows (ours; the
        caller's rolls back its own) and what was held in memory."""
        if self._owns_transaction and self._db.in_transaction:
            self._db.execute("ROLLBACK")
        self._rolled_back()

    def tidy(self) -> None:
        """Remove vector files other than the committed generation's (a writer's, at open:
        those of a write that died before its commit)."""
        keep = self._layout.vectors(self._committed())
        for path in self._layout.all_vector_files():
            if path != keep:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        """The store owns the connection; closing it is the store's owner's."""

    # -- inside ---------------------------------------------------------------------------

    def _begin(self) -> None:
        """Before a write: the committed vectors in memory (checked against the entries
        before these writes change them), and a transaction, the caller's or our own."""
        if self._vectors is None and not self._cleared:
            self._current()
        if not self._db.in_transaction:
            self._db.execute("BEGIN IMMEDIATE")
            self._owns_transaction = True
            self._store.after_rollback(self._rolled_back)
        elif not self._owns_transaction:
            self._store.after_rollback(self._rolled_back)

    def _drop(self, ids: list[int]) -> None:
        """Remove these ids' keyword rows, entries and vectors, where held."""
        found: list[tuple[int, str]] = []
        for at in range(0, len(ids), _IN):
            part = ids[at : at + _IN]
            marks = ",".join("?" * len(part))
            found += self._db.execute(
                f"SELECT id, body FROM search_entries WHERE id IN ({marks})", part
            ).fetchall()
        if not found:
            return
        self._db.executemany(
            "INSERT INTO chunks_fts(chunks_fts, rowid, body) VALUES ('delete', ?, ?)", found
        )
        self._db.executemany("DELETE FROM search_entries WHERE id = ?", ((i,) for i, _ in found))
        self._current().remove([i for i, _ in found])

    def _rolled_back(self) -> None:
        """The transaction these writes were in was undone: so are they, in memory too."""
        self._owns_transaction = False
        self._vectors, self._cleared = None, False
        self._forget()

    def _forget(self) -> None:
        """Drop what was read of an older generation: the day table, words' counts."""
        with self._days_lock:
            self._days = None
        self._keywords.forget_counts()

    def _committed(self) -> int:
        data = self._store.get_meta("search")
        return 0 if data is None else int(data["generation"])

    def _current(self) -> VectorIndex:
        if self._vectors is None:
            self._generation, self._vectors = self._load()
        return self._vectors

    def _load(self) -> tuple[int, VectorIndex]:
        """The committed generation and its vectors, read whole even while a writer
        commits; a missing or unreadable file is rebuilt in memory from `exact`."""
        folder = self._layout.folder
        for _ in range(_RETRIES):
            generation = self._committed()
            if generation == 0:
                return 0, VectorIndex.empty(self.dimension, choose_search(0, self.search))
            try:
                vectors = VectorIndex.load(self._layout.vectors(generation))
            except RuntimeError:
                if self._committed() != generation:
                    continue  # replaced under us: read the newer one
                break
            held = self.entry_count()
            if len(vectors) != held:
                if self._committed() != generation:
                    continue
                raise IndexCorrupt(
                    f"the vector file in {folder} holds {plural(len(vectors), 'vector')} but "
                    f"the store {plural(held, 'chunk')}; "
                    f"run `qa doctor --repair --index {folder}`"
                )
            self.dimension = self.dimension or vectors.dimension
            return generation, vectors
        if self._exact is None:
            raise IndexCorrupt(f"no usable vector file in {folder}; run `qa doctor --repair`")
        # The FAISS file is derived: rebuild it in memory from the ledger and carry on.
        log.warning(
            "no usable vector file in %s; rebuilt in memory (run `qa doctor --repair`)", folder
        )
        if self._db.in_transaction:  # a writer's: it reads its own state
            generation, (ids, vecs) = self._committed(), self._exact()
        else:
            with self._store.snapshot():
                generation, (ids, vecs) = self._committed(), self._exact()
        return generation, VectorIndex.build(ids, vecs, self.dimension or vecs.shape[1])


def _matches(found: list[tuple[int, float]]) -> list[Match]:
    return [Match(cid, score) for cid, score in found]
