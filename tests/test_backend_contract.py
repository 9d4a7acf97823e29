"""The search-backend contract (index.backend): one routine every backend must pass.

A new backend adds itself to BACKENDS (a name and how to open it on a folder, or at a URI,
afresh or again); every test below then runs against it. Vectors are real all-MiniLM-L6-v2
vectors of news-like sentences, so an approximate search is held to a realistic recall.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from index.backend import Entry, SearchBackend
from index.embedder import Embedder
from index.local_backend import LocalBackend
from index.manifest import Layout
from index.records import Scope
from index.store import Store

Opener = Callable[[Path], SearchBackend]  # opens the backend kept at this place


def milvus_lite(folder: Path) -> SearchBackend:
    """Milvus Lite (milvus-lite 2.5.1, the Milvus engine in this process) on a file."""
    pytest.importorskip("pymilvus", reason='the Milvus extra: pip install -e ".[milvus]"')
    from index.milvus_backend import MilvusBackend

    folder.mkdir(parents=True, exist_ok=True)
    return MilvusBackend(str(folder / "milvus.db"), index_type="FLAT")


def local(search: str) -> Opener:
    """The local backend on a store of its own in the folder, closed with it."""

    def opened(folder: Path) -> SearchBackend:
        folder.mkdir(parents=True, exist_ok=True)
        store = Store(Layout(folder).store)
        backend = LocalBackend(store, folder, search=search)
        backend.close = store.close  # type: ignore[method-assign]
        return backend

    return opened


BACKENDS: dict[str, Opener] = {
    "local-flat": local("flat"),
    "local-hnsw": local("hnsw"),
    "milvus-lite": milvus_lite,
}
EXACT = {"local-flat", "milvus-lite"}  # the others are approximate: recall@10 >= 0.99
TOLERANCE = 2e-3  # of a stored cosine: float16 storage rounds a vector's components

CITIES = ["Kabul", "Herat", "Seoul", "Kyiv", "Odesa", "Mazar", "Kandahar", "Busan"]
TOPICS = [
    "wheat prices rose after the rains",
    "the border crossing reopened for trucks",
    "the ministry announced new school hours",
    "a flood damaged roads and bridges",
    "talks on a ceasefire resumed",
    "the central bank held its rate",
    "exports of dried fruit grew",
    "a power line was repaired",
]


def sentence(i: int) -> str:
    return f"In {CITIES[i % 8]}, {TOPICS[(i // 8) % 8]} on day {i}, officials said."


def published(i: int) -> str | None:
    """A quarter undated; the rest over January to March 2023, some with a time of day."""
    if i % 4 == 3:
        return None
    day = f"2023-{1 + i % 3:02d}-{1 + i % 28:02d}"
    return f"{day}T{i % 24:02d}:15:00" if i % 2 else day


@pytest.fixture(scope="module")
def corpus(real_embedder: Embedder) -> list[Entry]:
    texts = [sentence(i) for i in range(240)]
    texts += [
        "کابل: قیمت گندم پس از باران‌ها افزایش یافت",  # Persian, with a zero-width joiner
        "هرات: گذرگاه مرزی برای کامیون‌ها باز شد",
    ]
    vectors = real_embedder.embed_batch([f"Report\n{t}" for t in texts])
    return [
        Entry(
            id=i + 1,
            vector=vectors[i],
            text=f"Report {i + 1}\n{t}",
            article=f"a{i // 2}",  # two chunks an article
            published=published(i),
            source=["Pajhwok", "Ariana News", "TOLOnews"][i % 3],
            url=f"https://news{i % 5}.example/{i}",
        )
        for i, t in enumerate(texts)
    ]


@pytest.fixture(params=list(BACKENDS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def place(tmp_path: Path) -> Path:
    return tmp_path / "backend"


@pytest.fixture
def backend(kind: str, place: Path) -> Iterator[SearchBackend]:
    opened = BACKENDS[kind](place)
    yield opened
    opened.close()


@pytest.fixture
def filled(backend: SearchBackend, corpus: list[Entry]) -> SearchBackend:
    backend.upsert(corpus)
    backend.commit()
    return backend


def truth(corpus: list[Entry], query: np.ndarray) -> dict[int, float]:
    """Every entry's cosine to `query` by numpy."""
    matrix = np.stack([e.vector for e in corpus])
    return dict(zip((e.id for e in corpus), (matrix @ query).tolist(), strict=True))


