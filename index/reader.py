"""Reading an index back: the store and the FAISS file of one committed generation."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from index.days import DayTable
from index.errors import IndexCorrupt, IndexMissing, store_damage
from index.manifest import Layout, Manifest
from index.records import Article, Scope, StoredAlias, StoredArticleRef, StoredChunk
from index.store import Store
from index.vectors import VectorIndex
from index.wording import plural

log = logging.getLogger(__name__)

_RETRIES = 20  # a writer may replace the FAISS file between our reading its name and opening it


@dataclass(frozen=True)
class IndexStats:
    folder: Path
    articles: int
    chunks: int
    model: str
    dimension: int
    search: str
    bytes_on_disk: int
    newest_published: str | None
    updated: str
    generation: int


class IndexReader:
    """A read-only view that follows the writers: `refresh()` picks up a newer generation."""

    def __init__(self, folder: Path) -> None:
        self.layout = Layout(folder)
        if not self.layout.store.exists():
            raise IndexMissing.at(folder)
        self.store = Store(self.layout.store, readonly=True)
        self._days: DayTable | None = None  # see day_table
        self._days_lock = threading.Lock()
        try:
            with self.damage():
                self.manifest, self._vectors = self._load()
        except BaseException:
            self.store.close()
            raise

    def damage(self) -> AbstractContextManager[None]:
        """A block in which SQLite finding the store damaged raises IndexCorrupt, naming the
        file: wraps every use of the store (a damaged page is met only when it is read)."""
        return store_damage(self.layout.store)

    def _load(self) -> tuple[Manifest, VectorIndex]:
        folder = self.layout.folder
        for _ in range(_RETRIES):
            data = self.store.get_meta("manifest")
            if data is None:
                raise IndexMissing(f"the index in {folder} is empty; run `qa ingest PATH` first")
            manifest = Manifest.from_dict(data)
            manifest.check_format(folder)
            try:
                vectors = VectorIndex.load(self.layout.vectors(manifest.generation))
            except RuntimeError:
                if self._generation() != manifest.generation:
                    continue  # replaced under us: read the newer one
                break
            if len(vectors) != manifest.chunks:
                if self._generation() != manifest.generation:
                    continue
                raise IndexCorrupt(
                    f"the vector file in {folder} holds {plural(len(vectors), 'vector')} but "
                    f"the store {plural(manifest.chunks, 'chunk')}; "
                    f"run `qa doctor --repair --index {folder}`"
                )
            return manifest, vectors
        # The FAISS file is derived: rebuild it in memory from the store and carry on.
        log.warning(
            "no usable vector file in %s; rebuilt in memory (run `qa doctor --repair`)", folder
        )
        with self.store.snapshot():
            manifest = Manifest.from_dict(self.store.get_meta("manifest"))
            ids, vecs = self.store.vectors(manifest.dimension)
        return manifest, VectorIndex.build(ids, vecs, manifest.dimension)

    def _generation(self) -> int:
        data = self.store.get_meta("manifest")
        return -1 if data is None else int(data["generation"])

    def refresh(self) -> bool:
        """Reload if a writer committed since; True when it did. Cheap when nothing changed."""
        with self.damage():
            if self._generation() == self.manifest.generation:
                return False
            self.manifest, self._vectors = self._load()
            self._days = None
            self.store.keywords.forget_counts()
        log.info("index reloaded at generation %d", self.manifest.generation)
        return True

    def dense(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top `k` (chunk id, cosine) for a (d,) unit query vector."""
        return self._vectors.search(query, k)

    def dense_among(self, query: np.ndarray, ids: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact top `k` (chunk id, cosine) among `ids` (a scope's chunks)."""
        return self._vectors.search_among(query, ids, k)

    def chunk_ids_in(self, scope: Scope) -> np.ndarray:
        """(n,) int64 ids of the chunks of the articles in `scope`.

        A scope of dates alone (every question asked as of a day has one) is cut by binary
        search from a table of each dated chunk's day, read from the store once a
        generation: the store's join costs ~15 ms a question at 40k chunks, this ~0.1 ms.
        A source, or no limit at all (undated chunks too), is matched by the store.
        """
        if scope.source or scope.everything:
            return self.store.chunk_ids_in(scope)
        return self.day_table().between(scope.since, scope.until)

    def in_scope(
        self, ids: np.ndarray, scope: Scope, allowed: np.ndarray | None = None
    ) -> np.ndarray:
        """(len(ids),) bool: which of these chunks `scope` holds: by the day table when the
        scope is of dates alone, else by the scope's chunk ids (`allowed`, when known)."""
        if scope.source or scope.everything:
            return np.isin(ids, self.chunk_ids_in(scope) if allowed is None else allowed)
        return self.day_table().inside(ids, scope.since, scope.until)

    def day_table(self) -> DayTable:
        """Each dated chunk's day, read once a generation (index.days)."""
        with self._days_lock:  # the keyword thread may ask at the same time: read once
            if self._days is None:
                with self.damage():
                    self._days = self.store.chunk_days()
            return self._days

    def ages(self, ids: list[int], today: date) -> np.ndarray:
        """(len(ids),) days from each chunk's article to `today`; NaN where undated."""
        return self.day_table().ages(np.asarray(ids, dtype=np.int64), today)

    def vector_count(self) -> int:
        """Vectors in this generation's vector index (the manifest's chunks, when whole)."""
        return len(self._vectors)

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        """(len(ids), d) stored unit vectors of chunks known to this generation."""
        return self._vectors.vectors_of(ids)

    def keyword(self, text: str, k: int, scope: Scope | None = None) -> list[tuple[int, float]]:
        """Top `k` (chunk id, BM25) for any user text, inside `scope` when given."""
        if scope is None or scope.everything:
            return self.store.keywords.search(text, k)
        allowed = self.chunk_ids_in(scope)
        share = len(allowed) / max(1, self.manifest.chunks)
        return self.store.keywords.search(
            text, k, keep=lambda ids: self.in_scope(ids, scope, allowed), share=share
        )

    def chunks(self, ids: list[int]) -> dict[int, StoredChunk]:
        """The stored chunks of these ids (those still present)."""
        return self.store.chunks(ids)

    def sentence_vectors(self, ids: list[int]) -> dict[int, np.ndarray]:
        """Each chunk's stored sentence vectors, (sentences, d) rows, where it has them."""
        return self.store.sentence_vectors(ids, self.manifest.dimension)

    def story_members(self, stories: Iterable[int]) -> dict[int, list[StoredArticleRef]]:
        """The articles of each near-duplicate story."""
        return self.store.story_members(stories)

    def aliases_of(self, article_ids: Iterable[str]) -> dict[str, list[StoredAlias]]:
        """Other ids the same text was met under, by article."""
        return self.store.aliases_of(article_ids)

    def has_article(self, article_id: str) -> bool:
        return self.store.find_article(article_id) is not None

    def articles(self) -> Iterator[Article]:
        """Every stored article, whole."""
        return self.store.articles()

    def source_known(self, source: str) -> bool:
        """Whether any article's source or URL matches `source` (as a scope's source does)."""
        return bool(self.store.chunk_ids_in(Scope(source=source)).size)

    def stats(self) -> IndexStats:
        m = self.manifest
        size = sum(p.stat().st_size for p in self.layout.folder.iterdir() if p.is_file())
        return IndexStats(
            folder=self.layout.folder,
            articles=m.articles,
            chunks=m.chunks,
            model=m.model,
            dimension=m.dimension,
            search=m.search,
            bytes_on_disk=size,
            newest_published=self._newest(),
            updated=m.updated,
            generation=m.generation,
        )

    def _newest(self) -> str | None:
        with self.damage():
            return self.store.newest_published()

    def close(self) -> None:
        self.store.close()
