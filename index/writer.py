"""The index held open for writing, under the write lock: each write one generation.

A write is one SQLite transaction: the ledger's rows (index.store), then the search
backend's (index.local_backend: its rows on the same connection, and the next generation's
FAISS file written under its own name), then the manifest. The commit is what makes them
visible together; a crash before it leaves the previous generation whole, and the stray file
is removed at the next write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from index import neardup
from index.backend import Entry
from index.backends import open_backend
from index.embedder import Embedder
from index.errors import IndexMismatch
from index.manifest import Layout, Manifest, now_iso
from index.migrate import upgrade
from index.records import Article, Chunk, StoredArticle
from index.settings import DEFAULT_CHUNK_TOKENS, DEFAULT_MODEL, Settings
from index.store import Store

log = logging.getLogger(__name__)

EmbedderFactory = Callable[[str], Embedder]
# An article to write: it, what was stored under its id before (None: new), its chunks.
Pending = tuple[Article, StoredArticle | None, list[Chunk]]


class IndexWriter:
    """An open index held under the write lock (the caller holds it), with its model."""

    def __init__(
        self, settings: Settings, make_embedder: EmbedderFactory, search: str = "auto"
    ) -> None:
        self.layout = Layout(settings.index_dir)
        self.store = Store(self.layout.store)
        self._make_embedder = make_embedder
        self._embedder: Embedder | None = None
        self.model_seconds = 0.0  # loading (and first exporting) the model
        try:
            stored = upgrade(self.store, settings.index_dir)  # an older version's store
        except BaseException:
            self.store.close()
            raise
        if stored is None:
            tokens = settings.chunk_tokens or DEFAULT_CHUNK_TOKENS
            self.manifest = Manifest(
                model=settings.model or DEFAULT_MODEL,
                dimension=0,  # known once the model is loaded
                chunk_tokens=tokens,
                chunk_overlap=settings.effective_overlap(tokens),
                created=now_iso(),
                backend=settings.backend,
            )
        else:
            self.manifest = stored
        try:
            self.manifest.check_backend(settings.backend, settings.index_dir)
        except BaseException:
            self.store.close()
            raise
        self.search = open_backend(
            settings,
            self.store,
            dimension=self.manifest.dimension,
            search=search,
            exact=lambda: self.store.vectors(self.manifest.dimension),
        )
        try:
            self._check_owner(settings)
        except BaseException:
            self.close()
            raise
        self.search.tidy()  # files left by a write that died before its commit
        self._finish_interrupted()

    def _check_owner(self, settings: Settings) -> None:
        """A backend that keeps the manifest (Milvus) is written from one ledger only: an
        index folder whose ledger did not make what it holds (another ingest host's, or a
        replica's empty folder) must not write into it, its chunk ids colliding."""
        held = self.search.kept_manifest()
        if held is None or held.get("created") == self.manifest.created:
            return
        where = getattr(self.search, "uri", settings.backend)
        raise IndexMismatch(
            f"the {self.search.kind} index at {where} was written from another index folder "
            f"(created {held.get('created')}, {held.get('articles', 0)} articles), not from "
            f"{self.layout.folder}; write it from the host and folder that made it, choose "
            "another QA_MILVUS_COLLECTION, or run `qa doctor --repair --backend "
            f"{settings.backend}` on this folder to replace what it holds with this folder's index"
        )

    def _finish_interrupted(self) -> None:
        """For a backend outside the ledger's transaction (Milvus), what a write killed
        midway left: the ledger committed and the backend not (its rows are there, pending:
        commit them), or the ledger not (undo the backend's pending rows)."""
        if self.search.shares_ledger_transaction:
            return
        if self.manifest.generation == self.search.generation + 1:
            log.warning(
                "the %s backend is a generation behind the ledger (a write was interrupted "
                "after the ledger's commit); committing its pending rows",
                self.search.kind,
            )
            self.search.describe(self.manifest.to_dict())
            self.search.commit()
        elif self.manifest.generation == self.search.generation:
            self.search.discard()

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

    def commit(
        self,
        batch: list[Pending],
        vectors: np.ndarray,
        sentences: Sequence[np.ndarray | None] | None = None,
        *,
        replace_all: bool = False,
    ) -> None:
        """Store the batch's articles and chunks, and their search entries, as one
        generation; `replace_all` (a rebuild) first drops every chunk."""
        now = now_iso()
        self.search.dimension = self.manifest.dimension
        payload = self.search.holds_payload
        with self._undone_on_failure(), self.store.transaction():
            if replace_all:
                self.store.delete_all_chunks()
                self.search.clear()
            removed: list[int] = []
            entries: list[Entry] = []
            firsts: list[tuple[int, Article, list[int], int]] = []  # rowid, article, ids, row
            owners: set[int] = set()  # articles whose aliases lose an id re-ingested as its own
            row = 0
            for article, old, chunks in batch:
                if old is not None and not replace_all:
                    removed += self.store.delete_chunks(old.rowid)
                if payload and (owner := self.store.alias_holder(article.id)) is not None:
                    owners.add(owner)
                rowid = self.store.put_article(article, now)
                ids = self.store.add_chunks(
                    rowid,
                    article,
                    chunks,
                    vectors[row : row + len(chunks)],
                    sentences[row : row + len(chunks)] if sentences else None,
                )
                if not payload:
                    entries += [
                        Entry(
                            cid,
                            vectors[row + i],
                            f"{article.title}\n{article.text[c.start : c.end]}",
                            article.id,
                            article.published,
                            article.source,
                            article.url,
                        )
                        for i, (cid, c) in enumerate(zip(ids, chunks, strict=True))
                    ]
                firsts.append((rowid, article, ids, row))
                row += len(chunks)
            rowids = [rowid for rowid, *_ in firsts]
            if payload:  # what answers show of each chunk, as the ledger now holds it
                entries = list(
                    self.store.entries(self.manifest.dimension, payload=True, articles=rowids)
                )
            written = {e.article: e.payload.story for e in entries if e.payload is not None}
            self.search.delete(removed)
            self.search.upsert(entries)
            for rowid, article, ids, first in firsts:
                story = self._group(rowid, article, set(ids), vectors[first])
                if payload and written.get(article.id, story) != story:
                    owners.add(rowid)  # it joined a story after its rows were written
            if owners:
                self._rewrite_rows(owners)
            manifest = self._next_manifest(self._generation(), now)
        self._installed(manifest)

    def keep_aliases(self, aliases: Sequence[tuple[Article, str]]) -> int:
        """Keep each (article, owner id) as another id of the stored owner; the number kept
        (not those whose owner's text changed since, which went with that text)."""
        kept: list[str] = []

        def keep() -> set[int]:
            owners = set()
            for alias, owner in aliases:
                if self.store.put_alias(alias, owner) and (found := self.store.find_article(owner)):
                    kept.append(alias.id)
                    owners.add(found.rowid)
            return owners

        if aliases:
            self._in_step(keep)
        return len(kept)

    def rename(self, rowid: int, article_id: str, path: str | None) -> None:
        """Give a stored article a new id and file path; its chunks and vectors stay."""

        def rename() -> set[int]:
            self.store.rename_article(rowid, article_id, path)
            return {rowid}

        self._in_step(rename)

    def _in_step(self, change: Callable[[], set[int]]) -> None:
        """Run `change`, ledger writes that alter what answers show of some articles (it
        returns their rowids: aliases, a new id), in one transaction; where the backend
        holds payloads (Milvus: replicas answer from it alone), as a generation that
        rewrites those articles' rows, so the backend stays in step with the ledger."""
        if not self.search.holds_payload:
            with self.store.transaction():
                change()
            return
        with self._undone_on_failure(), self.store.transaction():
            changed = change()
            if not changed:
                return
            self._rewrite_rows(changed)
            manifest = self._next_manifest(self._generation(), now_iso())
        self._installed(manifest)

    def _rewrite_rows(self, rowids: set[int]) -> None:
        """Inside a write: these articles' entries again, with their payloads as the ledger
        now holds them (a backend that holds payloads)."""
        self.search.upsert(
            list(self.store.entries(self.manifest.dimension, payload=True, articles=rowids))
        )

    def remove(self, rowids: Sequence[int]) -> int:
        """Delete these articles with their chunks and search entries as one generation,
        like `commit`; returns the number of chunks removed."""
        if not rowids:
            return 0
        with self._undone_on_failure(), self.store.transaction():
            removed = [cid for rowid in rowids for cid in self.store.delete_article(rowid)]
            self.search.delete(removed)
            manifest = self._next_manifest(self._generation(), now_iso())
        self._installed(manifest)
        return len(removed)

    @contextmanager
    def _undone_on_failure(self) -> Iterator[None]:
        """A write that fails before the ledger commits leaves no trace in the backend."""
        try:
            yield
        except BaseException:
            if not self.search.shares_ledger_transaction:
                self.search.discard()
            raise

    def _generation(self) -> int:
        """Inside a write's transaction: the generation it makes. A backend that shares the
        ledger's transaction (local) commits now, its rows and file visible with the
        ledger's; another (Milvus) only after the ledger has committed (`_installed`): the
        ledger first, then the marker that makes its rows live."""
        if self.search.shares_ledger_transaction:
            return self.search.commit()
        return self.search.generation + 1

    def _next_manifest(self, generation: int, now: str) -> Manifest:
        """Inside a write's transaction, its rows written: the next generation's manifest,
        recorded."""
        articles, chunks_total = self.store.counts()
        manifest = self.manifest.with_(
            articles=articles,
            chunks=chunks_total,
            search=self.search.kind,
            generation=generation,
            updated=now,
        )
        self.store.set_meta("manifest", manifest.to_dict())
        return manifest

    def _installed(self, manifest: Manifest) -> None:
        """After the ledger's commit: the backend's too where it has its own, then the
        mirror, and older vector files dropped."""
        if not self.search.shares_ledger_transaction:
            self.search.describe(manifest.to_dict())
            self.search.commit()
        self.manifest = manifest
        manifest.write_mirror(self.layout)
        self.search.tidy()

    def _group(self, rowid: int, article: Article, own: set[int], first: np.ndarray) -> int:
        """Give the article the story id of a near duplicate already stored, else its own;
        returns it."""
        near = [
            m.id
            for m in self.search.dense(first, neardup.CANDIDATES)
            if m.score >= neardup.CANDIDATE_COSINE and m.id not in own
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
        return story

    def close(self) -> None:
        self.search.close()
        self.store.close()
