"""The SQLite store, the index's ledger: articles and aliases, chunks with their vectors and
sentence vectors, stories, the manifest.

It is the source of truth: a search backend (index.backend) can be refilled from it without
embedding again (`entries`). The local backend keeps its own tables in this file and writes
them on this connection (index.local_backend). Writes happen inside `transaction()`; WAL
mode lets readers go on while a writer writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from index.article_records import ArticleRecords
from index.backend import Entry, Payload
from index.chunk_records import ChunkRecords
from index.errors import IndexCorrupt, store_damage
from index.records import Health
from index.schema import SCHEMA


class Store(ArticleRecords, ChunkRecords):
    """One SQLite file. `readonly` connections only query (bots, `qa ask`); the queries of
    articles and of chunks are index.article_records' and index.chunk_records'."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            with store_damage(path):  # a damaged file is found by the first statement
                self._db.execute("PRAGMA busy_timeout = 30000")
                if readonly:
                    self._db.execute("PRAGMA query_only = 1")
                    # BM25 reads each scored row's length from chunks_fts_docsize, all over
                    # the file: a page cache that holds it (10 MB at 1M chunks; SQLite's
                    # default cache is 2 MB) makes BM25 about 30% faster. Negative: KiB.
                    self._db.execute("PRAGMA cache_size = -32768")
                else:
                    self._db.execute("PRAGMA journal_mode = WAL")
                    self._db.execute("PRAGMA synchronous = FULL")
                    self._db.executescript(SCHEMA)
                self._db.execute("PRAGMA foreign_keys = ON")
        except IndexCorrupt:
            self._db.close()
            raise
        self._on_commit: list[Callable[[], None]] = []
        self._on_rollback: list[Callable[[], None]] = []

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection, for a search backend that keeps its tables in this file."""
        return self._db

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception; then the callbacks
        registered meanwhile with `after_commit` or `after_rollback`."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            self._ended(self._on_rollback)
            raise
        self._db.execute("COMMIT")
        self._ended(self._on_commit)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` once the open transaction commits."""
        self._on_commit.append(callback)

    def after_rollback(self, callback: Callable[[], None]) -> None:
        """Call `callback` if the open transaction is rolled back."""
        self._on_rollback.append(callback)

    def _ended(self, callbacks: list[Callable[[], None]]) -> None:
        todo = list(callbacks)
        self._on_commit.clear()
        self._on_rollback.clear()
        for callback in todo:
            callback()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """A read transaction: every query inside sees one committed state."""
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            self._db.execute("COMMIT")

    # -- meta -----------------------------------------------------------------------------

    def get_meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, json.dumps(value)),
        )

    def health(self, dimension: int) -> Health:
        (integrity,) = self._db.execute("PRAGMA quick_check").fetchone()
        if integrity != "ok":
            return Health(integrity, 0, frozenset(), 0, 0, 0)

        def one(sql: str, *args: object) -> int:
            return int(self._db.execute(sql, args).fetchone()[0])

        with self.snapshot():
            return Health(
                integrity=integrity,
                articles=one("SELECT count(*) FROM articles"),
                chunk_ids=frozenset(r[0] for r in self._db.execute("SELECT id FROM chunks")),
                orphan_chunks=one(
                    "SELECT count(*) FROM chunks WHERE article NOT IN (SELECT rowid FROM articles)"
                ),
                bad_spans=one(
                    "SELECT count(*) FROM chunks c JOIN articles a ON a.rowid = c.article "
                    'WHERE c.start < 0 OR c."end" > length(a.text) OR c.start >= c."end"'
                ),
                bad_vectors=one(
                    "SELECT count(*) FROM chunks WHERE length(vector) != ?", dimension * 4
                ),
            )

    def counts(self) -> tuple[int, int]:
        (articles,) = self._db.execute("SELECT count(*) FROM articles").fetchone()
        (chunks,) = self._db.execute("SELECT count(*) FROM chunks").fetchone()
        return int(articles), int(chunks)

    def delete_article(self, rowid: int) -> list[int]:
        """Remove an article with its chunks and aliases, returning the chunks' ids. Were it
        the first of a story, the first ingested of the rest now leads it."""
        removed = self.delete_chunks(rowid)
        self._db.execute("DELETE FROM aliases WHERE article = ?", (rowid,))
        self._db.execute("DELETE FROM articles WHERE rowid = ?", (rowid,))
        row = self._db.execute("SELECT min(rowid) FROM articles WHERE story = ?", (rowid,))
        if (first := row.fetchone()[0]) is not None:
            self._db.execute("UPDATE articles SET story = ? WHERE story = ?", (first, rowid))
        return removed

    def entries(
        self, dimension: int, *, payload: bool = False, articles: Iterable[int] | None = None
    ) -> Iterator[Entry]:
        """Every chunk as a search backend indexes it (index.backend.Entry), in id order:
        what refills a backend without embedding again. `payload`: with what answers show
        of it (for a backend that `holds_payload`); `articles`: only these articles' (rowids)."""
        where, args = "", []
        if articles is not None:
            args = list(dict.fromkeys(int(r) for r in articles))
            if not args:
                return
            where = f"WHERE c.article IN ({','.join('?' * len(args))}) "
        rows = self._db.execute(
            "SELECT c.id, c.vector, a.id, a.title, a.published, a.source, a.url, "
            'substr(a.text, c.start + 1, c."end" - c.start), c.start, c."end", c.sentences, '
            "coalesce(a.story, a.rowid), s.vectors "
            "FROM chunks c JOIN articles a ON a.rowid = c.article "
            f"LEFT JOIN sentence_vectors s ON s.chunk = c.id {where}ORDER BY c.id",
            args,
        )
        aliases: tuple[Any, ...] = ()
        last = None  # the article whose aliases those are (its chunks come together)
        for cid, blob, aid, title, published, source, url, text, *rest in rows:
            if len(blob) != dimension * 4:
                raise IndexCorrupt(f"chunk {cid} has a vector of the wrong size; run `qa rebuild`")
            extra = None
            if payload:
                start, end, spans, story, sentences = rest
                if aid != last:
                    aliases, last = tuple(self.aliases_of([aid]).get(aid, ())), aid
                extra = Payload(
                    title=title,
                    text=text,
                    start=start,
                    end=end,
                    sentences=tuple(tuple(s) for s in json.loads(spans)),
                    story=story,
                    sentence_vectors=sentences,
                    aliases=aliases,
                )
            vector = np.frombuffer(blob, dtype=np.float32)
            yield Entry(cid, vector, f"{title}\n{text}", aid, published, source, url, extra)
