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
- the marker, `<prefix>_live`: one row naming the live collection and generation, read by
  `refresh` before each question (Milvus Lite has no aliases, so no alias is needed).
Searches apply the scope and the generation as filter expressions inside Milvus.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from index.backend import Entry, Match
from index.errors import ConfigError
from index.records import Scope
from index.textnorm import fold

log = logging.getLogger(__name__)

ALIVE = 2**62  # `died` of a live row
UNDATED = -1
MAX_TEXT = 65_535  # characters of a VARCHAR
GEN_BITS = 20  # a row's key is chunk id << GEN_BITS | its generation (mod 2**GEN_BITS)
INDEX_TYPES = ("AUTOINDEX", "FLAT", "IVF_FLAT", "HNSW", "DISKANN")
_IN = 4_000  # ids per `in [...]` list
_SOURCE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789.-_/: ")
SERVER_SCHEMES = ("http://", "https://", "tcp://", "unix:")
# Milvus Lite files open in this process, by how many backends: the last to close stops
# the file's server.
_LITE_USERS: dict[str, int] = {}
_LITE_LOCK = threading.Lock()


def day_number(published: str | None) -> int:
    """YYYYMMDD of an ISO date or datetime; UNDATED when there is none or it is not one."""
    if not published or len(published) < 10:
        return UNDATED
    try:
        d = date.fromisoformat(published[:10])
    except ValueError:
        return UNDATED
    return d.year * 10_000 + d.month * 100 + d.day


