"""The search-backend contract: what any engine that serves an index's searches must do.

A backend holds, for each chunk, its vector, its searchable text and the fields a scope is
cut by (date, source), and answers two searches, dense and keyword, each inside an optional
`Scope` applied in the search itself (so a scoped search still gives k results when k
exist). Writes are staged and become visible to other readers only at `commit`, all at
once, as a new generation; a reader moves to the newest generation with `refresh`.

The SQLite store (index.store) is the ledger and the source of truth: articles, chunk
offsets, sentence vectors, stories and aliases live there, and any backend can be refilled
from it without embedding again. A backend that `holds_payload` (Milvus) also keeps, with
each entry, everything an answer shows of its chunk (`Payload`) and the manifest
(`describe`), so a bot replica on another machine answers from it with no index folder
(index.replica). `index.local_backend` is the first backend (FAISS and
SQLite FTS5 in the index folder); `tests/test_backend_contract.py` is the routine every
backend passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, runtime_checkable

import numpy as np

from index.records import Scope, StoredAlias


@dataclass(frozen=True)
class Payload:
    """What an answer shows of a chunk besides its vector: kept by a backend that serves
    replicas (`holds_payload`), from the ledger (`Store.entries(payload=True)`)."""

    title: str
    text: str  # the chunk's text, verbatim: article text[start:end]
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]  # article-relative spans of whole sentences
    story: int  # the story id (near duplicates share it)
    sentence_vectors: bytes | None = None  # index.int8.pack of its sentences' vectors
    aliases: tuple[StoredAlias, ...] = ()  # other ids its article's very text was read under


@dataclass(frozen=True)
class Entry:
    """One chunk as a backend indexes it."""

    id: int  # the chunk id: positive, never reused
    vector: np.ndarray = field(compare=False)  # (d,) float32, unit length
    text: str  # what keyword search matches: the article's title, a newline, the chunk
    article: str  # the article's id
    published: str | None = None  # ISO date or datetime; None: undated
    source: str | None = None  # a scope's source matches this or the URL, case-folded
    url: str | None = None
    payload: Payload | None = field(default=None, compare=False)  # holds_payload backends'


@dataclass(frozen=True)
class Match:
    """One search result: a chunk id and its score (higher is better; cosine for dense)."""

    id: int
    score: float


class SearchBackend(Protocol):
    """Dense and keyword search over chunks, written in generations."""

    dimension: int  # of its vectors; 0 until known (the first upsert tells)
    # Whether its writes are part of the ledger's SQLite transaction (the local backend's
    # tables live in the store's file); else the writer commits the ledger first, then it.
    shares_ledger_transaction: bool
    # Whether it keeps each entry's Payload and the manifest, so that replicas answer from
    # it alone (index.replica); the writer then gives entries their payload.
    holds_payload: bool

    @property
    def generation(self) -> int:
        """The committed generation this backend reads (0: nothing committed yet)."""
        ...

    @property
    def kind(self) -> str:
        """What searches it: "flat" or "hnsw" (local), "milvus"."""
        ...

    def upsert(self, entries: Sequence[Entry]) -> None:
        """Add these entries, replacing any with the same id; visible at `commit`."""
        ...

    def delete(self, ids: Iterable[int]) -> None:
        """Remove these chunk ids (ids not held are passed over); visible at `commit`."""
        ...

    def clear(self) -> None:
        """Remove every entry (a rebuild refills it); visible at `commit`."""
        ...

    def commit(self) -> int:
        """Make every write since the last commit visible at once; the new generation."""
        ...

    def discard(self) -> None:
        """Undo every write since the last commit (the ledger's transaction was undone)."""
        ...

    def refresh(self) -> bool:
        """Follow a newer committed generation; True when there was one."""
        ...

    def describe(self, manifest: dict[str, Any]) -> None:
        """The index's manifest as of the next commit, kept by a backend that holds
        payloads (replicas read it there); others pass."""
        ...

    def kept_manifest(self) -> dict[str, Any] | None:
        """The manifest it keeps as of its generation (None: none, or it keeps none)."""
        ...

    def dense(self, query: np.ndarray, k: int, scope: Scope | None = None) -> list[Match]:
        """Top `k` by cosine to a (d,) unit query, best first, inside `scope`."""
        ...

    def keyword(self, text: str, k: int, scope: Scope | None = None) -> list[Match]:
        """Top `k` by BM25 for any user text (never parsed as a query), inside `scope`."""
        ...

    def ages(self, ids: Sequence[int], today: date) -> np.ndarray:
        """(len(ids),) days from each entry's date to `today` (0 for a later date); NaN
        where undated or not held: what the recency prior needs of each candidate."""
        ...

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        """(len(ids), d) float32 stored vectors of these ids (each must be held)."""
        ...

    def count(self) -> int:
        """Entries held in the generation read."""
        ...

    def tidy(self) -> None:
        """Remove what interrupted writes left (files, collections), if anything."""
        ...

    def close(self) -> None: ...


REFILL_BATCH = 4096  # entries written to a backend at a time by `refill`


def refill(backend: SearchBackend, entries: Iterable[Entry]) -> None:
    """Empty `backend` and give it these entries (the ledger's, `Store.entries`: vectors as
    stored, nothing embedded again); visible at its next commit."""
    backend.clear()
    batch: list[Entry] = []
    for entry in entries:
        batch.append(entry)
        if len(batch) == REFILL_BATCH:
            backend.upsert(batch)
            batch = []
    backend.upsert(batch)


@runtime_checkable
class FusingBackend(SearchBackend, Protocol):
    """A backend that also fuses its two searches itself, in one request (Milvus)."""

    def hybrid(
        self, query: np.ndarray, text: str, k: int, scope: Scope | None, rrf_k: int
    ) -> list[Match]:
        """Dense and keyword search, each `k` deep inside `scope`, fused by reciprocal
        rank with constant `rrf_k` (1 / (rrf_k + rank), ranks from 1): up to 2k, best
        first."""
        ...
