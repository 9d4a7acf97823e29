"""The ledger's chunks (index.store): each chunk's offsets, sentences, float32 vector and
8-bit sentence vectors, as ingest writes them and answers read them back."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

import numpy as np

from index import int8
from index.errors import IndexCorrupt
from index.records import Article, Chunk, StoredChunk
from index.schema import CHUNK_COLUMNS


class ChunkRecords:
    """The chunks' queries of a Store (its connection is `_db`)."""

    _db: sqlite3.Connection

    def add_chunks(
        self,
        article_rowid: int,
        article: Article,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        sentence_vectors: Sequence[np.ndarray | None] | None = None,
    ) -> list[int]:
        """Store chunks with their (n, d) float32 vectors, and each chunk's (sentences, d)
        sentence vectors where given; returns their new ids."""
        ids = []
        per_sentence = sentence_vectors or [None] * len(chunks)
        for chunk, vector, rows in zip(chunks, vectors, per_sentence, strict=True):
            cur = self._db.execute(
                'INSERT INTO chunks(article, seq, start, "end", tokens, sentences, vector) '
                "VALUES (?,?,?,?,?,?,?)",
                (
                    article_rowid,
                    chunk.seq,
                    chunk.start,
                    chunk.end,
                    chunk.tokens,
                    json.dumps(chunk.sentences),
                    np.asarray(vector, np.float32).tobytes(),
                ),
            )
            chunk_id = int(cur.lastrowid or 0)
            if rows is not None and len(rows) == len(chunk.sentences):
                self._db.execute(
                    "INSERT INTO sentence_vectors(chunk, vectors) VALUES (?, ?)",
                    (chunk_id, int8.pack(rows)),
                )
            ids.append(chunk_id)
        return ids

    def delete_chunks(self, article_rowid: int) -> list[int]:
        """Remove an article's chunks; returns the ids removed (for the search backend)."""
        rows = self._db.execute("SELECT id FROM chunks WHERE article = ?", (article_rowid,))
        removed = [int(r[0]) for r in rows.fetchall()]
        self._db.execute("DELETE FROM chunks WHERE article = ?", (article_rowid,))
        return removed

    def delete_all_chunks(self) -> None:
        self._db.execute("DELETE FROM chunks")

    def delete_orphan_chunks(self) -> None:
        """Drop chunks whose article is gone (a search backend is then refilled)."""
        self._db.execute("DELETE FROM chunks WHERE article NOT IN (SELECT rowid FROM articles)")
        self._db.execute("DELETE FROM sentence_vectors WHERE chunk NOT IN (SELECT id FROM chunks)")

    def vectors(self, dimension: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids (n,) int64, vectors (n, dimension) float32) of every chunk, in id order."""
        (n,) = self._db.execute("SELECT count(*) FROM chunks").fetchone()
        ids = np.empty(n, dtype=np.int64)
        out = np.empty((n, dimension), dtype=np.float32)
        rows = self._db.execute("SELECT id, vector FROM chunks ORDER BY id")
        for i, (chunk_id, blob) in enumerate(rows):
            if i >= n or len(blob) != dimension * 4:
                raise IndexCorrupt(
                    f"chunk {chunk_id} has a vector of the wrong size; run `qa rebuild`"
                )
            ids[i] = chunk_id
            out[i] = np.frombuffer(blob, dtype=np.float32)
        return ids, out

    def chunk_vectors(self, ids: Sequence[int], dimension: int) -> np.ndarray:
        """(len(ids), dimension) float32 stored vectors of these chunk ids (each must exist)."""
        wanted = list(dict.fromkeys(int(i) for i in ids))
        marks = ",".join("?" * len(wanted))
        found = dict(
            self._db.execute(f"SELECT id, vector FROM chunks WHERE id IN ({marks})", wanted)
        )
        missing = [i for i in ids if i not in found]
        if missing:
            raise KeyError(f"chunk ids not held: {missing[:5]}")
        blobs = [found[int(i)] for i in ids]
        if any(len(b) != dimension * 4 for b in blobs):
            raise IndexCorrupt("a chunk has a vector of the wrong size; run `qa rebuild`")
        return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(ids), dimension)

    def chunks(self, ids: Iterable[int]) -> dict[int, StoredChunk]:
        """The chunks with these ids that still exist, with their article's metadata."""
        wanted = list(dict.fromkeys(int(i) for i in ids))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = self._db.execute(
            f"SELECT {CHUNK_COLUMNS} FROM chunks c JOIN articles a ON a.rowid = c.article "
            f"WHERE c.id IN ({marks})",
            wanted,
        )
        out = {}
        for cid, aid, title, url, published, source, text, start, end, sentences, story in rows:
            out[cid] = StoredChunk(
                id=cid,
                article_id=aid,
                title=title,
                url=url,
                published=published,
                source=source,
                text=text,
                start=start,
                end=end,
                sentences=tuple(tuple(s) for s in json.loads(sentences)),
                story=story,
            )
        return out

    def sentence_vectors(self, ids: Iterable[int], dimension: int) -> dict[int, np.ndarray]:
        """chunk id -> (its sentences, dimension) float32 rows, for the chunks that have them."""
        wanted = list(dict.fromkeys(int(i) for i in ids))
        if not wanted:
            return {}
        marks = ",".join("?" * len(wanted))
        rows = self._db.execute(
            f"SELECT chunk, vectors FROM sentence_vectors WHERE chunk IN ({marks})", wanted
        )
        out = {}
        for cid, blob in rows:
            try:
                out[cid] = int8.unpack(blob, dimension)
            except ValueError:
                continue  # a damaged row: its sentences are embedded when asked instead
        return out
