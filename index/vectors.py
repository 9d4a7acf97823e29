"""The FAISS side: vectors keyed by chunk id, written atomically, searched by inner product.

Two kinds of search, recorded in the manifest's `search` field:

- "flat": exact, every vector scored (IndexScalarQuantizer with float16 vectors), the cost
  growing with the index (docs/benchmarks.md). The scan waits on memory, not arithmetic,
  so half the bytes is half the time: 5.2 ms at 100k against 10.9 for float32 IndexFlatIP,
  with the same top 10 (a float16 cosine is off by ~1e-4; recall@10 against float32 exact
  1.000 at 10k and 100k, benchmarks/query.py). A store written before keeps its float32
  IndexFlatIP, searched the same way, until `qa doctor --repair` (no embedding) or
  `qa rebuild` writes the file anew.
- "hnsw": approximate (IndexHNSWFlat), about 7 ms a query at a million vectors (exact: 145 ms),
  with recall@10 against exact of 0.99 on vectors shaped like MiniLM's (benchmarks/ann.py).

`choose_search` picks flat below HNSW_FROM vectors and HNSW from there, unless told otherwise.
An HNSW graph cannot delete a node, so a removed vector's id is set to -1: searches skip it,
`__len__` does not count it, and `with_search` rebuilds the graph without it once such
tombstones are a fifth of the graph (and `qa rebuild` always starts from a fresh one).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from index.errors import ConfigError

log = logging.getLogger(__name__)

SEARCH_KINDS = ("auto", "flat", "hnsw")
HNSW_FROM = 150_000  # vectors; where exact search passes ~20 ms a query (docs/benchmarks.md)
HNSW_M = 32  # graph neighbours per node: 256 bytes of graph a vector beside its 1,536
HNSW_EF_CONSTRUCTION = 40  # faiss default; 80 doubles build time
HNSW_EF_SEARCH = 2048  # at 1M: recall@10 0.977 at 1024, 0.984 at 1536, 0.991 here (7 ms)
TOMBSTONE_SHARE = 0.2  # rebuild an HNSW graph once this share of its nodes are removed
_LIVE = (0, 2**62)  # chunk ids are positive; a tombstone's id is -1


def _faiss() -> Any:
    import faiss

    # One query at a time is faster on one thread than on two (measured: 11.5 ms at 100k).
    faiss.omp_set_num_threads(1)
    return faiss


def choose_search(vectors: int, requested: str = "auto") -> str:
    """Flat or HNSW for an index of this many vectors; `requested` overrides "auto"."""
    if requested not in SEARCH_KINDS:
        raise ConfigError(f"search must be one of {', '.join(SEARCH_KINDS)}, got {requested!r}")
    if requested != "auto":
        return requested
    return "hnsw" if vectors >= HNSW_FROM else "flat"


class VectorIndex:
    """Inner-product search over unit vectors, ids = chunk ids; exact or HNSW."""

    def __init__(self, index: Any) -> None:
        faiss = _faiss()
        self._index = index
        inner = faiss.downcast_index(index.index)
        self.kind = "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"
        self._removed = 0
        if self.kind == "hnsw":
            self._removed = int((faiss.vector_to_array(index.id_map) < 0).sum())
        # (ids sorted, ids by storage row, the rows in sorted order): made by _rows_of
        self._rows: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def empty(cls, dimension: int, search: str = "flat") -> VectorIndex:
        faiss = _faiss()
        kind = choose_search(0, search)
        if kind == "hnsw":
            inner = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            inner = faiss.IndexScalarQuantizer(
                dimension, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
            )
        return cls(faiss.IndexIDMap2(inner))

    @classmethod
    def build(
        cls, ids: np.ndarray, vectors: np.ndarray, dimension: int, search: str = "flat"
    ) -> VectorIndex:
        """An index of these vectors; `search` "auto" chooses the kind by their number."""
        index = cls.empty(dimension, choose_search(len(ids), search))
        index.add(ids, vectors)
        return index

    @classmethod
    def load(cls, path: Path) -> VectorIndex:
        return cls(_faiss().read_index(str(path)))

    def save(self, path: Path) -> None:
        """Write to a temporary name, fsync, then rename: the file is whole or absent."""
        faiss = _faiss()
        tmp = path.with_name(path.name + ".tmp")
        faiss.write_index(self._index, str(tmp))
        with tmp.open("rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal) - self._removed

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._rows = None
        # One thread here too: building a graph on two threads was no faster on a shared
        # two-core machine (66 s for 50k vectors either way).
        if len(ids):
            self._index.add_with_ids(
                np.ascontiguousarray(vectors, dtype=np.float32),
                np.ascontiguousarray(ids, dtype=np.int64),
            )

    def remove(self, ids: np.ndarray | list[int]) -> None:
        if not len(ids):
            return
        self._rows = None
        if self.kind == "flat":
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))
            return
        faiss = _faiss()
        id_map = faiss.vector_to_array(self._index.id_map)
        gone = np.isin(id_map, np.asarray(ids, dtype=np.int64)) & (id_map >= 0)
        if gone.any():
            id_map[gone] = -1
            faiss.copy_array_to_vector(id_map, self._index.id_map)
            self._index.construct_rev_map()  # so vectors_of no longer finds them
            self._removed += int(gone.sum())

    def vectors_of(self, ids: list[int]) -> np.ndarray:
        """(len(ids), d) stored vectors of these chunk ids (each must be present)."""
        if not ids:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64)))

    def ids(self) -> np.ndarray:
        """(len(self),) int64: the chunk ids held, in insertion order."""
        id_map = _faiss().vector_to_array(self._index.id_map)
        return id_map[id_map >= 0]

    def search(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Top `k` (chunk id, cosine) for one (d,) unit query; fewer when the index is small."""
        k = min(k, len(self))
        if k <= 0:
            return []
        params = None
        if self.kind == "hnsw":
            faiss = _faiss()
            params = faiss.SearchParametersHNSW()
            params.efSearch = max(HNSW_EF_SEARCH, k)
            if self._removed:
                keep = faiss.IDSelectorRange(*_LIVE)  # tested against chunk ids, not positions
                params.sel = keep
        scores, ids = self._index.search(
            np.asarray(query, np.float32).reshape(1, -1), k, params=params
        )
        # FAISS pads with id -1 when it has fewer than k results.
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def search_among(self, query: np.ndarray, ids: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Exact top `k` (chunk id, cosine) among `ids`, for a scope; ids not held are passed
        over. The stored vectors are scanned in place, only those in `ids` scored, instead of
        copied out (1M chunks, 40,000 in a year's scope: 25-34 ms against 35-250 ms)."""
        faiss = _faiss()
        rows, id_map = self._rows_of(np.asarray(ids, dtype=np.int64))
        k = min(k, len(rows))
        if k <= 0:
            return []
        inner = faiss.downcast_index(self._index.index)
        storage = faiss.downcast_index(inner.storage) if self.kind == "hnsw" else inner
        selector = faiss.IDSelectorBatch(rows)  # of storage rows, not chunk ids
        params = faiss.SearchParameters(sel=selector)
        scores, found = storage.search(
            np.asarray(query, np.float32).reshape(1, -1), k, params=params
        )
        return [
            (int(id_map[r]), float(s)) for r, s in zip(found[0], scores[0], strict=True) if r >= 0
        ]

    def _rows_of(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(the storage rows holding these chunk ids, the chunk id of every storage row);
        ids not held, tombstones among them, have no row."""
        if self._rows is None:
            id_map = _faiss().vector_to_array(self._index.id_map)
            order = np.argsort(id_map, kind="stable")
            self._rows = (id_map[order], id_map, order)
        sorted_ids, id_map, order = self._rows
        if not len(sorted_ids):
            return np.zeros(0, np.int64), id_map
        at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
        held = (sorted_ids[at] == ids) & (ids >= 0)
        return order[at[held]].astype(np.int64), id_map

    def with_search(
        self,
        requested: str = "auto",
        stored: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None,
    ) -> VectorIndex:
        """This index, or a rebuilt one, of the kind `requested` calls for at its size.

        Rebuilding also drops an HNSW graph's tombstones, once they are TOMBSTONE_SHARE of it.
        A new kind is built from `stored()` (ids, float32 vectors) where given, so that an
        HNSW graph grown out of a flat index does not keep its float16 rounding.
        """
        kind = choose_search(len(self), requested)
        if kind == self.kind and self._removed <= TOMBSTONE_SHARE * self._index.ntotal:
            return self
        log.info("rebuilding %d vectors as %s search", len(self), kind)
        if kind != self.kind and stored is not None:
            return VectorIndex.build(*stored(), self.dimension, kind)
        id_map = _faiss().vector_to_array(self._index.id_map)
        live = id_map >= 0
        vectors = self._index.index.reconstruct_n(0, self._index.ntotal)[live]
        return VectorIndex.build(id_map[live], vectors, self.dimension, kind)
