"""Ingest and rebuild: articles in, chunks embedded, committed atomically with the FAISS file.

A write is one SQLite transaction. The FAISS file for the next generation is written first,
under its own name; the commit that records the new generation is what makes both visible.
A crash before the commit leaves the previous generation whole; a stray file is removed later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from index import identity, neardup
from index.chunker import chunk_text
from index.embedder import Embedder
from index.errors import IndexMismatch, store_damage
from index.lock import write_lock
from index.manifest import Layout, Manifest, now_iso
from index.records import Article, Chunk, ReadFailure, StoredArticle
from index.sentences import split_sentences
from index.settings import DEFAULT_CHUNK_TOKENS, DEFAULT_MODEL, Settings
from index.store import Store, fingerprint
from index.vectors import VectorIndex, choose_search
from index.wording import plural

log = logging.getLogger(__name__)

GROUP_CHUNKS = 4096  # chunks embedded and committed together; a crash loses at most one group
MAX_TITLE_TOKENS = 32  # of the title prefix counted into each chunk's budget

EmbedderFactory = Callable[[str], Embedder]


@dataclass
class IngestReport:
    """What one ingest or rebuild did, for the summary line and for tests."""

    added: int = 0
    updated: int = 0
    renamed: int = 0  # unchanged, stored before under another id (index.identity)
    unchanged: int = 0
    duplicate: int = 0
    aliases: int = 0  # of the duplicates, those kept as another id of the stored text
    failed: int = 0
    chunks: int = 0
    seconds: float = 0.0  # the whole run, the two below included
    waited: float = 0.0  # for another writer's lock
    prepared: float = 0.0  # loading the model, and making its export the first time
    failures: list[ReadFailure] = field(default_factory=list)

    @property
    def read(self) -> int:
        """Articles read, whatever became of them (failures aside)."""
        return self.added + self.updated + self.renamed + self.unchanged + self.duplicate

    def to_dict(self) -> dict[str, object]:
        """The counts and seconds for `--json`, failures as {where, reason}."""
        out = {**asdict(self), "working": self.working}
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}

    @property
    def working(self) -> float:
        """Seconds of the run's own work: not waiting for the lock, not preparing the model."""
        return max(self.seconds - self.waited - self.prepared, 0.0)

    def summary(self) -> str:
        rate = (
            f" ({self.chunks / self.working:.1f} chunks/s)" if self.chunks and self.working else ""
        )
        renamed = f"{self.renamed} renamed, " if self.renamed else ""
        kept = (
            f" ({self.aliases} kept as {'an alias' if self.aliases == 1 else 'aliases'})"
            if self.aliases
            else ""
        )
        # Loading the model takes 0.3-1.5 s; a first run's export, 10-25 s.
        extra = [
            f"{s:.1f} s {what}"
            for s, what, shown in (
                (self.prepared, "loading the model", 3.0),
                (self.waited, "waiting for another writer", 1.0),
            )
            if s >= shown
        ]
        return (
            f"{self.added} added, {self.updated} updated, {renamed}{self.unchanged} unchanged, "
            f"{self.duplicate} duplicate{kept}, {self.failed} failed; "
            f"{plural(self.chunks, 'chunk')} embedded in {self.working:.1f} s{rate}"
            + (f", plus {' and '.join(extra)}" if extra else "")
        )


def prepare(
    article: Article, embedder: Embedder, chunk_tokens: int, overlap: int
) -> tuple[list[Chunk], list[str]]:
    """The article's chunks and the texts to embed for them (title, newline, chunk text)."""
    title_tokens = min(len(embedder.token_spans([article.title])[0]), MAX_TITLE_TOKENS)
    budget = min(chunk_tokens, embedder.max_tokens) - title_tokens - 1
    chunks = chunk_text(
        article.text,
        split_sentences(article.text, article.lang),
        embedder.token_spans,
        budget=max(budget, 8),
        overlap=overlap,
    )
    return chunks, [f"{article.title}\n{article.text[c.start : c.end]}" for c in chunks]


def sentence_spans(article: Article, chunks: Sequence[Chunk]) -> list[list[tuple[int, int]]]:
    """Each chunk's sentence spans inside the text `prepare` embeds for it (title prefixed)."""
    prefix = len(article.title) + 1
    return [[(s - c.start + prefix, e - c.start + prefix) for s, e in c.sentences] for c in chunks]


