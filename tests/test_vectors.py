"""The vector index: exact and HNSW search, removals from a graph, switching kind by size."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from index import vectors
from index.build import ingest, rebuild
from index.doctor import check
from index.embedder import Embedder
from index.errors import ConfigError
from index.reader import IndexReader
from index.records import Article
from index.settings import Settings
from index.vectors import VectorIndex, choose_search
from tests.conftest import DEMO_DIR, DEMO_QUESTION
from tests.fakes import HashingEmbedder, match_ids


def unit_rows(n: int, d: int = 32, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def brute_force(ids: np.ndarray, vecs: np.ndarray, q: np.ndarray, k: int) -> list[int]:
    scores = vecs @ q
    return [int(ids[i]) for i in np.argsort(-scores, kind="stable")[:k]]


def test_auto_is_flat_below_the_threshold_and_hnsw_from_it() -> None:
    assert choose_search(0) == "flat"
    assert choose_search(vectors.HNSW_FROM - 1) == "flat"
    assert choose_search(vectors.HNSW_FROM) == "hnsw"
    assert choose_search(10, "hnsw") == "hnsw"
    assert choose_search(10**7, "flat") == "flat"
    with pytest.raises(ConfigError, match="auto, flat, hnsw"):
        choose_search(10, "ivf")


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_search_equals_brute_force_on_a_small_index(kind: str) -> None:
    ids = np.arange(100, 400, dtype=np.int64)
    vecs = unit_rows(len(ids))
    index = VectorIndex.build(ids, vecs, 32, kind)
    assert index.kind == kind and len(index) == 300 and index.dimension == 32
    for q in unit_rows(20, seed=1):
        got = [cid for cid, _ in index.search(q, 10)]
        assert got == brute_force(ids, vecs, q, 10)
    cid, score = index.search(vecs[7], 1)[0]
    # Flat holds float16: each vector exactly as float16 rounds it, a cosine off by ~1e-4.
    held = vecs.astype(np.float16).astype(np.float32) if kind == "flat" else vecs
    assert cid == 107 and score == pytest.approx(1.0, abs=1e-4 if kind == "flat" else 1e-5)
    np.testing.assert_array_equal(index.vectors_of([107, 399]), held[[7, 299]])


def test_a_float32_flat_file_of_an_older_store_still_loads_searches_and_grows(
    tmp_path: Path,
) -> None:
    """Stores written before flat search went float16 hold an IndexFlatIP: still read as
    flat, exact to float32, added to; the float16 file is half its size."""
    import faiss

    ids = np.arange(1, 201, dtype=np.int64)
    vecs = unit_rows(200)
    old = faiss.IndexIDMap2(faiss.IndexFlatIP(32))
    old.add_with_ids(vecs, ids)
    faiss.write_index(old, str(tmp_path / "old.faiss"))
    index = VectorIndex.load(tmp_path / "old.faiss")
    assert index.kind == "flat" and len(index) == 200
    for q in unit_rows(5, seed=1):
        got = index.search(q, 10)
        assert [c for c, _ in got] == brute_force(ids, vecs, q, 10)
        assert all(abs(s - float(vecs[c - 1] @ q)) < 1e-6 for c, s in got)
    index.add(np.array([500]), unit_rows(1, seed=2))
    assert len(index) == 201 and index.search(unit_rows(1, seed=2)[0], 1)[0][0] == 500
    VectorIndex.build(ids, vecs, 32).save(tmp_path / "new.faiss")
    new_size, old_size = (
        (tmp_path / "new.faiss").stat().st_size,
        (tmp_path / "old.faiss").stat().st_size,
    )
    assert new_size < 0.6 * old_size


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_k_larger_than_the_index_and_an_empty_index(kind: str) -> None:
    assert VectorIndex.empty(8, kind).search(unit_rows(1, 8)[0], 5) == []
    index = VectorIndex.build(np.array([1, 2, 3]), unit_rows(3, 8), 8, kind)
    assert sorted(cid for cid, _ in index.search(unit_rows(1, 8, seed=2)[0], 50)) == [1, 2, 3]


def test_removed_vectors_leave_an_hnsw_graph_for_good(tmp_path: Path) -> None:
    ids = np.arange(1, 201, dtype=np.int64)
    vecs = unit_rows(200)
    index = VectorIndex.build(ids, vecs, 32, "hnsw")
    gone = list(range(1, 201, 4))  # 50 of 200: a quarter, over the share that rebuilds
    index.remove(gone)
    index.remove([1, 999])  # already removed, never present: nothing happens
    assert len(index) == 150
    assert sorted(index.ids().tolist()) == sorted(set(range(1, 201)) - set(gone))
    with pytest.raises(RuntimeError):
        index.vectors_of([1])
    path = tmp_path / "v.faiss"
    index.save(path)
    loaded = VectorIndex.load(path)
    assert loaded.kind == "hnsw" and len(loaded) == 150
    live = np.isin(ids, gone, invert=True)
    for q in [vecs[0], vecs[4], *unit_rows(10, seed=3)]:
        got = [cid for cid, _ in loaded.search(q, 20)]
        assert len(got) == 20 and not set(got) & set(gone)
        assert got == brute_force(ids[live], vecs[live], q, 20)
    compacted = loaded.with_search("auto" if len(loaded) >= vectors.HNSW_FROM else "hnsw")
    assert compacted is not loaded and compacted.kind == "hnsw" and len(compacted) == 150
    assert compacted.ids().tolist() == ids[live].tolist()
    np.testing.assert_allclose(compacted.vectors_of([2, 200]), vecs[[1, 199]])
    assert compacted.with_search("hnsw") is compacted  # nothing to do


def test_with_search_converts_keeping_every_id_and_vector() -> None:
    ids = np.arange(10, 60, dtype=np.int64)
    vecs = unit_rows(50)
    flat = VectorIndex.build(ids, vecs, 32)
    assert flat.kind == "flat" and flat.with_search("auto") is flat
    # From the stored float32 vectors where given; else from the flat index's float16.
    hnsw = flat.with_search("hnsw", lambda: (ids, vecs))
    assert hnsw.kind == "hnsw" and hnsw.ids().tolist() == ids.tolist()
    np.testing.assert_array_equal(hnsw.vectors_of(ids.tolist()), vecs)
    rounded = flat.with_search("hnsw")
    np.testing.assert_array_equal(
        rounded.vectors_of(ids.tolist()), vecs.astype(np.float16).astype(np.float32)
    )
    back = hnsw.with_search("flat")
    assert back.kind == "flat" and back.ids().tolist() == ids.tolist()


def test_hnsw_finds_the_exact_top_ten_of_real_embeddings(real_embedder: Embedder) -> None:
    """On MiniLM vectors of real sentences, HNSW returns what exact search returns."""
    from index.sentences import split_sentences

    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(DEMO_DIR.iterdir()))
    spans = split_sentences(text, "en")
    words = text.split()
    # Sentences, and windows of 12 words across them: a few hundred real, overlapping texts.
    texts = [text[s:e] for s, e in spans] + [
        " ".join(words[i : i + 12]) for i in range(0, len(words) - 12, 2)
    ]
    vecs = real_embedder.embed_batch(texts)
    ids = np.arange(1, len(texts) + 1, dtype=np.int64)
    exact = VectorIndex.build(ids, vecs, real_embedder.dimension, "flat")
    approx = VectorIndex.build(ids, vecs, real_embedder.dimension, "hnsw")
    questions = [DEMO_QUESTION, "Who visited Seoul?", "What did NATO ask of South Korea?"]
    for q in real_embedder.embed_batch(questions):
        top_exact = [cid for cid, _ in exact.search(q, 10)]
        top_approx = [cid for cid, _ in approx.search(q, 10)]
        assert top_approx == top_exact


def _article(i: int, extra: str = "") -> Article:
    text = (
        f"Dispatch {i} reports the flood on river {i}. Farmers near bridge {i} lost "
        f"their harvest. The council met on day {i} to plan repairs.{extra}"
    )
    return Article(id=f"d{i}", title=f"Flood {i}", text=text)


def test_ingest_switches_to_hnsw_past_the_threshold_and_rebuild_can_go_back(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "HNSW_FROM", 8)
    embedder = HashingEmbedder()
    ingest(settings, [_article(i) for i in range(3)], lambda _m: embedder)
    with closing(IndexReader(settings.index_dir)) as reader:
        assert reader.manifest.search == "flat"
    ingest(settings, [_article(i) for i in range(3, 12)], lambda _m: embedder)
    ingest(settings, [_article(1, " It rained again.")], lambda _m: embedder)  # an update
    with closing(IndexReader(settings.index_dir)) as reader:
        m = reader.manifest
        assert m.search == "hnsw" and m.chunks >= 8
        assert reader.stats().search == "hnsw"
        q = embedder.embed_query("flood on river 5")
        ids = set(match_ids(reader.dense(q, 100)))
        stored_ids, stored = reader.store.vectors(m.dimension)
        assert ids == set(stored_ids.tolist())
        # The graph was built from the store's float32 vectors, not the flat index's float16.
        np.testing.assert_array_equal(reader.vectors_of(stored_ids.tolist()), stored)
    assert check(settings.index_dir) == []
    rebuild(settings, lambda _m: embedder, search="flat")
    with closing(IndexReader(settings.index_dir)) as reader:
        assert reader.manifest.search == "flat"
    assert check(settings.index_dir) == []


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_search_among_a_scope_is_exact_and_skips_what_is_gone(kind: str) -> None:
    """A scope's search scores only its chunks, exactly, in either kind of index: after
    removals (tombstones in a graph), additions, and with ids the index never held."""
    ids = np.arange(10, 1010, dtype=np.int64)
    vecs = unit_rows(1000, seed=3)
    index = VectorIndex.build(ids, vecs, 32, kind)
    index.remove(ids[:100])  # chunks of a replaced article
    index.add(np.arange(5000, 5050, dtype=np.int64), unit_rows(50, seed=4))
    scope = np.concatenate([ids[50:400], np.arange(5000, 5010), [77_777, 3]])
    held = {int(i): v for i, v in zip(ids, vecs, strict=True)} | {
        int(i): v for i, v in zip(np.arange(5000, 5050), unit_rows(50, seed=4), strict=True)
    }
    inside = np.array([i for i in scope if i in held and i >= 110], dtype=np.int64)
    for q in unit_rows(5, seed=5):
        got = index.search_among(q, scope, 20)
        want = brute_force(inside, np.stack([held[int(i)] for i in inside]), q, 20)
        assert [c for c, _ in got] == want
        close = 1e-4 if kind == "flat" else 1e-5  # flat scores float16 vectors
        assert all(abs(s - float(held[c] @ q)) < close for c, s in got)
    assert len(index.search_among(unit_rows(1, seed=6)[0], scope, 10_000)) == len(inside)
    assert index.search_among(unit_rows(1, seed=6)[0], np.array([77_777, 12]), 5) == []
    empty = VectorIndex.empty(32, kind)
    assert empty.search_among(unit_rows(1, seed=6)[0], scope, 5) == []