def inside(e: Entry, scope: Scope) -> bool:
    """Whether `scope` holds the entry, as the contract says: dates inclusive by day,
    undated out of any date bound, source case-folded inside the source name or URL."""
    day = e.published[:10] if e.published else None
    if (scope.since or scope.until) and day is None:
        return False
    if scope.since and day is not None and day < scope.since:
        return False
    if scope.until and day is not None and day > scope.until:
        return False
    if scope.source:
        where = f"{e.source or ''} {e.url or ''}".casefold()
        return scope.source.casefold() in where
    return True


def test_an_empty_backend_returns_nothing(backend: SearchBackend, corpus: list[Entry]) -> None:
    assert backend.count() == 0
    assert backend.dense(corpus[0].vector, 5) == []
    assert backend.keyword("wheat prices", 5) == []
    assert backend.dense(corpus[0].vector, 5, Scope(since="2023-01-01")) == []


def test_dense_search_matches_numpy(
    kind: str, filled: SearchBackend, corpus: list[Entry], real_embedder: Embedder
) -> None:
    questions = ["Did wheat get dearer in Herat?", "When did the border reopen?", "flood"]
    questions += [f"What happened in {c}?" for c in CITIES]
    recalls = []
    for q in real_embedder.embed_batch(questions):
        cosines = truth(corpus, q)
        want = sorted(cosines, key=lambda i: -cosines[i])[:10]
        got = filled.dense(q, 10)
        assert len(got) == 10 and len({m.id for m in got}) == 10
        assert [m.score for m in got] == sorted((m.score for m in got), reverse=True)
        for m in got:
            assert abs(m.score - cosines[m.id]) < TOLERANCE, "the score is the cosine"
        if kind in EXACT:  # nothing better left out, beyond the storage's rounding
            assert min(cosines[m.id] for m in got) >= cosines[want[-1]] - TOLERANCE
        recalls.append(len({m.id for m in got} & set(want)) / 10)
    assert np.mean(recalls) >= 0.99


def test_k_above_the_count_gives_every_entry_and_no_padding(
    filled: SearchBackend, corpus: list[Entry]
) -> None:
    held = {e.id for e in corpus}
    got = filled.dense(corpus[0].vector, 10_000)
    assert len(got) == filled.count() == len(corpus) and {m.id for m in got} == held
    words = filled.keyword("officials said", 10_000)
    assert words and {m.id for m in words} <= held and len(words) == len({m.id for m in words})


def test_upserting_an_id_replaces_it(filled: SearchBackend, corpus: list[Entry]) -> None:
    old, other = corpus[5], corpus[100]
    filled.upsert([Entry(old.id, other.vector, "Report\nzebras crossed the okapi river", "z")])
    filled.commit()
    assert filled.count() == len(corpus)
    assert [m.id for m in filled.keyword("zebras okapi", 5)] == [old.id]
    assert old.id not in {m.id for m in filled.keyword(sentence(5), 50)}
    top = filled.dense(other.vector, 2)
    assert {m.id for m in top} == {old.id, other.id} and top[0].score > 1 - TOLERANCE
    np.testing.assert_allclose(filled.vectors([old.id])[0], other.vector, atol=TOLERANCE)


def test_a_deleted_id_leaves_both_searches(filled: SearchBackend, corpus: list[Entry]) -> None:
    gone = corpus[17]
    filled.delete([gone.id, 99_999])  # an id never held is passed over
    filled.commit()
    assert filled.count() == len(corpus) - 1
    assert gone.id not in {m.id for m in filled.dense(gone.vector, 10_000)}
    assert gone.id not in {m.id for m in filled.keyword(sentence(17), 10_000)}
    filled.upsert([gone])  # and comes back whole
    filled.commit()
    assert filled.dense(gone.vector, 1)[0].id == gone.id


@pytest.mark.parametrize(
    "text",
    [
        'NEAR("wheat" rains)',
        "wheat AND",
        "title: border*",
        '"""',
        "OR OR OR",
        "-flood ^said",
        "",
        "   ",
        "🙂 wheat",
        "x" * 5000,
        "گندم",
        "علي",  # Arabic yeh: the Persian text's letters fold to meet it
        "\u200c",
    ],
)
def test_hostile_and_persian_text_never_raises(filled: SearchBackend, text: str) -> None:
    for scope in (None, Scope(since="2023-02-01"), Scope(source="ariana")):
        found = filled.keyword(text, 5, scope)
        assert all(isinstance(m.id, int) and isinstance(m.score, float) for m in found)


def test_persian_letter_variants_meet(filled: SearchBackend, corpus: list[Entry]) -> None:
    persian = corpus[-2].id
    for query in ("گندم", "قيمت گندم", "کابل", "كابل"):  # Arabic kaf and yeh fold
        assert persian in {m.id for m in filled.keyword(query, 5)}, query