def _day_of(scope_day: str) -> int:
    d = date.fromisoformat(scope_day[:10])
    return d.year * 10_000 + d.month * 100 + d.day


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
        # gRPC's C core logs a line when Milvus Lite forks its server; only errors, please.
        os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
        try:
            with warnings.catch_warnings():  # milvus-lite 2.5 imports pkg_resources
                warnings.simplefilter("ignore")
                from pymilvus import MilvusClient
        except ImportError:
            raise ConfigError(
                'the Milvus backend needs pymilvus: pip install -e ".[milvus]"'
            ) from None
        if index_type not in INDEX_TYPES:
            raise ConfigError(f"index type must be one of {', '.join(INDEX_TYPES)}")
        if not prefix.replace("_", "").isalnum():
            raise ConfigError(f"a collection prefix is letters, digits and _, not {prefix!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._client: Any = MilvusClient(uri, token=token or "")
        self._lite = None if uri.startswith(SERVER_SCHEMES) else str(Path(uri).resolve())
        if self._lite is not None:
            with _LITE_LOCK:
                _LITE_USERS[self._lite] = _LITE_USERS.get(self._lite, 0) + 1
        self.uri = uri
        self.prefix = prefix
        self.dimension = dimension
        self.index_type = index_type
        self.consistency = consistency
        self._marker = f"{prefix}_live"
        self._ensure_marker()
        self._collection, self._generation = self._read_marker()
        self._pending: str | None = None  # the collection writes go to, until commit
        self._writing = False  # writes since the last commit: searches see them (ours)
        self._retired: list[str] = []  # collections to drop at the next commit

    # -- the marker -----------------------------------------------------------------------

    def _ensure_marker(self) -> None:
        if self._client.has_collection(self._marker):
            return
        from pymilvus import DataType

        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.INT64, is_primary=True)
        schema.add_field("generation", DataType.INT64)
        schema.add_field("collection", DataType.VARCHAR, max_length=255)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # a collection needs one
        params = self._client.prepare_index_params()
        params.add_index("unused", index_type="FLAT", metric_type="L2")
        self._client.create_collection(self._marker, schema=schema, index_params=params)

    def _read_marker(self) -> tuple[str | None, int]:
        rows = self._client.query(
            self._marker,
            filter="key == 0",
            output_fields=["generation", "collection"],
            consistency_level="Strong",
        )
        if not rows:
            return None, 0
        return str(rows[0]["collection"]), int(rows[0]["generation"])

    def _write_marker(self, collection: str, generation: int) -> None:
        row = {"key": 0, "generation": generation, "collection": collection, "unused": [0, 0]}
        self._client.upsert(self._marker, [row])

    # -- reading --------------------------------------------------------------------------

    @property
    def generation(self) -> int:
        return self._generation

    @property
    def kind(self) -> str:
        return "milvus"

    def tidy(self) -> None:
        """Nothing to tidy on disk: collections a rebuild left go at the next commit."""

    def refresh(self) -> bool:
        collection, generation = self._read_marker()
        if (collection, generation) == (self._collection, self._generation):
            return False
        self._collection, self._generation = collection, generation
        return True

    def _seen(self) -> tuple[str | None, int]:
        """The collection and generation our searches read: the pending ones while we
        write (a writer sees its own writes, as SQLite's connection does), else the live."""
        if self._writing:
            return self._pending or self._collection, self._generation + 1
        return self._collection, self._generation

    def _live(self, generation: int) -> str:
        return f"born <= {generation} and died > {generation}"

    def count(self) -> int:
        collection, generation = self._seen()
        if collection is None:
            return 0
        rows = self._client.query(
            collection,
            filter=self._live(generation),
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
        """(len(ids),) days from each entry's date to `today`; NaN where undated or gone."""
        found = self._rows(list(ids), ["chunk", "day"])
        out = np.full(len(ids), np.nan)
        for n, cid in enumerate(ids):
            day = int(found[cid]["day"]) if cid in found else UNDATED
            if day != UNDATED:
                d = date(day // 10_000, day // 100 % 100, day % 100)
                out[n] = max((today - d).days, 0)
        return out

    def _rows(self, ids: list[int], fields: list[str]) -> dict[int, dict[str, Any]]:
        collection, generation = self._seen()
        out: dict[int, dict[str, Any]] = {}
        if collection is None or not ids:
            return out
        for at in range(0, len(ids), _IN):
            part = ", ".join(str(int(i)) for i in ids[at : at + _IN])
            for row in self._client.query(
                collection,
                filter=f"chunk in [{part}] and {self._live(generation)}",
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
        where = self._where(scope, generation)
        if where is None:
            return []
        found = self._client.search(
            collection,
            data=[data],
            anns_field=field,
            limit=min(k, 16_384),
            filter=where,
            output_fields=["chunk"],
            search_params={"metric_type": "IP" if field == "vector" else "BM25"},
            consistency_level=self.consistency,
        )
        return [Match(int(hit["entity"]["chunk"]), float(hit["distance"])) for hit in found[0]]

    def _where(self, scope: Scope | None, generation: int) -> str | None:
        """The filter expression of a scope in a generation; None when it can hold nothing.
        User text reaches it only as a source stripped to the characters a name or URL has,
        so no filter is ever malformed."""
        parts = [self._live(generation)]
        if scope is not None and not scope.everything:
            if scope.since or scope.until:
                parts.append(f"day != {UNDATED}")
            if scope.since:
                parts.append(f"day >= {_day_of(scope.since)}")
            if scope.until:
                parts.append(f"day <= {_day_of(scope.until)}")
            if scope.source:
                term = "".join(c for c in scope.source.casefold() if c in _SOURCE_CHARS)
                if not term.strip():
                    return None
                parts.append(f'src like "%{term}%"')
        return " and ".join(parts)

    # -- writing --------------------------------------------------------------------------

    def upsert(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        self.dimension = self.dimension or len(entries[0].vector)
        target = self._begin()
        self._retire([e.id for e in entries])
        born = self._generation + 1
        rows = [
            {
                "key": (e.id << GEN_BITS) | (born % (1 << GEN_BITS)),
                "chunk": e.id,
                "born": born,
                "died": ALIVE,
                "vector": np.asarray(e.vector, dtype=np.float32).tolist(),
                "body": fold(e.text)[:MAX_TEXT],
                "day": day_number(e.published),
                "src": f"{e.source or ''} {e.url or ''}".casefold()[:MAX_TEXT],
                "article": e.article[:MAX_TEXT],
            }
            for e in entries
        ]
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
        self._create(self._pending)

    def commit(self) -> int:
        target = self._begin()
        self._client.flush(target)
        generation = self._generation + 1
        old = self._collection
        self._write_marker(target, generation)
        self._client.flush(self._marker)
        for name in self._retired:  # collections two rebuilds old: no reader is left on them
            if name not in (target, old) and self._client.has_collection(name):
                self._client.drop_collection(name)
        self._retired = [old] if old is not None and old != target else []
        # Rows dead before the generation readers may still be on are purged.
        self._client.delete(target, filter=f"died <= {self._generation}")
        self._collection, self._generation = target, generation
        self._pending, self._writing = None, False
        return generation

    def close(self) -> None:
        """Close the client; the last one on a Milvus Lite file also stops its server (pymilvus
        starts it, and would leave it running until this process exits)."""
        self._client.close()
        lite, self._lite = self._lite, None  # a second close does nothing
        if lite is None:
            return
        with _LITE_LOCK:
            _LITE_USERS[lite] -= 1
            if _LITE_USERS[lite]:
                return
            del _LITE_USERS[lite]
        from milvus_lite.server_manager import server_manager_instance

        server_manager_instance.release_server(lite)

    # -- inside ---------------------------------------------------------------------------

    def _begin(self) -> str:
        """The collection this write goes to (made if the first), its rows of the next
        generation."""
        self._writing = True
        if self._pending is None:
            self._pending = self._collection or f"{self.prefix}_c{self._generation + 1}"
            if not self._client.has_collection(self._pending):
                self._create(self._pending)
        return self._pending

    def _retire(self, ids: list[int]) -> None:
        """Mark the live rows of these chunk ids dead from the next generation on."""
        target = self._pending
        if target is None or not self._client.has_collection(target):
            return
        dying = self._generation + 1
        fields = ["key", "chunk", "born", "vector", "body", "day", "src", "article"]
        for at in range(0, len(ids), _IN):
            part = ", ".join(str(i) for i in ids[at : at + _IN])
            rows = self._client.query(
                target,
                filter=f"chunk in [{part}] and died == {ALIVE}",
                output_fields=fields,
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

    def _create(self, name: str) -> None:
        from pymilvus import DataType, Function, FunctionType

        if not self.dimension:
            raise ConfigError(
                "the Milvus backend needs the vectors' dimension to make a collection"
            )
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("key", DataType.INT64, is_primary=True)
        schema.add_field("chunk", DataType.INT64)
        schema.add_field("born", DataType.INT64)
        schema.add_field("died", DataType.INT64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_field(
            "body",
            DataType.VARCHAR,
            max_length=MAX_TEXT,
            enable_analyzer=True,
            analyzer_params={"type": "standard"},
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("day", DataType.INT64)
        schema.add_field("src", DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_field("article", DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["body"],
                output_field_names=["sparse"],
            )
        )
        params = self._client.prepare_index_params()
        params.add_index("vector", index_type=self.index_type, metric_type="IP")
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self._client.create_collection(name, schema=schema, index_params=params)
