"""The store read as a list of whole articles: what `qa list`, `show`, `delete`, `prune` and
`export` ask of it. index.store keeps the queries that ingest and search need; these live
here so that file stays one concept of a readable size.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator
from typing import Any

from index.keyword_search import scope_sql  # the conditions search applies to a scope
from index.records import Article, ArticleRecord, ArticleRow, Selection
from index.store import Store

SIMILAR_SCAN = 20_000  # ids compared one by one when suggesting; beyond, only those sharing a part


class Catalog(Store):
    """A Store with queries over whole articles."""

    def count(self, selection: Selection) -> int:
        where, args = _where(selection)
        (n,) = self._db.execute(f"SELECT count(*) FROM articles a WHERE {where}", args).fetchone()
        return int(n)

    def rows(self, selection: Selection, limit: int | None = None) -> list[ArticleRow]:
        """The selected articles, newest first (undated ones last); at most `limit`."""
        where, args = _where(selection)
        return self._rows(
            f"{where} ORDER BY a.published IS NULL, a.published DESC, a.rowid DESC LIMIT ?",
            [*args, -1 if limit is None else limit],
        )

    def rows_with(self, ids: Iterable[str]) -> list[ArticleRow]:
        """The articles with these ids that are stored, in the order asked."""
        found: dict[str, ArticleRow] = {}
        for article_id in dict.fromkeys(ids):
            found |= {r.id: r for r in self._rows("a.id = ?", [article_id])}
        return list(found.values())

    def _rows(self, where: str, args: list[Any]) -> list[ArticleRow]:
        cursor = self._db.execute(
            "SELECT a.id, a.title, a.published, a.source, a.url, a.path, "
            "(SELECT count(*) FROM chunks c WHERE c.article = a.rowid) "
            f"FROM articles a WHERE {where}",
            args,
        )
        return [ArticleRow(*r) for r in cursor]

    def articles_in(self, selection: Selection) -> Iterator[Article]:
        """The selected articles whole, in the order they were first stored (so that a store
        ingested from them groups near duplicates under the same first article), each
        followed by its aliases as articles of the same text (which ingest keeps as aliases
        of it again)."""
        aliases: dict[int, list[tuple[Any, ...]]] = {}
        for owner, *fields in self._db.execute(  # their metadata only: few, next to articles
            "SELECT article, id, title, url, published, source, lang, path FROM aliases "
            "ORDER BY published, rowid"
        ):
            aliases.setdefault(owner, []).append(fields)
        where, args = _where(selection)
        cursor = self._db.execute(
            "SELECT a.rowid, a.id, a.title, a.text, a.url, a.published, a.source, a.lang, "
            f"a.path FROM articles a WHERE {where} ORDER BY a.rowid",
            args,
        )
        for rowid, *fields in cursor:
            article = Article(*fields)
            yield article
            for aid, title, url, published, source, lang, path in aliases.get(rowid, []):
                yield Article(aid, title, article.text, url, published, source, lang, path)

    def record(self, article_id: str) -> ArticleRecord | None:
        row = self._db.execute(
            "SELECT a.rowid, a.id, a.title, a.text, a.url, a.published, a.source, a.lang, "
            "a.path, a.added, a.updated, coalesce(a.story, a.rowid), "
            "(SELECT count(*) FROM chunks c WHERE c.article = a.rowid) "
            "FROM articles a WHERE a.id = ?",
            (article_id,),
        ).fetchone()
        if row is None:
            return None
        rowid, *fields, added, updated, story, chunks = row
        others = self._db.execute(
            "SELECT id FROM articles WHERE coalesce(story, rowid) = ? AND rowid != ? "
            "ORDER BY published, rowid",
            (story, rowid),
        )
        article = Article(*fields)
        aliases = tuple(self.aliases_of([article.id]).get(article.id, []))
        story_ids = tuple(r[0] for r in others)
        return ArticleRecord(article, chunks, added, updated, story_ids, aliases)

    def rowids(self, ids: Iterable[str]) -> list[int]:
        """The rowids of the articles with these ids that are stored."""
        out = []
        for article_id in dict.fromkeys(ids):
            row = self._db.execute("SELECT rowid FROM articles WHERE id = ?", (article_id,))
            if found := row.fetchone():
                out.append(int(found[0]))
        return out

    def has(self, article_id: str) -> bool:
        row = self._db.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,))
        return row.fetchone() is not None

    def alias_owner(self, alias_id: str) -> str | None:
        """The id of the article that `alias_id` is an alias of, if it is one."""
        row = self._db.execute(
            "SELECT a.id FROM aliases l JOIN articles a ON a.rowid = l.article WHERE l.id = ?",
            (alias_id,),
        ).fetchone()
        return None if row is None else str(row[0])

    def with_url(self, url: str) -> str | None:
        """The id of the article published at `url`, or of which an alias was (the first
        stored of several)."""
        # No index on articles.url: a scan, asked only when no id or alias matched.
        row = self._db.execute(
            "SELECT id FROM articles WHERE url = ? ORDER BY rowid LIMIT 1", (url,)
        ).fetchone()
        if row is None:
            row = self._db.execute(
                "SELECT a.id FROM aliases l JOIN articles a ON a.rowid = l.article "
                "WHERE l.url = ? ORDER BY l.rowid LIMIT 1",
                (url,),
            ).fetchone()
        return None if row is None else str(row[0])

    def paths(self) -> Iterator[tuple[str, str]]:
        """(id, path) of every article read from a file, by path."""
        cursor = self._db.execute(
            "SELECT id, path FROM articles WHERE path IS NOT NULL ORDER BY path, rowid"
        )
        yield from cursor

    def similar_ids(self, wanted: str, n: int = 3) -> list[str]:
        """Up to `n` stored ids close to `wanted`, closest first (for a mistyped id)."""
        part = re.split(r"[/:\\]", wanted.rstrip("/"))[-1].lower()
        sharing = (
            [
                r[0]
                for r in self._db.execute(
                    "SELECT id FROM articles WHERE instr(lower(id), ?) > 0 LIMIT 500", (part,)
                )
            ]
            if part
            else []
        )
        pool = sharing
        if self.count(Selection()) <= SIMILAR_SCAN:
            pool = [r[0] for r in self._db.execute("SELECT id FROM articles")]
        close = difflib.get_close_matches(wanted, pool, n, cutoff=0.6)
        return close or sorted(sharing, key=len)[:n]


def _where(selection: Selection) -> tuple[str, list[str]]:
    """A WHERE condition on `a` (articles) and its parameters; never formats user text."""
    where, args = scope_sql(selection.scope)
    if selection.path is not None:
        folder = selection.path.rstrip("/") + "/"
        where += " AND (a.path = ? OR substr(a.path, 1, length(?)) = ?)"
        args += [selection.path, folder, folder]
    return where, args