SCOPES = [
    Scope("2023-02-01", "2023-02-28"),
    Scope(until="2023-01-14"),
    Scope("2023-03-05", "2023-03-05"),
    Scope(since="2023-01-01"),  # every dated entry: most of the index
    Scope(source="ARIANA"),
    Scope(source="news3.example"),
    Scope(since="2023-02-10", source="tolonews"),
    Scope("2030-01-01"),
]


@pytest.mark.parametrize("scope", SCOPES, ids=str)
def test_a_scope_applies_inside_both_searches(
    filled: SearchBackend, corpus: list[Entry], scope: Scope
) -> None:
    """Dates inclusive (a time of day on the until day counts), undated entries out of a
    date bound, the source case-folded in the source or URL, and k results whenever k
    entries of the scope match."""
    held = {e.id for e in corpus if inside(e, scope)}
    for k in (1, 5, 40):
        dense = filled.dense(corpus[0].vector, k, scope)
        assert {m.id for m in dense} <= held
        assert len(dense) == min(k, len(held))
        words = filled.keyword("officials said", k, scope)  # every entry but two holds them
        assert {m.id for m in words} <= held
        assert len(words) == min(k, len(held - {corpus[-1].id, corpus[-2].id}))


def test_the_until_day_counts_whole(filled: SearchBackend, corpus: list[Entry]) -> None:
    timed = next(e for e in corpus if e.published and "T" in e.published)
    day = str(timed.published)[:10]
    found = filled.dense(timed.vector, 1, Scope(until=day, since=day))
    assert [m.id for m in found] == [timed.id]


def test_uncommitted_writes_are_invisible_and_a_commit_swaps_at_once(
    kind: str, place: Path, filled: SearchBackend, corpus: list[Entry]
) -> None:
    reader = BACKENDS[kind](place)
    try:
        assert reader.count() == len(corpus)
        first = reader.generation
        fresh = [
            Entry(1000 + e.id, e.vector, e.text + " fresh", e.article, e.published)
            for e in corpus[:50]
        ]
        filled.upsert(fresh)
        filled.delete([e.id for e in corpus[50:60]])
        assert not reader.refresh() and reader.count() == len(corpus)
        assert 1001 not in {m.id for m in reader.dense(corpus[0].vector, 5)}
        assert filled.commit() > first
        assert reader.count() == len(corpus), "a reader keeps its generation until it refreshes"
        assert reader.refresh() and reader.generation > first
        assert reader.count() == len(corpus) + 50 - 10, "the whole generation, at once"
        assert 1001 in {m.id for m in reader.dense(corpus[0].vector, 5)}
    finally:
        reader.close()


def test_reopening_gives_the_same_results(
    kind: str, place: Path, filled: SearchBackend, corpus: list[Entry]
) -> None:
    query = corpus[42].vector
    before = (filled.dense(query, 10), filled.keyword("wheat rains Herat", 10))
    scoped = filled.dense(query, 10, Scope(since="2023-02-01"))
    filled.close()
    again = BACKENDS[kind](place)
    try:
        assert (again.dense(query, 10), again.keyword("wheat rains Herat", 10)) == before
        assert again.dense(query, 10, Scope(since="2023-02-01")) == scoped
        assert again.count() == len(corpus)
    finally:
        again.close()


def test_a_backend_that_holds_payloads_keeps_the_manifest_of_each_commit(
    kind: str, place: Path, filled: SearchBackend, corpus: list[Entry]
) -> None:
    """What a replica reads first (index.replica): the manifest described before a commit,
    kept with it and read back by another instance; nothing from a backend that keeps none."""
    manifest = {"model": "m", "dimension": 384, "generation": filled.generation + 1}
    filled.describe(manifest)
    filled.delete([corpus[0].id])
    filled.commit()
    again = BACKENDS[kind](place)
    try:
        assert again.kept_manifest() == (manifest if filled.holds_payload else None)
    finally:
        again.close()


def test_two_threads_search_at_once(filled: SearchBackend, corpus: list[Entry]) -> None:
    scope = Scope(since="2023-02-01")
    want = [
        (filled.dense(e.vector, 10, scope), filled.keyword(sentence(i), 10))
        for i, e in enumerate(corpus[:20])
    ]
    got: dict[int, list[object]] = {0: [], 1: []}
    errors: list[BaseException] = []

    def search(slot: int) -> None:
        try:
            for _ in range(5):
                got[slot].append(
                    [
                        (filled.dense(e.vector, 10, scope), filled.keyword(sentence(i), 10))
                        for i, e in enumerate(corpus[:20])
                    ]
                )
        except BaseException as e:  # reported below, on the test's thread
            errors.append(e)

    threads = [threading.Thread(target=search, args=(slot,)) for slot in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(run == want for runs in got.values() for run in runs)
