"""Answering from Milvus alone: a bot replica on a machine with no index folder.

The ingest host keeps the ledger (the SQLite store) and writes Milvus (index.writer); every
row there carries what an answer shows of its chunk (index.backend.Payload) and the marker
carries the manifest, so a replica needs only QA_MILVUS_URI (and its token): `ReplicaReader`
reads the same things `index.reader.IndexReader` reads, from Milvus, and follows the
generations the ingest host commits. What needs the articles whole (`qa eval`'s texts) needs
the ledger, and says so.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import date
from typing import Any

import numpy as np

from index import int8
from index.backend import Match
from index.errors import ConfigError, IndexMismatch, IndexMissing
from index.manifest import Manifest
from index.milvus_backend import MilvusBackend
from index.reader import IndexStats
from index.records import Article, Scope, StoredAlias, StoredArticleRef, StoredChunk
from index.settings import Settings

log = logging.getLogger(__name__)

_ROWS_KEPT = 2048  # chunk rows remembered between a question's reads (~15 kB each)


class ReplicaReader:
    """`IndexReader`'s reads, from a Milvus server (or Lite file) with no index folder."""

    fuses = True

    def __init__(self, settings: Settings) -> None:
        if not settings.milvus_uri:
            raise ConfigError("a replica reads Milvus at QA_MILVUS_URI; none is set")
        self.where = f"{settings.milvus_uri} (collections {settings.milvus_collection}_*)"
        self.search = MilvusBackend(
            settings.milvus_uri,
            token=settings.milvus_token,
            prefix=settings.milvus_collection,
        )
        try:
            self.manifest = self._manifest()
            self.search.dimension = self.manifest.dimension
            self.search.check_layout()
        except BaseException:
            self.search.close()
            raise
        self._rows: OrderedDict[tuple[int, int], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        log.info("answering from Milvus at %s, generation %d", self.where, self.search.generation)

    def _manifest(self) -> Manifest:
        data = self.search.manifest
        if data is None:
            raise IndexMissing(
                f"Milvus at {self.where} holds no index; run `qa ingest PATH --backend milvus` "
                "on the ingest host (with the same QA_MILVUS_URI and QA_MILVUS_COLLECTION)"
            )
        manifest = Manifest.from_dict(data)
        if not manifest.current:
            raise IndexMismatch(
                f"the index in Milvus at {self.where} has format {manifest.format}; upgrade "
                "qa on the ingest host and this replica alike"
            )
        return manifest

    def damage(self) -> AbstractContextManager[None]:
        """No local file to find damaged."""
        return nullcontext()

    def refresh(self) -> bool:
        """Follow the generation the ingest host committed last; True when it moved."""
        if not self.search.refresh():
            return False
        self.manifest = self._manifest()
        log.info("following Milvus at generation %d", self.manifest.generation)
        return True

    # -- searches -------------------------------------------------------------------------

    def dense(self, query: np.ndarray, k: int, scope: Scope | None = None) -> list[Match]:
        return self.search.dense(query, k, scope)

    def keyword(self, text: str, k: int, scope: Scope | None = None) -> list[Match]:
        return self.search.keyword(text, k, scope)

    def hybrid(
        self, query: np.ndarray, text: str, k: int, scope: Scope | None, rrf_k: int
    ) -> list[Match]:
        return self.search.hybrid(query, text, k, scope, rrf_k)

    def ages(self, ids: list[int], today: date) -> np.ndarray:
        return self.search.ages(ids, today)

    def vector_count(self) -> int:
        return self.search.count()

    # -- what answers show ----------------------------------------------------------------

    def _payloads(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """chunk id -> its row, read once a generation: a question reads its chunks, then
        their vectors and sentence vectors, in one round trip."""
        generation = self.search.generation
        out: dict[int, dict[str, Any]] = {}
        with self._lock:
            for cid in ids:
                if (row := self._rows.get((generation, cid))) is not None:
                    out[cid] = row
        missing = [cid for cid in ids if cid not in out]
        if missing:
            found = self.search.payloads(missing)
            out.update(found)
            with self._lock:
                for cid, row in found.items():
                    self._rows[(generation, cid)] = row
                while len(self._rows) > _ROWS_KEPT:
                    self._rows.popitem(last=False)
        return out

    def chunks(self, ids: list[int]) -> dict[int, StoredChunk]:
        out = {}
        for cid, row in self._payloads(list(dict.fromkeys(ids))).items():
            layout = json.loads(row["layout"] or "{}")
            out[cid] = StoredChunk(
                id=cid,
                article_id=row["article"],
                title=row["title"],
                url=row["url"] or None,
                published=row["published"] or None,
                source=row["source"] or None,
                text=row["text"],
                start=int(layout.get("start", 0)),
                end=int(layout.get("end", len(row["text"]))),
                sentences=tuple(tuple(s) for s in layout.get("sentences", ())),
                story=int(row["story"]) if int(row["story"]) >= 0 else None,
            )
        return out

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        found = self._payloads(ids)
        missing = [i for i in ids if i not in found]
        if missing:
            raise KeyError(f"chunk ids not held: {missing[:5]}")
        rows = [found[i]["vector"] for i in ids]
        return np.asarray(rows, dtype=np.float32).reshape(len(ids), self.manifest.dimension)

    def sentence_vectors(self, ids: list[int]) -> dict[int, np.ndarray]:
        out = {}
        for cid, row in self._payloads(ids).items():
            if row["sentvec"]:
                try:
                    out[cid] = int8.unpack(
                        base64.b64decode(row["sentvec"]), self.manifest.dimension
                    )
                except ValueError:
                    continue  # embedded when quoted instead
        return out

    def story_members(self, stories: Iterable[int]) -> dict[int, list[StoredArticleRef]]:
        """The articles of each story, oldest first (as the ledger orders them)."""
        seen: dict[int, dict[str, tuple[StoredArticleRef, int]]] = {}
        for row in self.search.story_rows(stories):
            ref = StoredArticleRef(
                row["article"],
                row["title"],
                row["url"] or None,
                row["published"] or None,
                row["source"] or None,
            )
            # An article's first chunk id stands for its rowid's order (both grow).
            members = seen.setdefault(int(row["story"]), {})
            first = min(int(row["chunk"]), members.get(ref.id, (ref, 1 << 62))[1])
            members[ref.id] = (ref, first)
        return {
            story: [r for r, _ in sorted(m.values(), key=lambda m: (m[0].published or "", m[1]))]
            for story, m in seen.items()
        }

    def aliases_of(self, article_ids: Iterable[str]) -> dict[str, list[StoredAlias]]:
        """Other ids each article's text was read under, from its rows. Asked of articles
        just quoted, whose rows this reader holds."""
        wanted = set(article_ids)
        out: dict[str, list[StoredAlias]] = {}
        with self._lock:
            rows = list(self._rows.values())
        for row in rows:
            if row["article"] in wanted and row["article"] not in out:
                aliases = json.loads(row["aliases"] or "[]")
                out[row["article"]] = [
                    StoredAlias(i, t or "", u or None, p or None, s or None)
                    for i, t, u, p, s in aliases
                ]
        return {a: v for a, v in out.items() if v}

    def source_known(self, source: str) -> bool:
        return self.search.any_in(Scope(source=source))

    def has_article(self, article_id: str) -> bool:
        raise ConfigError(self._needs_ledger("finding an article by id"))

    def articles(self) -> Iterator[Article]:
        raise ConfigError(self._needs_ledger("the articles' whole texts"))

    def _needs_ledger(self, what: str) -> str:
        return (
            f"{what} needs the ledger, the index folder on the ingest host; this replica "
            f"reads only Milvus at {self.where}"
        )

    def stats(self) -> IndexStats:
        m = self.manifest
        return IndexStats(
            where=self.where,
            articles=m.articles,
            chunks=m.chunks,
            model=m.model,
            dimension=m.dimension,
            search=m.search,
            bytes_on_disk=0,
            newest_published=None,
            updated=m.updated,
            generation=m.generation,
        )

    def close(self) -> None:
        self.search.close()
