"""Reading an index back: the ledger (index.store) and the search backend of one committed
generation."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

import numpy as np

from index.backend import FusingBackend, Match
from index.backends import open_backend
from index.errors import IndexMissing, store_damage
from index.manifest import Layout, Manifest
from index.migrate import ensure_current
from index.records import Article, Scope, StoredAlias, StoredArticleRef, StoredChunk
from index.settings import Settings
from index.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexStats:
    where: str  # the index folder; a replica's Milvus URI and collections
    articles: int
    chunks: int
    model: str
    dimension: int
    search: str
    bytes_on_disk: int
    newest_published: str | None
    updated: str
    generation: int


class Reader(Protocol):
    """What qa and bot read of an index: `IndexReader` (an index folder: its ledger and
    search backend) or `index.replica.ReplicaReader` (Milvus alone, on a bot replica)."""

    manifest: Manifest

    @property
    def fuses(self) -> bool: ...

    def damage(self) -> AbstractContextManager[None]: ...
    def refresh(self) -> bool: ...
    def dense(self, query: np.ndarray, k: int, scope: Scope | None = None) -> list[Match]: ...
    def keyword(self, text: str, k: int, scope: Scope | None = None) -> list[Match]: ...
    def hybrid(
        self, query: np.ndarray, text: str, k: int, scope: Scope | None, rrf_k: int
    ) -> list[Match]: ...
    def ages(self, ids: list[int], today: date) -> np.ndarray: ...
    def vector_count(self) -> int: ...
    def vectors_of(self, ids: list[int]) -> np.ndarray: ...
    def chunks(self, ids: list[int]) -> dict[int, StoredChunk]: ...
    def sentence_vectors(self, ids: list[int]) -> dict[int, np.ndarray]: ...
    def story_members(self, stories: Iterable[int]) -> dict[int, list[StoredArticleRef]]: ...
    def aliases_of(self, article_ids: Iterable[str]) -> dict[str, list[StoredAlias]]: ...
    def has_article(self, article_id: str) -> bool: ...
    def articles(self) -> Iterator[Article]: ...
    def source_known(self, source: str) -> bool: ...
    def stats(self) -> IndexStats: ...
    def close(self) -> None: ...


def open_reader(settings: Settings) -> Reader:
    """The reader of the index `settings` name: its folder's, or, with the Milvus backend
    and no index in the folder, Milvus alone (a bot replica: index.replica)."""
    layout = Layout(settings.index_dir)
    if settings.backend == "milvus" and settings.milvus_uri and not layout.store.exists():
        from index.replica import ReplicaReader

        return ReplicaReader(settings)
    return IndexReader(settings.index_dir, settings)


class IndexReader:
    """A read-only view that follows the writers: `refresh()` picks up a newer generation.

    Searches go to the search backend (index.backend: local or Milvus, index.backends),
    records to the store, the ledger: qa and bot reach the index through this class only.
    """

    def __init__(self, folder: Path, settings: Settings | None = None) -> None:
        """`settings` choose the search backend (Settings.backend; default: local)."""
        self.layout = Layout(folder)
        if not self.layout.store.exists():
            raise IndexMissing.at(folder)
        self.store = self._open()
        try:
            settings = settings or Settings(index_dir=folder)
            with self.damage():
                self.manifest = self._manifest()
                self.manifest.check_backend(settings.backend, folder)
                self.search = open_backend(
                    settings,
                    self.store,
                    dimension=self.manifest.dimension,
                    exact=lambda: self.store.vectors(self.manifest.dimension),
                )
                self.search.refresh()
            self._fusing = self.search if isinstance(self.search, FusingBackend) else None
        except BaseException:
            self.store.close()
            raise

    def _open(self) -> Store:
        """The store, upgraded first (under the write lock) if an older version wrote it."""
        ensure_current(self.layout.folder)
        return Store(self.layout.store, readonly=True)

    def damage(self) -> AbstractContextManager[None]:
        """A block in which SQLite finding the store damaged raises IndexCorrupt, naming the
        file: wraps every use of the store (a damaged page is met only when it is read)."""
        return store_damage(self.layout.store)

    def _manifest(self) -> Manifest:
        data = self.store.get_meta("manifest")
        if data is None:
            raise IndexMissing(
                f"the index in {self.layout.folder} is empty; run `qa ingest PATH` first"
            )
        manifest = Manifest.from_dict(data)
        manifest.check_format(self.layout.folder)
        return manifest

    def _generation(self) -> int:
        data = self.store.get_meta("manifest")
        return -1 if data is None else int(data["generation"])

    def refresh(self) -> bool:
        """Reload if a writer committed since; True when it did. Cheap when nothing changed."""
        with self.damage():
            if self._generation() == self.manifest.generation:
                return False
            manifest = self._manifest()
            manifest.check_backend(self.manifest.backend, self.layout.folder)  # not moved
            self.manifest = manifest
            self.search.refresh()
        log.info("index reloaded at generation %d", self.manifest.generation)
        return True

    def dense(self, query: np.ndarray, k: int, scope: Scope | None = None) -> list[Match]:
        """Top `k` chunks by cosine to a (d,) unit query vector, inside `scope`."""
        return self.search.dense(query, k, scope)

    def keyword(self, text: str, k: int, scope: Scope | None = None) -> list[Match]:
        """Top `k` chunks by BM25 for any user text, inside `scope`."""
        return self.search.keyword(text, k, scope)

    @property
    def fuses(self) -> bool:
        """Whether the backend fuses dense and keyword search itself (`hybrid`: Milvus)."""
        return self._fusing is not None

    def hybrid(
        self, query: np.ndarray, text: str, k: int, scope: Scope | None, rrf_k: int
    ) -> list[Match]:
        """Dense and keyword search fused by reciprocal rank in the backend (see `fuses`)."""
        if self._fusing is None:
            raise TypeError(f"the {self.search.kind} backend does not fuse its searches")
        return self._fusing.hybrid(query, text, k, scope, rrf_k)

    def ages(self, ids: list[int], today: date) -> np.ndarray:
        """(len(ids),) days from each chunk's article to `today`; NaN where undated."""
        return self.search.ages(ids, today)

    def vector_count(self) -> int:
        """Vectors the search backend holds (the manifest's chunks, when whole)."""
        return self.search.count()

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        """(len(ids), d) stored unit vectors of chunks known to this generation: the
        backend's where it lives beside the ledger (the local one's float16 when it keeps
        them so), else the ledger's own float32, which a remote backend (Milvus) holds the
        same: a round trip saved a question."""
        if self.search.shares_ledger_transaction:
            return self.search.vectors(ids)
        return self.store.chunk_vectors(ids, self.manifest.dimension)

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
        return self.store.any_in(Scope(source=source))

    def stats(self) -> IndexStats:
        m = self.manifest
        size = sum(p.stat().st_size for p in self.layout.folder.iterdir() if p.is_file())
        return IndexStats(
            where=str(self.layout.folder),
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
        self.search.close()
        self.store.close()
