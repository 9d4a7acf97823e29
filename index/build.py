"""Ingest and rebuild: articles in, chunked and embedded, written through `IndexWriter`
(index.writer) a group at a time, each group one generation committed atomically."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from index import identity
from index.article_records import fingerprint
from index.chunker import chunk_text
from index.embedder import Embedder
from index.errors import store_damage
from index.lock import write_lock
from index.manifest import Layout
from index.records import Article, Chunk, ReadFailure
from index.sentences import split_sentences
from index.settings import Settings
from index.wording import plural
from index.writer import EmbedderFactory, IndexWriter, Pending

log = logging.getLogger(__name__)

GROUP_CHUNKS = 4096  # chunks embedded and committed together; a crash loses at most one group
MAX_TITLE_TOKENS = 32  # of the title prefix counted into each chunk's budget


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
    batch: Sequence[Pending],
    inputs: Sequence[str],
    progress: bool,
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """The batch's chunk vectors, and their sentences' vectors read in context."""
    spans = [s for article, _, chunks in batch for s in sentence_spans(article, chunks)]
    return embedder.embed_with_sentences(inputs, spans, progress=progress)


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
        writer = IndexWriter(settings, make_embedder, search)
        try:
            writer.check_settings(settings)
            pending: list[Pending] = []
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
                    writer.rename(old.rowid, item.id, item.path)
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
        writer = IndexWriter(settings, make_embedder, search)
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
            batch: list[Pending] = []
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
