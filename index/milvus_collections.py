"""The layout of this project's Milvus collections (index.milvus_backend uses them).

- `<prefix>_c<N>`: one row a chunk and generation: `key` (chunk id << GEN_BITS | the
  generation that wrote it), `chunk`, `born` and `died` (the generations between which the
  row is live), `vector`, `body` (the folded text, analysed by the standard analyzer; a BM25
  function fills `sparse` from it), `day` (YYYYMMDD, UNDATED when none), `src` (source and
  URL, case-folded), `article`; and what an answer shows of the chunk, so a replica needs
  nothing else (index.replica): `title`, `url`, `published`, `source`, `text` (verbatim),
  `layout` (JSON: start, end, sentence spans), `story`, `sentvec` (base64 of the 8-bit
  sentence vectors, index.int8), `aliases` (JSON: the other ids its text was read under);
- `<prefix>_live`: the marker, one row naming the live collection and generation, with the
  index's manifest (JSON).

Filter expressions are built here from numbers and from a source stripped to the characters
a name or URL has, so no user text can make one malformed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from index.errors import ConfigError
from index.records import Scope

ALIVE = 2**62  # `died` of a live row
UNDATED = -1
MAX_TEXT = 65_535  # bytes of a VARCHAR (UTF-8)
GEN_BITS = 20  # a row's key is chunk id << GEN_BITS | its generation (mod 2**GEN_BITS)
INDEX_TYPES = ("AUTOINDEX", "FLAT", "IVF_FLAT", "HNSW", "DISKANN")
# Every field of a data row but the BM25 function's output (what a rewrite copies).
ROW_FIELDS = [
    "key",
    "chunk",
    "born",
    "died",
    "vector",
    "body",
    "day",
    "src",
    "article",
    "title",
    "url",
    "published",
    "source",
    "text",
    "layout",
    "story",
    "sentvec",
    "aliases",
]
_SOURCE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789.-_/: ")


def clip(text: str | None, limit: int = MAX_TEXT) -> str:
    """`text` cut to `limit` bytes of UTF-8, on a character boundary ("" for None)."""
    data = (text or "").encode("utf-8")
    if len(data) <= limit:
        return text or ""
    return data[:limit].decode("utf-8", "ignore")


def day_number(published: str | None) -> int:
    """YYYYMMDD of an ISO date or datetime; UNDATED when there is none or it is not one."""
    if not published or len(published) < 10:
        return UNDATED
    try:
        d = date.fromisoformat(published[:10])
    except ValueError:
        return UNDATED
    return d.year * 10_000 + d.month * 100 + d.day


def live(generation: int) -> str:
    """The rows live in `generation`."""
    return f"born <= {generation} and died > {generation}"


def scope_filter(scope: Scope | None, generation: int) -> str | None:
    """The filter of a scope in a generation; None when it can hold nothing."""
    parts = [live(generation)]
    if scope is not None and not scope.everything:
        if scope.since or scope.until:
            parts.append(f"day != {UNDATED}")
        if scope.since:
            parts.append(f"day >= {day_number(scope.since)}")
        if scope.until:
            parts.append(f"day <= {day_number(scope.until)}")
        if scope.source:
            term = "".join(c for c in scope.source.casefold() if c in _SOURCE_CHARS)
            if not term.strip():
                return None
            parts.append(f'src like "%{term}%"')
    return " and ".join(parts)


def ensure_marker(client: Any, name: str) -> None:
    """Make the marker collection if there is none (or remake one of an earlier layout,
    without the manifest, keeping what it names)."""
    if client.has_collection(name):
        fields = {f["name"] for f in client.describe_collection(name)["fields"]}
        if "manifest" in fields:
            return
        rows = client.query(name, filter="key == 0", output_fields=["generation", "collection"])
        client.drop_collection(name)
        ensure_marker(client, name)
        if rows:
            write_marker(client, name, Marker(rows[0]["collection"], rows[0]["generation"]))
        return
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.INT64, is_primary=True)
    schema.add_field("generation", DataType.INT64)
    schema.add_field("collection", DataType.VARCHAR, max_length=255)
    schema.add_field("manifest", DataType.VARCHAR, max_length=MAX_TEXT)
    schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)  # a collection needs one
    params = client.prepare_index_params()
    params.add_index("unused", index_type="FLAT", metric_type="L2")
    client.create_collection(name, schema=schema, index_params=params)


@dataclass(frozen=True)
class Marker:
    """The marker's row: the live collection (None before the first commit), its
    generation, and the index's manifest as of that commit (None: not recorded)."""

    collection: str | None = None
    generation: int = 0
    manifest: dict[str, Any] | None = None


def read_marker(client: Any, name: str) -> Marker:
    rows = client.query(
        name,
        filter="key == 0",
        output_fields=["generation", "collection", "manifest"],
        consistency_level="Strong",
    )
    if not rows:
        return Marker()
    manifest = json.loads(rows[0]["manifest"]) if rows[0]["manifest"] else None
    return Marker(str(rows[0]["collection"]), int(rows[0]["generation"]), manifest)


def write_marker(client: Any, name: str, marker: Marker) -> None:
    row = {
        "key": 0,
        "generation": marker.generation,
        "collection": marker.collection,
        "manifest": json.dumps(marker.manifest) if marker.manifest else "",
        "unused": [0, 0],
    }
    client.upsert(name, [row])


def has_payload(client: Any, collection: str) -> bool:
    """Whether a data collection has this layout's payload fields (an earlier one had not)."""
    fields = client.describe_collection(collection)["fields"]
    return {"text", "layout", "sentvec"} <= {f["name"] for f in fields}


def create_collection(client: Any, name: str, dimension: int, index_type: str) -> None:
    """Make a data collection of `dimension`-long vectors under `index_type`."""
    from pymilvus import DataType, Function, FunctionType

    if not dimension:
        raise ConfigError("the Milvus backend needs the vectors' dimension to make a collection")
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("key", DataType.INT64, is_primary=True)
    schema.add_field("chunk", DataType.INT64)
    schema.add_field("born", DataType.INT64)
    schema.add_field("died", DataType.INT64)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
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
    # What answers show of the hits only: memory-mapped on a server (Milvus loads a field
    # into the query nodes' memory otherwise), so memory holds what searches scan.
    for text in ("title", "url", "published", "source", "text", "layout", "sentvec", "aliases"):
        schema.add_field(text, DataType.VARCHAR, max_length=MAX_TEXT, mmap_enabled=True)
    schema.add_field("story", DataType.INT64)
    schema.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["body"],
            output_field_names=["sparse"],
        )
    )
    params = client.prepare_index_params()
    params.add_index("vector", index_type=index_type, metric_type="IP")
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
    client.create_collection(name, schema=schema, index_params=params)
