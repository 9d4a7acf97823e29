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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from index import int8
from index.backend import Entry
from index.errors import IndexCorrupt, store_damage
from index.keyword_search import scope_sql
from index.records import (
    Article,
    Chunk,
    Health,
    Scope,
    StoredAlias,
    StoredArticle,
    StoredArticleRef,
    StoredChunk,
)
from index.schema import CHUNK_COLUMNS, SCHEMA


def fingerprint(article: Article) -> str:
    import hashlib

    fields = [article.title, article.text, article.url, article.published, article.source]
    return hashlib.sha256(json.dumps(fields).encode("utf-8")).hexdigest()


class Store:
    """One SQLite file. `readonly` connections only query (bots, `qa ask`)."""

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
        self._tables: set[str] = set()  # of those an older store may lack, the ones seen
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

    # -- articles -------------------------------------------------------------------------

    def find_article(self, article_id: str) -> StoredArticle | None:
        row = self._db.execute(
            "SELECT rowid, id, text_hash, title, text, url, published, source, path "
            "FROM articles WHERE id = ?",
            (article_id,),
        ).fetchone()
        return None if row is None else _stored(row)

    def find_text(self, text_hash: str) -> str | None:
        """The id of the article holding exactly this text, if any."""
        row = self._db.execute(
            "SELECT id FROM articles WHERE text_hash = ?", (text_hash,)
        ).fetchone()
        return None if row is None else str(row[0])

    def put_article(self, article: Article, now: str) -> int:
        """Insert or replace the article's fields (its chunks must be deleted first). An alias
        of this id is dropped (an id names an article or an alias, never both), and so are
        the article's own aliases when its text changes: they held the old text."""
        values = (
            article.title,
            article.text,
            article.url,
            article.published,
            article.source,
            article.lang,
            article.path,
            article.text_hash,
            now,
        )
        self._db.execute("DELETE FROM aliases WHERE id = ?", (article.id,))
        row = self._db.execute(
            "SELECT rowid, text_hash FROM articles WHERE id = ?", (article.id,)
        ).fetchone()
        if row is not None:
            if row[1] != article.text_hash:
                self._db.execute("DELETE FROM aliases WHERE article = ?", (row[0],))
            self._db.execute(
                "UPDATE articles SET title=?, text=?, url=?, published=?, source=?, lang=?, "
                "path=?, text_hash=?, updated=? WHERE rowid=?",
                (*values, row[0]),
            )
            return int(row[0])
        cur = self._db.execute(
            "INSERT INTO articles(title, text, url, published, source, lang, path, text_hash, "
            "updated, added, id) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (*values, now, article.id),
        )
        return int(cur.lastrowid or 0)

    def put_alias(self, alias: Article, owner: str) -> bool:
        """Keep `alias` as another id of the stored article `owner`, or update it; False
        (nothing kept) when `owner` is gone or no longer holds exactly the alias's text."""
        row = self._db.execute(
            "SELECT rowid FROM articles WHERE id = ? AND text_hash = ?", (owner, alias.text_hash)
        ).fetchone()
        if row is not None:
            a = alias
            self._db.execute(
                "INSERT OR REPLACE INTO aliases VALUES (?,?,?,?,?,?,?,?)",
                (a.id, row[0], a.title, a.url, a.published, a.source, a.lang, a.path),
            )
        return row is not None

    def aliases_of(self, article_ids: Iterable[str]) -> dict[str, list[StoredAlias]]:
        """article id -> its aliases, oldest first (none in a store older than the table)."""
        ids = list(dict.fromkeys(article_ids))
        if not ids or not self.has_table("aliases"):
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            "SELECT a.id, l.id, l.title, l.url, l.published, l.source, l.path "
            f"FROM aliases l JOIN articles a ON a.rowid = l.article WHERE a.id IN ({marks}) "
            "ORDER BY l.published, l.rowid",
            ids,
        )
        out: dict[str, list[StoredAlias]] = {}
        for owner, *alias in rows:
            out.setdefault(owner, []).append(StoredAlias(*alias))
        return out

    def rename_article(self, rowid: int, article_id: str, path: str | None) -> None:
        """Give a stored article a new id and file path; its chunks and vectors stay."""
        self._db.execute(
            "UPDATE articles SET id = ?, path = ? WHERE rowid = ?", (article_id, path, rowid)
        )

    def stories_of_chunks(self, chunk_ids: Iterable[int]) -> dict[int, int]:
        """The articles of the chunks that exist: article rowid -> its story id (its own
        rowid when it starts a story)."""
        ids = list(dict.fromkeys(int(i) for i in chunk_ids))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            "SELECT DISTINCT a.rowid, coalesce(a.story, a.rowid) FROM chunks c "
            f"JOIN articles a ON a.rowid = c.article WHERE c.id IN ({marks})",
            ids,
        )
        return dict(rows.fetchall())

    def article_text(self, rowid: int) -> str:
        (text,) = self._db.execute("SELECT text FROM articles WHERE rowid = ?", (rowid,)).fetchone()
        return str(text)

    def set_story(self, rowid: int, story: int) -> None:
        self._db.execute("UPDATE articles SET story = ? WHERE rowid = ?", (story, rowid))

    def story_members(self, stories: Iterable[int]) -> dict[int, list[StoredArticleRef]]:
        """story id -> its articles, oldest first."""
        ids = list(dict.fromkeys(int(i) for i in stories))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._db.execute(
            "SELECT story, id, title, url, published, source FROM articles "
            f"WHERE story IN ({marks}) ORDER BY published, rowid",
            ids,
        )
        out: dict[int, list[StoredArticleRef]] = {}
        for story, *ref in rows:
            out.setdefault(story, []).append(StoredArticleRef(*ref))
        return out

    def articles(self) -> Iterator[Article]:
        rows = self._db.execute(
            "SELECT id, title, text, url, published, source, lang, path FROM articles "
            "ORDER BY rowid"
        )
        for r in rows:
            yield Article(*r)

    # -- chunks ---------------------------------------------------------------------------

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

    def delete_all_chunks(self) -> None:
        self._db.execute("DELETE FROM chunks")

    def delete_orphan_chunks(self) -> None:
        """Drop chunks whose article is gone (a search backend is then refilled)."""
        self._db.execute("DELETE FROM chunks WHERE article NOT IN (SELECT rowid FROM articles)")
        self._db.execute("DELETE FROM sentence_vectors WHERE chunk NOT IN (SELECT id FROM chunks)")

    def entries(self, dimension: int) -> Iterator[Entry]:
        """Every chunk as a search backend indexes it (index.backend.Entry), in id order:
        what refills a backend without embedding again."""
        rows = self._db.execute(
            "SELECT c.id, c.vector, a.id, a.title, a.published, a.source, a.url, "
            'substr(a.text, c.start + 1, c."end" - c.start) '
            "FROM chunks c JOIN articles a ON a.rowid = c.article ORDER BY c.id"
        )
        for cid, blob, aid, title, published, source, url, text in rows:
            if len(blob) != dimension * 4:
                raise IndexCorrupt(f"chunk {cid} has a vector of the wrong size; run `qa rebuild`")
            vector = np.frombuffer(blob, dtype=np.float32)
            yield Entry(cid, vector, f"{title}\n{text}", aid, published, source, url)

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
        if not wanted or not self.has_table("sentence_vectors"):
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

    def has_table(self, name: str) -> bool:
        """Whether the store holds this table (one written before it lacks it until a writer
        opens it: a read-only store asks again until then)."""
        if name not in self._tables:
            row = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
            if row is not None:
                self._tables.add(name)
        return name in self._tables

    def any_in(self, scope: Scope) -> bool:
        """Whether any article with chunks is in `scope` (a source no article has: none)."""
        where, args = scope_sql(scope)
        row = self._db.execute(
            "SELECT 1 FROM articles a WHERE EXISTS (SELECT 1 FROM chunks c "
            f"WHERE c.article = a.rowid) AND {where} LIMIT 1",
            args,
        ).fetchone()
        return row is not None

    # -- figures --------------------------------------------------------------------------

    def counts(self) -> tuple[int, int]:
        (articles,) = self._db.execute("SELECT count(*) FROM articles").fetchone()
        (chunks,) = self._db.execute("SELECT count(*) FROM chunks").fetchone()
        return int(articles), int(chunks)

    def newest_published(self) -> str | None:
        (newest,) = self._db.execute("SELECT max(published) FROM articles").fetchone()
        return newest


def _stored(row: tuple[Any, ...]) -> StoredArticle:
    rowid, aid, text_hash, title, text, url, published, source, path = row
    article = Article(id=aid, title=title, text=text, url=url, published=published, source=source)
    return StoredArticle(rowid, aid, text_hash, fingerprint(article), path)
