"""Managing an archive: list, show, delete, prune and export its articles.

Reads go through a read-only Catalog and need no model. A deletion first makes a plan (what
the ids and filters select, read without the lock, so a person may confirm it at leisure),
then holds the write lock and deletes the planned articles that are still there through the
writer (index.build): one SQLite transaction with the next generation's FAISS file, as an
ingest commits. A crash leaves the previous generation whole, and a running Engine stops
quoting a deleted article at its next question.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from index.catalog import Catalog
from index.embedder import Embedder
from index.errors import IndexMissing, QAError
from index.lock import write_lock
from index.manifest import Layout
from index.migrate import ensure_current
from index.records import Article, ArticleRecord, ArticleRow, Selection
from index.settings import Settings
from index.writer import IndexWriter

# What index.formats.jsonl reads back; `qa ingest` of an export restores these.
EXPORT_FIELDS = ("id", "title", "text", "url", "published", "source", "lang")


class UnknownArticle(QAError):
    """No article has the id asked for."""


@dataclass(frozen=True)
class Unknown:
    """An id asked for that is not stored, with the stored ids closest to it; or an alias
    of a stored article (`alias_of`), which is deleted only with that article."""

    asked: str
    similar: tuple[str, ...]
    alias_of: str | None = None

    def __str__(self) -> str:
        if self.alias_of is not None:
            return (
                f"{self.asked} is an alias of {self.alias_of} (the same text, stored once); "
                f"deleting {self.alias_of} deletes it with its aliases"
            )
        hint = f"; did you mean {' or '.join(self.similar)}?" if self.similar else ""
        return f"no article with the id {self.asked}{hint}"


@dataclass(frozen=True)
class Listing:
    rows: tuple[ArticleRow, ...]
    total: int  # selected articles, of which `rows` are the first


@dataclass(frozen=True)
class Plan:
    """What a deletion would remove: the articles found, the ids asked for that are not
    stored, and (prune) the files that could not be checked."""

    articles: tuple[ArticleRow, ...]
    unknown: tuple[Unknown, ...] = ()
    unchecked: tuple[str, ...] = ()  # paths neither found nor known to be gone


@dataclass(frozen=True)
class Deleted:
    articles: int
    chunks: int


@contextmanager
def open_catalog(folder: Path) -> Iterator[Catalog]:
    """The index's store, read-only, seeing one committed state throughout."""
    layout = Layout(folder)
    if not layout.store.exists():
        raise IndexMissing(f"no index in {folder}; run `qa ingest PATH --index {folder}` first")
    ensure_current(folder)
    catalog = Catalog(layout.store, readonly=True)
    try:
        with catalog.snapshot():
            yield catalog
    finally:
        catalog.close()


def list_articles(folder: Path, selection: Selection, limit: int | None) -> Listing:
    """The selected articles, newest first, at most `limit` (None: all) of them."""
    with open_catalog(folder) as catalog:
        return Listing(tuple(catalog.rows(selection, limit)), catalog.count(selection))


def count_articles(folder: Path) -> int:
    with open_catalog(folder) as catalog:
        return catalog.count(Selection())


def show(folder: Path, asked: str) -> ArticleRecord:
    """Everything stored about one article, named by its id, its file's path, its URL or an
    alias's id or URL; an id not stored names the closest ones."""
    with open_catalog(folder) as catalog:
        found = _lookup(catalog, asked, aliases=True) or catalog.with_url(asked)
        record = catalog.record(found) if found else None
        if record is None:
            unknown = Unknown(asked, tuple(catalog.similar_ids(asked)))
            raise UnknownArticle(f"{unknown} (`qa list` shows the ids)")
        return record


def plan_delete(folder: Path, ids: Sequence[str], selection: Selection | None) -> Plan:
    """The articles with these ids, or else those `selection` picks (never everything
    by default: an empty `ids` with no selection plans nothing)."""
    with open_catalog(folder) as catalog:
        if selection is not None:
            return Plan(tuple(catalog.rows(selection)))
        found: dict[str, None] = {}
        unknown = []
        for asked in dict.fromkeys(ids):
            if stored := _lookup(catalog, asked):
                found[stored] = None
            elif owner := _lookup(catalog, asked, aliases=True):
                unknown.append(Unknown(asked, (owner,), alias_of=owner))
            else:
                unknown.append(Unknown(asked, tuple(catalog.similar_ids(asked))))
        return Plan(tuple(catalog.rows_with(found)), tuple(unknown))


