"""The SQLite store: articles and aliases, chunks with their vectors, the manifest.

Everything needed to rebuild the FAISS file lives here, so that file is a derived artifact;
keyword search over the chunks is `index.keyword_search`, on the same connection.
Writes happen inside `transaction()`; WAL mode lets readers go on while a writer writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from index import int8
from index.days import DayTable
from index.errors import IndexCorrupt, store_damage
from index.keyword_search import KeywordSearch, scope_sql
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
from index.textnorm import fold


def keyword_body(title: str, chunk_text: str) -> str:
    """What the keyword index holds for a chunk; deleting a row must re-supply exactly this."""
    return fold(f"{title}\n{chunk_text}")


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
        self.keywords = KeywordSearch(self._db)  # FTS5 BM25 over the chunks' folded text

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        self.keywords.forget_counts()

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

    def stories(self) -> dict[str, int]:
        """article id -> story id, for every article."""
        rows = self._db.execute("SELECT id, coalesce(story, rowid) FROM articles")
        return dict(rows.fetchall())

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
            body = keyword_body(article.title, article.text[chunk.start : chunk.end])
            self._db.execute("INSERT INTO chunks_fts(rowid, body) VALUES (?, ?)", (chunk_id, body))
            ids.append(chunk_id)
        return ids

    def delete_chunks(self, article_rowid: int) -> list[int]:
        """Remove an article's chunks (and their keyword entries); returns the ids removed."""
        row = self._db.execute(
            "SELECT title, text FROM articles WHERE rowid = ?", (article_rowid,)
        ).fetchone()
        if row is None:
            return []
        title, text = row
        rows = self._db.execute(
            'SELECT id, start, "end" FROM chunks WHERE article = ?', (article_rowid,)
        ).fetchall()
        for chunk_id, start, end in rows:
            self._db.execute(
                "INSERT INTO chunks_fts(chunks_fts, rowid, body) VALUES ('delete', ?, ?)",
                (chunk_id, keyword_body(title, text[start:end])),
            )
        self._db.execute("DELETE FROM chunks WHERE article = ?", (article_rowid,))
        return [r[0] for r in rows]

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
        self._db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('delete-all')")
        self._db.execute("DELETE FROM chunks")

    def delete_orphan_chunks(self) -> None:
        """Drop chunks whose article is gone (then `reindex_keywords`: their rows can't be
        deleted one by one without the article's text)."""
        self._db.execute("DELETE FROM chunks WHERE article NOT IN (SELECT rowid FROM articles)")
        self._db.execute("DELETE FROM sentence_vectors WHERE chunk NOT IN (SELECT id FROM chunks)")

    def reindex_keywords(self) -> None:
        """Rebuild the keyword index from the chunks and articles."""
        self._db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('delete-all')")
        rows = self._db.execute(
            'SELECT c.id, a.title, substr(a.text, c.start + 1, c."end" - c.start) '
            "FROM chunks c JOIN articles a ON a.rowid = c.article"
        ).fetchall()
        self._db.executemany(
            "INSERT INTO chunks_fts(rowid, body) VALUES (?, ?)",
            ((cid, keyword_body(title, text)) for cid, title, text in rows),
        )

    def health(self, dimension: int) -> Health:
        (integrity,) = self._db.execute("PRAGMA quick_check").fetchone()
        if integrity != "ok":
            return Health(integrity, 0, frozenset(), 0, 0, 0, 0)

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
                keyword_rows=one("SELECT count(*) FROM chunks_fts_docsize"),
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

    def chunk_ids_in(self, scope: Scope) -> np.ndarray:
        """(n,) int64 ids of the chunks of the articles in `scope`."""
        where, args = scope_sql(scope)
        rows = self._db.execute(
            f"SELECT c.id FROM chunks c JOIN articles a ON a.rowid = c.article WHERE {where}",
            args,
        )
        return np.fromiter((r[0] for r in rows), dtype=np.int64)

    def chunk_days(self) -> DayTable:
        """Every dated chunk's day (its article's, the first ten characters of its date),
        for date scopes and ages in memory."""
        rows = self._db.execute(
            "SELECT c.id, substr(a.published, 1, 10) FROM chunks c "
            "JOIN articles a ON a.rowid = c.article WHERE a.published IS NOT NULL"
        ).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return DayTable(ids, [r[1] for r in rows])

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