def embed(
    embedder: Embedder,
    batch: Sequence[tuple[Article, StoredArticle | None, list[Chunk]]],
    inputs: Sequence[str],
    progress: bool,
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """The batch's chunk vectors, and their sentences' vectors read in context."""
    spans = [s for article, _, chunks in batch for s in sentence_spans(article, chunks)]
    return embedder.embed_with_sentences(inputs, spans, progress=progress)


class _Writer:
    """An open index held under the write lock, with its vectors in memory."""

    def __init__(
        self, settings: Settings, make_embedder: EmbedderFactory, search: str = "auto"
    ) -> None:
        self.layout = Layout(settings.index_dir)
        self.search = search  # "auto": flat or HNSW by size (index.vectors.choose_search)
        self.store = Store(self.layout.store)
        self._make_embedder = make_embedder
        self._embedder: Embedder | None = None
        self.model_seconds = 0.0  # loading (and first exporting) the model
        stored = self.store.get_meta("manifest")
        if stored is None:
            tokens = settings.chunk_tokens or DEFAULT_CHUNK_TOKENS
            self.manifest = Manifest(
                model=settings.model or DEFAULT_MODEL,
                dimension=0,  # known once the model is loaded
                chunk_tokens=tokens,
                chunk_overlap=settings.effective_overlap(tokens),
                created=now_iso(),
            )
            self.vectors: VectorIndex | None = None
        else:
            self.manifest = Manifest.from_dict(stored)
            self.manifest.check_format(settings.index_dir)
            self.vectors = None  # loaded on first commit
        self._remove_stale_files()  # left by a write that died before its commit

    def check_settings(self, settings: Settings) -> None:
        """An ingest adds to the index as built; other settings need `qa rebuild`."""
        m, folder = self.manifest, self.layout.folder
        if settings.model is not None:
            m.check_model(settings.model, folder)
        for name, asked, built in (
            ("--chunk-tokens", settings.chunk_tokens, m.chunk_tokens),
            ("--chunk-overlap", settings.chunk_overlap, m.chunk_overlap),
        ):
            if asked is not None and asked != built:
                raise IndexMismatch(
                    f"the index in {folder} is chunked with {name} {built}, not {asked}; "
                    f"run `qa rebuild --index {folder} {name} {asked}` to re-chunk it"
                )

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            started = time.perf_counter()
            self._embedder = self._make_embedder(self.manifest.model)
            self.model_seconds = time.perf_counter() - started
            dim = self._embedder.dimension
            if self.manifest.dimension not in (0, dim):
                raise IndexMismatch(
                    f"the model {self.manifest.model!r} gives {dim}-dimensional vectors but the "
                    f"index in {self.layout.folder} holds {self.manifest.dimension}; "
                    f"run `qa rebuild --index {self.layout.folder}`"
                )
            self.manifest = self.manifest.with_(dimension=dim)
        return self._embedder

    def current_vectors(self) -> VectorIndex:
        if self.vectors is None:
            path = self.layout.vectors(self.manifest.generation)
            if self.manifest.generation and path.exists():
                self.vectors = VectorIndex.load(path)
            else:
                ids, vecs = self.store.vectors(self.manifest.dimension)
                self.vectors = VectorIndex.build(ids, vecs, self.manifest.dimension)
        return self.vectors

    def commit(
        self,
        batch: list[tuple[Article, StoredArticle | None, list[Chunk]]],
        vectors: np.ndarray,
        sentences: Sequence[np.ndarray | None] | None = None,
        *,
        replace_all: bool = False,
    ) -> None:
        """Store the batch's articles and chunks, and the FAISS file, as one generation."""
        now = now_iso()
        index = (
            VectorIndex.empty(self.manifest.dimension, choose_search(len(vectors), self.search))
            if replace_all
            else self.current_vectors()
        )
        with self.store.transaction():
            if replace_all:
                self.store.delete_all_chunks()
            removed: list[int] = []
            added: list[int] = []
            firsts: list[tuple[int, Article, list[int], int]] = []  # rowid, article, ids, row
            row = 0
            for article, old, chunks in batch:
                if old is not None and not replace_all:
                    removed += self.store.delete_chunks(old.rowid)
                rowid = self.store.put_article(article, now)
                ids = self.store.add_chunks(
                    rowid,
                    article,
                    chunks,
                    vectors[row : row + len(chunks)],
                    sentences[row : row + len(chunks)] if sentences else None,
                )
                firsts.append((rowid, article, ids, row))
                added += ids
                row += len(chunks)
            index.add(np.asarray(added, dtype=np.int64), vectors)
            manifest, index = self._next_generation(index, removed, now)
            for rowid, article, ids, first in firsts:
                self._group(index, rowid, article, set(ids), vectors[first])
            index.save(self.layout.vectors(manifest.generation))
        self._installed(manifest, index)

    def keep_aliases(self, aliases: Sequence[tuple[Article, str]]) -> int:
        """Keep each (article, owner id) as another id of the stored owner; the number kept
        (not those whose owner's text changed since, which went with that text)."""
        if not aliases:
            return 0
        with self.store.transaction():
            return sum(self.store.put_alias(alias, owner) for alias, owner in aliases)

    def remove(self, rowids: Sequence[int]) -> int:
        """Delete these articles with their chunks, keyword rows and vectors as one
        generation, like `commit`; returns the number of chunks removed."""
        if not rowids:
            return 0
        index = self.current_vectors()
        with self.store.transaction():
            removed = [cid for rowid in rowids for cid in self.store.delete_article(rowid)]
            manifest, index = self._next_generation(index, removed, now_iso())
            index.save(self.layout.vectors(manifest.generation))
        self._installed(manifest, index)
        return len(removed)

    def _next_generation(
        self, index: VectorIndex, removed: list[int], now: str
    ) -> tuple[Manifest, VectorIndex]:
        """Inside a write's transaction, its rows written: the next generation's manifest
        recorded, and `index` without the `removed` chunks' vectors, switched to the kind
        its size asks for (past HNSW_FROM, from the store's float32 vectors)."""
        articles, chunks_total = self.store.counts()
        manifest = self.manifest.with_(
            articles=articles,
            chunks=chunks_total,
            search=choose_search(chunks_total, self.search),
            generation=self.manifest.generation + 1,
            updated=now,
        )
        self.store.set_meta("manifest", manifest.to_dict())
        index.remove(removed)
        index = index.with_search(manifest.search, lambda: self.store.vectors(manifest.dimension))
        return manifest, index

    def _installed(self, manifest: Manifest, index: VectorIndex) -> None:
        """After the commit that made them the index's: keep them, drop older vector files."""
        self.manifest, self.vectors = manifest, index
        manifest.write_mirror(self.layout)
        self._remove_stale_files()

    def _group(
        self, index: VectorIndex, rowid: int, article: Article, own: set[int], first: np.ndarray
    ) -> None:
        """Give the article the story id of a near duplicate already stored, else its own."""
        near = [
            cid
            for cid, cos in index.search(first, neardup.CANDIDATES)
            if cos >= neardup.CANDIDATE_COSINE and cid not in own
        ]
        others = self.store.stories_of_chunks(near)  # article rowid -> story id
        # The story is the lowest of the article's own rowid and the stories it matches.
        # Taken oldest first, the first match decides, and the candidates after it (often
        # copies of the same story) are not read or compared.
        story = rowid
        for other, their_story in sorted(others.items(), key=lambda o: o[1]):
            if their_story >= story:
                break
            # Shingles are made only here, for an article with a candidate.
            if other != rowid and neardup.same_story(article.text, self.store.article_text(other)):
                story = their_story
                break
        self.store.set_story(rowid, story)

    def _remove_stale_files(self) -> None:
        keep = self.layout.vectors(self.manifest.generation)
        for path in self.layout.all_vector_files():
            if path != keep:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        self.store.close()


def ingest(
    settings: Settings,
    items: Iterable[Article | ReadFailure],
    make_embedder: EmbedderFactory,
    *,
    progress: bool = False,
    on_failure: Callable[[ReadFailure], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
    search: str = "auto",
) -> IngestReport:
    """Add new and changed articles; unchanged ones are skipped without embedding."""
    started = time.perf_counter()
    report = IngestReport()
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    # A page found damaged while writing is named like one found at opening.
    with write_lock(settings.index_dir, on_wait), store_damage(Layout(settings.index_dir).store):
        report.waited = time.perf_counter() - started
        writer = _Writer(settings, make_embedder, search)
        try:
            writer.check_settings(settings)
            pending: list[tuple[Article, StoredArticle | None, list[Chunk]]] = []
            inputs: list[str] = []
            seen: dict[str, str] = {}  # text hash -> id, for this run
            seen_ids: set[str] = set()
            copies: list[int] = []  # rowids of further copies of a renamed article
            aliases: list[tuple[Article, str]] = []  # (a duplicate, the id holding its text)

            def flush() -> None:
                writer.remove(copies)
                copies.clear()
                if pending:
                    vectors, sentences = embed(writer.embedder, pending, inputs, progress)
                    writer.commit(pending, vectors, sentences)
                    report.chunks += len(inputs)
                    pending.clear()
                    inputs.clear()
                # After the commit that stores their owners.
                report.aliases += writer.keep_aliases(aliases)
                aliases.clear()

            for item in items:
                if isinstance(item, ReadFailure):
                    report.failed += 1
                    report.failures.append(item)
                    if on_failure:
                        on_failure(item)
                    continue
                old = writer.store.find_article(item.id)
                renamed = False
                if old is None and (earlier := identity.predecessors(writer.store, item)):
                    # The same file under an older id, or moved: it carries on as this id.
                    old, *others = earlier
                    with writer.store.transaction():
                        writer.store.rename_article(old.rowid, item.id, item.path)
                    log.info("%s: stored before as %s, renamed", item.id, old.id)
                    copies.extend(o.rowid for o in others)
                    renamed = True
                if old is not None and old.fingerprint == fingerprint(item):
                    if renamed:
                        report.renamed += 1
                    else:
                        report.unchanged += 1
                    continue
                if item.id in seen_ids:
                    report.duplicate += 1  # the same id twice in one run: the first one wins
                    continue
                owner = seen.get(item.text_hash) or writer.store.find_text(item.text_hash)
                if owner in seen_ids and seen.get(item.text_hash) != owner:
                    owner = None  # stored with this text, but given another one in this run
                if owner is not None and owner != item.id:
                    log.info("%s: same text as %s, kept as an alias", item.path or item.id, owner)
                    if old is not None:  # its own text was another: it is a name of this one now
                        copies.append(old.rowid)
                    aliases.append((item, owner))
                    report.duplicate += 1
                    continue
                seen[item.text_hash] = item.id
                seen_ids.add(item.id)
                chunks, texts = prepare(
                    item,
                    writer.embedder,
                    writer.manifest.chunk_tokens,
                    writer.manifest.chunk_overlap,
                )
                pending.append((item, old, chunks))
                inputs.extend(texts)
                if old is None:
                    report.added += 1
                else:
                    report.updated += 1
                if len(inputs) >= GROUP_CHUNKS:
                    flush()
            flush()
        finally:
            writer.close()
    report.seconds = time.perf_counter() - started
    report.prepared = writer.model_seconds
    return report


def rebuild(
    settings: Settings,
    make_embedder: EmbedderFactory,
    *,
    progress: bool = False,
    on_wait: Callable[[str], None] | None = None,
    search: str = "auto",
) -> IngestReport:
    """Re-chunk and re-embed every stored article, then swap the result in with one commit."""
    started = time.perf_counter()
    report = IngestReport()
    if not Layout(settings.index_dir).store.exists():
        from index.errors import IndexMissing

        raise IndexMissing(f"no index in {settings.index_dir}; run `qa ingest PATH` first")
    # A page found damaged while writing is named like one found at opening.
    with write_lock(settings.index_dir, on_wait), store_damage(Layout(settings.index_dir).store):
        report.waited = time.perf_counter() - started
        writer = _Writer(settings, make_embedder, search)
        try:
            m = writer.manifest
            tokens = settings.chunk_tokens or m.chunk_tokens
            same_size = settings.chunk_tokens in (None, m.chunk_tokens)
            overlap = (
                m.chunk_overlap
                if same_size and settings.chunk_overlap is None
                else settings.effective_overlap(tokens)
            )
            writer.manifest = m.with_(
                model=settings.model or m.model,
                dimension=0,
                chunk_tokens=tokens,
                chunk_overlap=overlap,
            )
            batch: list[tuple[Article, StoredArticle | None, list[Chunk]]] = []
            inputs: list[str] = []
            for article in list(writer.store.articles()):
                chunks, texts = prepare(
                    article,
                    writer.embedder,
                    writer.manifest.chunk_tokens,
                    writer.manifest.chunk_overlap,
                )
                batch.append((article, None, chunks))
                inputs.extend(texts)
            vectors, sentences = embed(writer.embedder, batch, inputs, progress)
            writer.commit(batch, vectors, sentences, replace_all=True)
            report.updated = len(batch)
            report.chunks = len(inputs)
        finally:
            writer.close()
    report.seconds = time.perf_counter() - started
    report.prepared = writer.model_seconds
    return report
