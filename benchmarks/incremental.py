"""Incremental ingest: 10 new articles into a 100k-chunk index, and proof of what was embedded.

    python -m benchmarks.incremental [--chunks 100000] [--articles 10] [--repeats 3]

Each repeat copies the 100k index afresh (not timed), then runs index.build.ingest, as
`qa ingest` does, with 10 real articles not in it. The embedder counts every text it is
given: the count must equal the chunks of those 10 articles (computed independently), and
every chunk already stored must keep its vector, byte for byte. The baseline is what the
alternative costs in the same run: a full rebuild re-embeds every chunk, at the rate measured.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.common import default_work, footer, header, median, table
from benchmarks.corpus import real_articles, real_chunks, variant
from benchmarks.ingest import Timed
from benchmarks.synthetic import index_folder
from index.records import Article


class Counting(Timed):
    """A timed embedder that also counts the texts it embeds."""

    def __init__(self, inner: Timed) -> None:
        super().__init__(inner.inner)
        self.texts = 0

    def embed_batch(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.texts += len(texts)
        return super().embed_batch(texts, progress=progress)

    def embed_with_sentences(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        *,
        progress: bool = False,
    ) -> tuple[np.ndarray, list[np.ndarray | None]]:
        self.texts += len(texts)  # the chunks; their sentences come from the same pass
        return super().embed_with_sentences(texts, spans, progress=progress)

    def factory(self, model: str) -> Counting:
        return self


def new_articles(n: int, copy: int) -> list[Article]:
    """`n` real articles reworded as a copy no index of the benchmarks holds."""
    base = [a for a in real_articles() if a.lang != "fa"][:n]
    return [variant(a, copy) for a in base]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--chunks", type=int, default=100_000)
    p.add_argument("--articles", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--work", type=Path, default=default_work())
    args = p.parse_args()
    header(f"incremental ingest of {args.articles} articles into {args.chunks} chunks")
    from index.build import ingest, prepare
    from index.models import load_embedder
    from index.reader import IndexReader
    from index.settings import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_TOKENS, DEFAULT_MODEL, Settings
    from index.vectors import VectorIndex, choose_search

    real = real_chunks(args.work, 2000)
    kind = choose_search(args.chunks)
    source = index_folder(args.work, real, args.chunks, kind)
    embedder = load_embedder(Settings.from_env({}), writing=True)(DEFAULT_MODEL)  # as ingest
    rows: list[list[object]] = []
    totals, embeds, texts = [], [], 0
    for r in range(args.repeats):
        folder = args.work / "incremental"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(source, folder)
        articles = new_articles(args.articles, 900 + r)
        expected = sum(
            len(prepare(a, embedder, DEFAULT_CHUNK_TOKENS, DEFAULT_CHUNK_OVERLAP)[0])
            for a in articles
        )
        before = IndexReader(folder)
        old_ids = before.store.vectors(before.manifest.dimension)[0].tolist()
        old_vectors = before.vectors_of(old_ids)
        before.close()
        counting = Counting(Timed(embedder))
        started = time.perf_counter()
        report = ingest(Settings.from_env({}, index_dir=folder), articles, counting.factory)
        total = time.perf_counter() - started
        after = IndexReader(folder)
        unchanged = np.array_equal(after.vectors_of(old_ids), old_vectors)
        chunks_after = after.manifest.chunks
        search = after.manifest.search
        after.close()
        totals.append(total)
        texts += counting.texts
        embeds.append(counting.seconds)
        rows.append(
            [r + 1, report.added, counting.texts, expected, len(old_ids), chunks_after,
             "yes" if unchanged else "NO", search, total, counting.seconds,
             total - counting.seconds]
        )  # fmt: skip
        if counting.texts != expected or not unchanged:
            raise SystemExit("something besides the new articles was embedded or changed")
    path = source / "vectors-000001.faiss"
    started = time.perf_counter()
    index = VectorIndex.load(path)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    index.save(args.work / "save-test.faiss")
    save_s = time.perf_counter() - started
    (args.work / "save-test.faiss").unlink()
    print(
        table(
            ["run", "articles added", "texts embedded", "chunks of those articles",
             "chunks before", "chunks after", "old vectors unchanged", "search", "total s",
             "embedding s", "beyond embedding s"],
            rows,
        )
    )  # fmt: skip
    rate = texts / sum(embeds)
    beyond = median([t - e for t, e in zip(totals, embeds, strict=True)])
    print(
        f"\nmedian beyond embedding: {beyond:.2f} s"
        f" (of which loading the {kind} vector file alone takes {load_s:.2f} s and writing it"
        f" with fsync {save_s:.2f} s)"
    )
    print(
        f"baseline, a full rebuild: re-embeds all {args.chunks} chunks; at the {rate:.1f} "
        f"chunks/s embedded in this run that is {args.chunks / rate / 3600:.1f} hours"
    )
    footer()


if __name__ == "__main__":
    main()
