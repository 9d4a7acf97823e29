"""The values that travel through the index: articles, chunks, read failures, scopes and
selections of stored articles."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Article:
    """One news article as a reader found it. `text` is what offsets point into."""

    id: str
    title: str
    text: str
    url: str | None = None
    published: str | None = None  # ISO 8601
    source: str | None = None
    lang: str | None = None
    path: str | None = None  # where it was read from, for messages

    @property
    def text_hash(self) -> str:
        """Identity of the text: the same text under two ids is stored once."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ReadFailure:
    """An input that could not be read; `where` is 'path' or 'path:line'."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class Chunk:
    """A span of an article's text, sentence-aligned; offsets index `Article.text`."""

    seq: int
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]  # article-relative spans of whole sentences
    tokens: int


@dataclass(frozen=True)
class StoredChunk:
    """A chunk read back from the store, with what a citation needs."""

    id: int
    article_id: str
    title: str
    url: str | None
    published: str | None
    source: str | None
    text: str  # == article text[start:end]
    start: int
    end: int
    sentences: tuple[tuple[int, int], ...]
    story: int | None = None  # articles of one story (near duplicates) share this id

    def sentence_text(self, start: int, end: int) -> str:
        """The text of an article-relative span that lies inside this chunk."""
        return self.text[start - self.start : end - self.start]


@dataclass(frozen=True)
class Scope:
    """Which articles a search may return: inclusive ISO dates and a source name."""

    since: str | None = None  # 'YYYY-MM-DD'
    until: str | None = None
    source: str | None = None  # matched, case-folded, inside the source name or the URL

    @property
    def everything(self) -> bool:
        return self.since is None and self.until is None and self.source is None


@dataclass(frozen=True)
class StoredArticle:
    """What ingest needs to know of an article already stored."""

    rowid: int
    id: str
    text_hash: str
    fingerprint: str  # hash of every stored field; a change means re-chunk and re-embed
    path: str | None = None  # the file it was read from (absolute since file ids are)


@dataclass(frozen=True)
class Health:
    """Counts a consistency check needs, read in one snapshot."""

    integrity: str  # "ok", or SQLite's first complaint
    articles: int
    chunk_ids: frozenset[int]
    orphan_chunks: int  # chunks whose article is gone
    bad_spans: int  # chunks whose offsets fall outside their article
    bad_vectors: int  # vectors of the wrong byte length


@dataclass(frozen=True)
class StoredArticleRef:
    """What a citation of an article needs."""

    id: str
    title: str
    url: str | None
    published: str | None
    source: str | None


@dataclass(frozen=True)
class StoredAlias:
    """Another id under which an article's very text was read: a name of the stored article,
    with what a citation of it needs (index.build keeps one for each duplicate)."""

    id: str
    title: str
    url: str | None
    published: str | None
    source: str | None
    path: str | None = None


@dataclass(frozen=True)
class Selection:
    """Which articles a management command acts on: a scope of dates and source, and the
    files they were read from (`path`: one file, or every file under a folder)."""

    scope: Scope = field(default_factory=Scope)
    path: str | None = None  # absolute, as index.sources stores it

    @property
    def everything(self) -> bool:
        return self.scope.everything and self.path is None


@dataclass(frozen=True)
class ArticleRow:
    """One line of `qa list`."""

    id: str
    title: str
    published: str | None
    source: str | None
    url: str | None
    path: str | None
    chunks: int


@dataclass(frozen=True)
class ArticleRecord:
    """Everything stored about one article (`qa show`)."""

    article: Article
    chunks: int
    added: str
    updated: str
    story: tuple[str, ...]  # ids of the other articles of its story (near duplicates)
    aliases: tuple[StoredAlias, ...] = ()  # other ids its very text was read under