def plan_prune(folder: Path) -> Plan:
    """The articles read from files that no longer exist (a JSON Lines file's articles
    with it). Web pages and feed entries have no file and are never pruned."""
    gone: dict[str, str] = {}  # id -> path
    unchecked: list[str] = []
    state: dict[str, bool | None] = {}
    with open_catalog(folder) as catalog:
        for article_id, path in catalog.paths():
            if path not in state:
                state[path] = file_gone(path)
                if state[path] is None and "://" not in path:
                    unchecked.append(path)
            if state[path]:
                gone[article_id] = path
        rows = catalog.rows_with(gone)  # in the order of their paths
    return Plan(tuple(rows), (), tuple(unchecked))


def file_gone(path: str) -> bool | None:
    """True when the file an article was read from is gone, False when it is there, None
    when that cannot be told: not an absolute file path (a URL, or a path stored relative
    to a folder the store does not know), or a folder that cannot be read."""
    if not _is_file_path(path):
        return None
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return None  # no permission, a dead mount: not proof that the file is gone
    return False


def _is_file_path(path: str) -> bool:
    return "://" not in path and Path(path).is_absolute()


def delete(
    settings: Settings,
    ids: Sequence[str],
    *,
    still: Callable[[ArticleRow], bool] | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Deleted:
    """Delete the articles with these stored ids (those still stored, and, with `still`,
    still passing it) as one generation, under the write lock."""
    folder = settings.index_dir
    if not Layout(folder).store.exists():
        raise IndexMissing(f"no index in {folder}; run `qa ingest PATH --index {folder}` first")
    with write_lock(folder, on_wait):
        # No other writer runs while the lock is held: the rowids read here stay true.
        with open_catalog(folder) as catalog:
            if still is not None:
                ids = [r.id for r in catalog.rows_with(ids) if still(r)]
            rowids = catalog.rowids(ids)
        writer = IndexWriter(settings, _no_model)
        try:
            chunks = writer.remove(rowids)
        finally:
            writer.close()
    return Deleted(len(rowids), chunks)


def _no_model(model: str) -> Embedder:
    raise QAError(f"deleting articles needs no model, yet {model!r} was asked for")


def export(folder: Path, selection: Selection, out: TextIO) -> int:
    """Write the selected articles as JSON Lines that `qa ingest` reads back, each followed
    by its aliases (lines of the same text); the number of lines."""
    n = 0
    with open_catalog(folder) as catalog:
        for article in catalog.articles_in(selection):
            out.write(export_line(article) + "\n")
            n += 1
    return n


def export_file(folder: Path, selection: Selection, path: Path) -> int:
    """`export` into a file that is replaced whole, or not at all."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            n = export(folder, selection, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def export_line(article: Article) -> str:
    """One article as a JSON line. Line and paragraph separators (U+2028, U+2029, U+0085)
    are escaped: JSON allows them raw, but a reader splitting lines would cut there."""
    record: dict[str, Any] = {f: getattr(article, f) for f in EXPORT_FIELDS}
    line = json.dumps(record, ensure_ascii=False)
    return line.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").replace("\x85", "\\u0085")


def _lookup(catalog: Catalog, asked: str, *, aliases: bool = False) -> str | None:
    """The stored id `asked` names: itself, or a file's id when it is a path to the file;
    with `aliases`, also the article whose alias it names."""
    for candidate in _spellings(asked):
        if catalog.has(candidate):
            return candidate
        if aliases and (owner := catalog.alias_owner(candidate)):
            return owner
    return None


def _spellings(asked: str) -> Iterator[str]:
    yield asked
    raw = asked.removeprefix("file:")
    if raw and "://" not in raw:
        try:
            yield "file:" + Path(raw).expanduser().resolve().as_posix()
        except (OSError, RuntimeError):  # a symlink loop
            return
