"""Milvus as a search backend (index.backend's contract), for archives past one machine.

The same pymilvus client speaks to Milvus Lite (a file path: the engine inside this process,
one process per file) and to a Milvus standalone or cluster (`http://host:19530` and a
token). Tested against milvus-lite 2.5.1 with pymilvus 2.5 (`pip install -e ".[milvus]"`).

What Milvus holds, a collection a rebuild (`<prefix>_c<N>`):
- each chunk's row: its vector (dense search), its folded text (`body`, analysed by the
  standard analyzer; a BM25 function fills `sparse` from it, so keyword search is Milvus's
  own), its day as an INT64 (YYYYMMDD, -1 undated), `src` (its source and URL, case-folded,
  for a source scope), its article id;
- `born` and `died`, the generations between which the row is live: writes are rows of the
  next generation, invisible until `commit` moves the marker, so readers never see half a
  write; a replaced or deleted row is marked dead, and purged a commit later;
- what an answer shows of each chunk (its text, offsets, sentence spans and 8-bit sentence
  vectors; its article's title, URL, date, source, story and aliases), and the manifest in
  the marker, so a bot replica answers from Milvus alone (index.replica);
- the marker, `<prefix>_live`: one row naming the live collection and generation, read by
  `refresh` before each question (Milvus Lite has no aliases, so no alias is needed).
Searches apply the scope and the generation as filter expressions inside Milvus; each
returns the hits' days too, so the recency prior asks nothing more (`ages`).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import numpy as np

from index.backend import Entry, Match
from index.errors import ConfigError, IndexMismatch
from index.milvus_client import connect
from index.milvus_collections import (
    ALIVE,
    GEN_BITS,
    INDEX_TYPES,
    MAX_TEXT,
    ROW_FIELDS,
    UNDATED,
    Marker,
    clip,
    create_collection,
    day_number,
    ensure_marker,
    has_payload,
    live,
    read_marker,
    scope_filter,
    write_marker,
)
from index.records import Scope
from index.textnorm import fold

log = logging.getLogger(__name__)

_IN = 4_000  # ids per `in [...]` list
_DAYS_KEPT = 100_000  # hits' days remembered from searches, for `ages`


class MilvusBackend:
    """A `SearchBackend` on a Milvus server, cluster or Milvus Lite file."""

    def __init__(
        self,
        uri: str,
        *,
        token: str | None = None,
        prefix: str = "newsqa",
        dimension: int = 0,
        index_type: str = "AUTOINDEX",
        consistency: str = "Strong",
    ) -> None:
        if index_type not in INDEX_TYPES:
            raise ConfigError(f"index type must be one of {', '.join(INDEX_TYPES)}")
        if not prefix.replace("_", "").isalnum():
            raise ConfigError(f"a collection prefix is letters, digits and _, not {prefix!r}")
        self._client: Any = connect(uri, token)
        self.uri = uri
        self.prefix = prefix
        self.dimension = dimension
        self.index_type = index_type
        self.consistency = consistency
        self._marker = f"{prefix}_live"
        ensure_marker(self._client, self._marker)
        marker = read_marker(self._client, self._marker)
        # The live collection and its generation, one tuple so that a question on another
        # thread never reads one of them old and the other new.
        self._live: tuple[str | None, int] = (marker.collection, marker.generation)
        self.manifest = marker.manifest  # the index's, as of the live generation
        self._described: dict[str, Any] | None = None  # the manifest the next commit keeps
        self._pending: str | None = None  # the collection writes go to, until commit
        self._writing = False  # writes since the last commit: searches see them (ours)
        # (collection, generation, chunk) -> day, of the hits searches returned.
        self._days: OrderedDict[tuple[str, int, int], int] = OrderedDict()
        self._days_lock = threading.Lock()
        self.shares_ledger_transaction = False  # the writer commits the ledger first
        self.holds_payload = True  # replicas answer from Milvus alone

    # -- reading --------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        return self._live[1]

    @property
    def _generation(self) -> int:
        return self._live[1]

    @property
    def _collection(self) -> str | None:
        return self._live[0]

    @property
    def kind(self) -> str:
        return "milvus"

    def tidy(self) -> None:
        """Nothing to tidy on disk: collections older than the live one's predecessor go at
        each commit."""

    def refresh(self) -> bool:
        marker = read_marker(self._client, self._marker)
        if (marker.collection, marker.generation) == self._live:
            return False
        self._live = (marker.collection, marker.generation)
        self.manifest = marker.manifest
        return True

    def describe(self, manifest: dict[str, Any]) -> None:
        self._described = manifest

    def kept_manifest(self) -> dict[str, Any] | None:
        return self.manifest

    def check_layout(self) -> None:
        """IndexMismatch when the live collection was made by an earlier layout, without
        what replicas read (`qa doctor --repair` refills a new one)."""
        if self._collection is not None and not has_payload(self._client, self._collection):
            raise IndexMismatch(
                f"the Milvus collection {self._collection} at {self.uri} was made by an earlier "
                "version, without the chunks' text; run `qa doctor --repair --backend milvus` "
                "on the ingest host to refill it from the ledger"
            )

    def _seen(self) -> tuple[str | None, int]:
        """The collection and generation our searches read: the pending ones while we
        write (a writer sees its own writes, as SQLite's connection does), else the live."""
        collection, generation = self._live
        if self._writing:
            return self._pending or collection, generation + 1
        return collection, generation

    def count(self) -> int:
        collection, generation = self._seen()
        if collection is None:
            return 0
        rows = self._client.query(
            collection,
            filter=live(generation),
            output_fields=["count(*)"],
            consistency_level=self.consistency,
        )
        return int(rows[0]["count(*)"]) if rows else 0

    def vectors(self, ids: Sequence[int]) -> np.ndarray:
        found = self._rows(list(ids), ["chunk", "vector"])
        missing = [i for i in ids if i not in found]
        if missing:
            raise KeyError(f"chunk ids not held: {missing[:5]}")
        return np.asarray([found[i]["vector"] for i in ids], dtype=np.float32).reshape(len(ids), -1)

    def ages(self, ids: Sequence[int], today: date) -> np.ndarray:
        """(len(ids),) days from each entry's date to `today`; NaN where undated or gone.
        The days of hits a search just returned are known: only others are asked for."""
        collection, generation = self._seen()
        days: dict[int, int] = {}
        with self._days_lock:
            for cid in ids:
                if (day := self._days.get((collection or "", generation, cid))) is not None:
                    days[cid] = day
        missing = [cid for cid in ids if cid not in days]
        days.update(
            (cid, int(r["day"])) for cid, r in self._rows(missing, ["chunk", "day"]).items()
        )
        out = np.full(len(ids), np.nan)
        for n, cid in enumerate(ids):
            day = days.get(cid, UNDATED)
            if day != UNDATED:
                d = date(day // 10_000, day // 100 % 100, day % 100)
                out[n] = max((today - d).days, 0)
        return out

    def payloads(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """chunk id -> its live row: the vector and what an answer shows (index.replica)."""
        fields = ["chunk", "vector", "article", "title", "url", "published", "source"]
        return self._rows(list(ids), [*fields, "text", "layout", "story", "sentvec", "aliases"])

    def story_rows(self, stories: Iterable[int]) -> list[dict[str, Any]]:
        """The live rows of these stories' chunks: their article's id, title, URL, date,
        source and story (a row a chunk: several an article)."""
        wanted = list(dict.fromkeys(int(s) for s in stories))
        collection, generation = self._seen()
        if collection is None or not wanted:
            return []
        fields = ["story", "article", "title", "url", "published", "source", "chunk"]
        out = []
        for at in range(0, len(wanted), _IN):
            part = ", ".join(str(s) for s in wanted[at : at + _IN])
            out += self._client.query(
                collection,
                filter=f"story in [{part}] and {live(generation)}",
                output_fields=fields,
                limit=16_384,
                consistency_level=self.consistency,
            )
        return out

    def any_in(self, scope: Scope) -> bool:
        """Whether any live chunk is in `scope`."""
        collection, generation = self._seen()
        where = scope_filter(scope, generation)
        if collection is None or where is None:
            return False
        return bool(
            self._client.query(
                collection,
                filter=where,
                output_fields=["chunk"],
                limit=1,
                consistency_level=self.consistency,
            )
        )

    def _rows(self, ids: list[int], fields: list[str]) -> dict[int, dict[str, Any]]:
        collection, generation = self._seen()
        out: dict[int, dict[str, Any]] = {}
        if collection is None or not ids:
            return out
        for at in range(0, len(ids), _IN):
            part = ", ".join(str(int(i)) for i in ids[at : at + _IN])
            for row in self._client.query(
                collection,
                filter=f"chunk in [{part}] and {live(generation)}",
                output_fields=fields,
                consistency_level=self.consistency,
            ):
                out[int(row["chunk"])] = row
        return out

    def dense(self, query: np.ndarray, k: int, scope: Scope | None = None) -> list[Match]:
        return self._search(np.asarray(query, dtype=np.float32).tolist(), "vector", k, scope)

    def keyword(self, text: str, k: int, scope: Scope | None = None) -> list[Match]:
        folded = fold(text)[:MAX_TEXT].strip()
        if not folded:
            return []
        return self._search(folded, "sparse", k, scope)

    def _search(self, data: Any, field: str, k: int, scope: Scope | None) -> list[Match]:
        collection, generation = self._seen()
        if collection is None or k <= 0:
            return []
        where = scope_filter(scope, generation)
        if where is None:
            return []
        found = self._client.search(
            collection,
            data=[data],
            anns_field=field,
            limit=min(k, 16_384),
            filter=where,
            output_fields=["chunk", "day"],
            search_params={"metric_type": "IP" if field == "vector" else "BM25"},
            consistency_level=self.consistency,
        )
        return self._matches(found[0], collection, generation)

    def _matches(self, hits: Any, collection: str, generation: int) -> list[Match]:
        """A search's hits as Matches, their days remembered for `ages`."""
        out = [Match(int(hit["entity"]["chunk"]), float(hit["distance"])) for hit in hits]
        if not self._writing:
            with self._days_lock:
                for hit in hits:
                    self._days[(collection, generation, int(hit["entity"]["chunk"]))] = int(
                        hit["entity"]["day"]
                    )
                while len(self._days) > _DAYS_KEPT:
                    self._days.popitem(last=False)
        return out

    def hybrid(
        self, query: np.ndarray, text: str, k: int, scope: Scope | None, rrf_k: int
    ) -> list[Match]:
        """Dense and BM25 search fused inside Milvus by its RRFRanker(rrf_k), each search
        `k` deep, the scope in both: up to 2k (chunk id, fused score), best first. One
        round trip where two searches take two; the same fusion as qa.retriever's."""
        from pymilvus import AnnSearchRequest, RRFRanker

        collection, generation = self._seen()
        where = scope_filter(scope, generation)
        folded = fold(text)[:MAX_TEXT].strip()
        if collection is None or k <= 0 or where is None:
            return []
        vector = np.asarray(query, dtype=np.float32).tolist()
        requests = [AnnSearchRequest([vector], "vector", {"metric_type": "IP"}, k, expr=where)]
        if folded:
            requests.append(
                AnnSearchRequest([folded], "sparse", {"metric_type": "BM25"}, k, expr=where)
            )
        found = self._client.hybrid_search(
            collection,
            requests,
            RRFRanker(rrf_k),
            limit=min(2 * k, 16_384),
            output_fields=["chunk", "day"],
            consistency_level=self.consistency,
        )
        return self._matches(found[0], collection, generation)

    # -- writing --------------------------------------------------------------------------

    def upsert(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        self.dimension = self.dimension or len(entries[0].vector)
        target = self._begin()
        self._retire([e.id for e in entries])
        born = self._generation + 1
        rows = [_row(e, born) for e in entries]
        for at in range(0, len(rows), 1000):
            self._client.upsert(target, rows[at : at + 1000])

    def delete(self, ids: Iterable[int]) -> None:
        wanted = list(dict.fromkeys(int(i) for i in ids))
        if wanted:
            self._begin()
            self._retire(wanted)

    def clear(self) -> None:
        """Writes from here go to a new collection, made live whole at `commit`."""
        self._writing = True
        if self._pending is not None and self._pending != self._collection:
            self._client.drop_collection(self._pending)
        self._pending = f"{self.prefix}_c{self._generation + 1}"
        if self._client.has_collection(self._pending):
            self._client.drop_collection(self._pending)  # left by a rebuild that died
        create_collection(self._client, self._pending, self.dimension, self.index_type)

    def commit(self) -> int:
        """Make this generation's rows live. A backend that wrote nothing yet finishes an
        interrupted write instead: the rows another process wrote of the next generation
        (a rebuild's whole new collection, if one was being filled)."""
        if self._pending is None:
            rebuilt = f"{self.prefix}_c{self._generation + 1}"
            if rebuilt != self._collection and self._client.has_collection(rebuilt):
                self._pending = rebuilt
        target = self._begin()
        self._client.flush(target)
        generation = self._generation + 1
        old = self._collection
        manifest = self._described or self.manifest
        write_marker(self._client, self._marker, Marker(target, generation, manifest))
        self._client.flush(self._marker)
        # Collections older than the one readers may still be on (the live one before this
        # commit) are dropped, whichever process made them: two at most stay.
        ours = re.compile(rf"{re.escape(self.prefix)}_c\d+")
        for name in self._client.list_collections():
            if ours.fullmatch(name) and name not in (target, old):
                self._client.drop_collection(name)
        # Rows dead before the generation readers may still be on are purged.
        self._client.delete(target, filter=f"died <= {self._generation}")
        self._live = (target, generation)
        self.manifest, self._described = manifest, None
        self._pending, self._writing = None, False
        return generation

    def discard(self) -> None:
        """Undo every write of the next generation, this process's or an interrupted one's
        (its ledger transaction never committed): its rows deleted, the rows it marked dead
        alive again, a rebuild's new collection dropped."""
        rebuilt = f"{self.prefix}_c{self._generation + 1}"
        if rebuilt != self._collection and self._client.has_collection(rebuilt):
            self._client.drop_collection(rebuilt)
        live, dying = self._collection, self._generation + 1
        if live is not None:
            self._client.delete(live, filter=f"born == {dying}")
            while rows := self._client.query(
                live,
                filter=f"died == {dying}",
                output_fields=ROW_FIELDS,
                limit=1000,
                consistency_level="Strong",
            ):
                self._client.upsert(live, [{**r, "died": ALIVE} for r in rows])
        self._pending, self._writing, self._described = None, False, None

    def close(self) -> None:
        self._client.close()

    # -- inside ---------------------------------------------------------------------------

    def _begin(self) -> str:
        """The collection this write goes to (made if the first), its rows of the next
        generation."""
        self._writing = True
        if self._pending is None:
            self._pending = self._collection or f"{self.prefix}_c{self._generation + 1}"
            if not self._client.has_collection(self._pending):
                create_collection(self._client, self._pending, self.dimension, self.index_type)
            elif self._pending == self._collection:
                self.check_layout()
        return self._pending

    def _retire(self, ids: list[int]) -> None:
        """Mark the live rows of these chunk ids dead from the next generation on."""
        target = self._pending
        if target is None or not self._client.has_collection(target):
            return
        dying = self._generation + 1
        for at in range(0, len(ids), _IN):
            part = ", ".join(str(i) for i in ids[at : at + _IN])
            rows = self._client.query(
                target,
                filter=f"chunk in [{part}] and died == {ALIVE}",
                output_fields=ROW_FIELDS,
                consistency_level="Strong",
            )
            fresh = [r["key"] for r in rows if int(r["born"]) == dying]
            if fresh:  # written since the last commit: never seen by anyone, gone at once
                self._client.delete(target, ids=fresh)
            older = [{**r, "died": dying} for r in rows if int(r["born"]) != dying]
            if older:
                for r in older:
                    r.pop("sparse", None)
                self._client.upsert(target, older)


def _row(e: Entry, born: int) -> dict[str, Any]:
    """The Milvus row of an entry written in generation `born`."""
    p = e.payload
    text = p.text if p else e.text
    layout = {"start": p.start, "end": p.end, "sentences": p.sentences} if p else {}
    sentences = p.sentence_vectors if p else None
    sentvec = base64.b64encode(sentences).decode("ascii") if sentences else ""
    if len(sentvec) > MAX_TEXT:
        sentvec = ""  # an answer embeds such a chunk's sentences when it quotes it
    aliases = [[a.id, a.title, a.url, a.published, a.source] for a in p.aliases] if p else []
    while len(json.dumps(aliases).encode("utf-8")) > MAX_TEXT:
        aliases.pop()  # the oldest are cited first; JSON cut short would not read back
    return {
        "key": (e.id << GEN_BITS) | (born % (1 << GEN_BITS)),
        "chunk": e.id,
        "born": born,
        "died": ALIVE,
        "vector": np.asarray(e.vector, dtype=np.float32).tolist(),
        "body": clip(fold(e.text)),
        "day": day_number(e.published),
        "src": clip(f"{e.source or ''} {e.url or ''}".casefold()),
        "article": clip(e.article),
        "title": clip(p.title if p else ""),
        "url": clip(e.url),
        "published": clip(e.published),
        "source": clip(e.source),
        "text": clip(text),
        "layout": json.dumps(layout),
        "story": p.story if p else -1,
        "sentvec": sentvec,
        "aliases": json.dumps(aliases),
    }
