"""Which stored article a file's article continues when its id is not stored yet.

A file's article id is `file:` and the file's absolute path (index.sources.file_id). Two
things leave the same file's article stored under another id:

- an index written before ids were absolute: the id was the path relative to the folder
  typed (`qa ingest /tmp/corpus` gave `file:corpus/harbor.txt`, `qa ingest
  corpus/harbor.txt` gave `file:harbor.txt`; JSON records without id or url were
  `corpus/feed.jsonl#3`), so one file could even be stored twice;
- a moved archive folder: the same text is stored under the old absolute path, which no
  longer exists.

Ingest renames such an article to the new id instead of adding the file again (its chunks and
vectors stay), and removes any further copies, so an edit always replaces the old text.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from index.records import Article, StoredArticle
from index.store import Store

PREFIX = "file:"


def legacy_ids(article_id: str) -> list[str]:
    """The ids an older version may have given the file of `article_id`: each tail of its
    path, `file:`-prefixed for whole files, bare for a JSON record (`feed.jsonl#3`)."""
    if not article_id.startswith(PREFIX + "/"):
        return []
    path, hash_, record = article_id[len(PREFIX) :].partition("#")
    parts = PurePosixPath(path).parts[1:]  # without the root "/"
    tails = ["/".join(parts[i:]) for i in range(len(parts))]
    if hash_:
        return [f"{tail}#{record}" for tail in tails]
    return [PREFIX + tail for tail in tails]


def is_moved(stored: StoredArticle) -> bool:
    """A file's article whose file is no longer where it was read from."""
    if not stored.id.startswith(PREFIX + "/") or not stored.path:
        return False
    return not Path(stored.path).exists()


def predecessors(store: Store, article: Article) -> list[StoredArticle]:
    """Stored articles that are `article`'s file under another id, the one holding the same
    text first: ids of an older version, and the same text at a path now gone (a move)."""
    if not article.id.startswith(PREFIX + "/"):
        return []
    found: dict[int, StoredArticle] = {}
    for candidate in legacy_ids(article.id):
        stored = store.find_article(candidate)
        if stored is not None:
            found[stored.rowid] = stored
    owner = store.find_text(article.text_hash)
    if owner is not None and owner != article.id:
        stored = store.find_article(owner)
        if stored is not None and is_moved(stored):
            found[stored.rowid] = stored
    return sorted(found.values(), key=lambda s: s.text_hash != article.text_hash)
