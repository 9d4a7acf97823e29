"""Ingest, incremental updates, duplicates, rebuild and the model-mismatch refusal.

These use the deterministic hashing embedder: they test the bookkeeping, not the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.build import ingest, rebuild
from index.errors import IndexMismatch, IndexMissing
from index.reader import IndexReader
from index.records import Article, ReadFailure
from index.settings import Settings
from qa.engine import Engine
from tests.fakes import HashingEmbedder, match_ids


def article(i: int, extra: str = "") -> Article:
    text = (
        f"Report {i} opens with a sentence about river number {i}. "
        f"The second sentence of report {i} mentions harvest and rain. "
        f"A third sentence closes story {i}.{extra}"
    )
    return Article(id=f"a{i}", title=f"Story {i}", text=text, published=f"2023-01-{i + 1:02d}")


def run(settings: Settings, embedder: HashingEmbedder, items: list[Article | ReadFailure]):
    return ingest(settings, items, lambda _model: embedder)


def consistent(folder: Path) -> IndexReader:
    """The index opens and its FAISS file agrees with its chunk rows."""
    reader = IndexReader(folder)
    ids, _ = reader.store.vectors(reader.manifest.dimension)
    assert reader.vector_count() == len(ids) == reader.manifest.chunks
    assert reader.store.counts() == (reader.manifest.articles, reader.manifest.chunks)
    return reader


def test_unchanged_articles_are_not_embedded_again(settings: Settings) -> None:
    embedder = HashingEmbedder()
    first = run(settings, embedder, [article(i) for i in range(3)])
    assert (first.added, first.updated, first.unchanged) == (3, 0, 0)
    assert embedder.embedded == first.chunks > 0
    calls = len(embedder.calls)
    again = run(settings, embedder, [article(i) for i in range(3)])
    assert (again.added, again.updated, again.unchanged, again.chunks) == (0, 0, 3, 0)
    assert len(embedder.calls) == calls, "nothing was embedded"
    consistent(settings.index_dir).close()


def test_changed_article_replaces_its_chunks(settings: Settings) -> None:
    embedder = HashingEmbedder()
    run(settings, embedder, [article(i) for i in range(3)])
    reader = IndexReader(settings.index_dir)
    old_ids = {
        cid
        for cid in match_ids(reader.keyword("river number 1", 50))
        if reader.chunks([cid])[cid].article_id == "a1"
    }
    reader.close()
    assert old_ids
    before = embedder.embedded
    changed = Article(id="a1", title="Story 1", text="Completely new text about volcanoes.")
    report = run(settings, embedder, [article(0), changed, article(2)])
    assert (report.added, report.updated, report.unchanged) == (0, 1, 2)
    assert embedder.embedded - before == report.chunks == 1
    reader = consistent(settings.index_dir)
    assert reader.chunks(list(old_ids)) == {}, "the old chunks are gone from the store"
    assert not set(match_ids(reader.keyword("river number 1", 50))) & old_ids
    dense_ids = {
        cid for cid in match_ids(reader.dense(embedder.embed_query("river number 1"), 100))
    }
    assert not dense_ids & old_ids, "and from the vector index"
    (hit,) = reader.keyword("volcanoes", 5)
    assert reader.chunks([hit.id])[hit.id].article_id == "a1"
    reader.close()


def test_same_text_under_two_ids_is_stored_once(settings: Settings) -> None:
    embedder = HashingEmbedder()
    a = article(1)
    copy = Article(id="mirror", title="Mirror", text=a.text, url="https://mirror/1")
    report = run(settings, embedder, [a, copy])
    assert (report.added, report.duplicate) == (1, 1)
    report = run(settings, embedder, [copy])
    assert (report.added, report.duplicate) == (0, 1)
    reader = consistent(settings.index_dir)
    assert reader.manifest.articles == 1
    reader.close()


def test_failures_are_counted_and_the_rest_ingested(settings: Settings) -> None:
    embedder = HashingEmbedder()
    items = [article(0), ReadFailure("bad.jsonl:3", "invalid JSON"), article(1)]
    report = run(settings, embedder, items)
    assert (report.added, report.failed) == (2, 1)
    assert [str(f) for f in report.failures] == ["bad.jsonl:3: invalid JSON"]


def test_bad_input_leaves_stored_articles_untouched(settings: Settings) -> None:
    embedder = HashingEmbedder()
    run(settings, embedder, [article(0), article(1)])
    reader = IndexReader(settings.index_dir)
    before = {a.id: a for a in reader.store.articles()}
    reader.close()
    run(settings, embedder, [ReadFailure("x.json", "invalid JSON")])
    reader = consistent(settings.index_dir)
    assert {a.id: a for a in reader.store.articles()} == before
    reader.close()


def test_empty_corpus_gives_a_clear_message(settings: Settings) -> None:
    report = run(settings, HashingEmbedder(), [])
    assert report.added == 0
    with pytest.raises(IndexMissing, match="qa ingest"):
        IndexReader(settings.index_dir)
    with pytest.raises(IndexMissing, match="qa ingest"):
        IndexReader(settings.index_dir.parent / "never-made")


def test_model_mismatch_is_refused_with_the_command_to_run(settings: Settings) -> None:
    embedder = HashingEmbedder()
    run(settings, embedder, [article(0)])
    other = settings.with_(model="someone/other-model")
    with pytest.raises(IndexMismatch, match="qa rebuild"):
        run(other, embedder, [article(1)])
    with pytest.raises(IndexMismatch, match="qa rebuild"):
        Engine(other, lambda _m: embedder)
    with pytest.raises(IndexMismatch, match="qa rebuild"):
        run(settings.with_(chunk_tokens=64), embedder, [article(1)])
    wrong_dim = HashingEmbedder(dimension=32)
    with pytest.raises(IndexMismatch, match="dimension"):
        Engine(settings, lambda _m: wrong_dim)


def test_rebuild_rechunks_and_switches_model(settings: Settings) -> None:
    embedder = HashingEmbedder()
    run(settings, embedder, [article(i, " More words follow here." * 20) for i in range(4)])
    reader = IndexReader(settings.index_dir)
    chunks_before, generation = reader.manifest.chunks, reader.manifest.generation
    reader.close()

    report = rebuild(settings.with_(chunk_tokens=32, chunk_overlap=8), lambda _m: embedder)
    assert report.updated == 4
    reader = consistent(settings.index_dir)
    assert reader.manifest.chunk_tokens == 32
    assert reader.manifest.chunks > chunks_before
    assert reader.manifest.generation == generation + 1
    reader.close()

    small = HashingEmbedder(dimension=32, name="test/small")
    rebuild(settings.with_(model="test/small"), lambda _m: small)
    reader = consistent(settings.index_dir)
    assert (reader.manifest.model, reader.manifest.dimension) == ("test/small", 32)
    reader.close()
    engine = Engine(settings, lambda _m: small)
    answer = engine.ask("harvest and rain in report 2")
    assert answer.passages and answer.passages[0].article_id == "a2"
    engine.close()


def test_dense_search_equals_brute_force(settings: Settings) -> None:
    """The oracle: FAISS results are numpy's `vectors @ q` ranking on the same vectors
    (the store's, as float16 rounds them: what a flat index holds)."""
    embedder = HashingEmbedder()
    run(settings, embedder, [article(i, f" Extra {i * 7} words {i % 5}.") for i in range(60)])
    reader = consistent(settings.index_dir)
    assert reader.manifest.search == "flat"
    ids, vectors = reader.store.vectors(reader.manifest.dimension)
    vectors = vectors.astype(np.float16).astype(np.float32)
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = rng.normal(size=reader.manifest.dimension).astype(np.float32)
        q /= np.linalg.norm(q)
        scores = vectors @ q
        want = ids[np.argsort(-scores, kind="stable")[:10]]
        got = reader.dense(q, 10)
        assert match_ids(got) == list(want)
        np.testing.assert_allclose([m.score for m in got], np.sort(scores)[::-1][:10], atol=1e-6)
    everything = reader.dense(q, 10_000)  # k beyond the index: no -1 padding leaks out
    assert len(everything) == len(ids) and all(m.id >= 0 for m in everything)
    reader.close()


def test_reader_follows_a_newer_generation(settings: Settings) -> None:
    embedder = HashingEmbedder()
    run(settings, embedder, [article(0)])
    engine = Engine(settings, lambda _m: embedder)
    assert engine.stats().articles == 1
    run(settings, embedder, [article(1), article(2)])
    assert engine.stats().articles == 3
    answer = engine.ask("river number 2")
    assert any(p.article_id == "a2" for p in answer.passages)
    engine.close()
