"""The ledger's articles (index.store): each article once, its aliases (other ids its very
text was read under) and its story (near duplicates), as ingest, answers and management
read and write them."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from typing import Any

from index.keyword_search import scope_sql
from index.records import Article, Scope, StoredAlias, StoredArticle, StoredArticleRef


def fingerprint(article: Article) -> str:
    """A hash of every stored field: a change means re-chunk and re-embed."""
    fields = [article.title, article.text, article.url, article.published, article.source]
    return hashlib.sha256(json.dumps(fields).encode("utf-8")).hexdigest()


class ArticleRecords:
    """The articles' queries of a Store (its connection is `_db`)."""

    _db: sqlite3.Connection

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

    def alias_holder(self, alias_id: str) -> int | None:
        """The rowid of the article that holds `alias_id` as an alias; None when none does."""
        row = self._db.execute("SELECT article FROM aliases WHERE id = ?", (alias_id,)).fetchone()
        return None if row is None else int(row[0])

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
        if not ids:
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

    def any_in(self, scope: Scope) -> bool:
        """Whether any article with chunks is in `scope` (a source no article has: none)."""
        where, args = scope_sql(scope)
        row = self._db.execute(
            "SELECT 1 FROM articles a WHERE EXISTS (SELECT 1 FROM chunks c "
            f"WHERE c.article = a.rowid) AND {where} LIMIT 1",
            args,
        ).fetchone()
        return row is not None

    def newest_published(self) -> str | None:
        (newest,) = self._db.execute("SELECT max(published) FROM articles").fetchone()
        return newest


def _stored(row: tuple[Any, ...]) -> StoredArticle:
    rowid, aid, text_hash, title, text, url, published, source, path = row
    article = Article(id=aid, title=title, text=text, url=url, published=published, source=source)
    return StoredArticle(rowid, aid, text_hash, fingerprint(article), path)
