"""The keyword query: stopwords out, the rarest words required within a postings budget."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from index.keyword_query import match_expression, query_terms, split
from index.keyword_search import KeywordSearch
from index.local_backend import LocalBackend
from index.manifest import Layout
from index.records import Article, Chunk
from index.store import Store


def test_stopwords_are_left_out() -> None:
    assert query_terms("What is the capital of France?") == ["capital", "france"]
    assert query_terms("پایتخت اسپانیا کجاست؟ در كجا است") == ["پایتخت", "اسپانیا", "کجاست"]


def test_a_question_of_stopwords_only_keeps_all_its_words() -> None:
    assert query_terms("What is it?") == ["what", "is", "it"]
    assert query_terms("the THE the") == ["the"]
    assert query_terms("؟ ...") == []


def test_split_by_the_budget() -> None:
    df = {"a": 50, "bb": 5, "c": 0, "d": 20}.__getitem__
    words = ["a", "bb", "c", "d"]
    assert split(words, df, 100) == (["bb", "d", "a"], []), "rarest first, in no chunk: out"
    assert split(words, df, 25) == (["bb", "d"], ["a"])
    assert split(words, df, 1) == (["bb"], ["d", "a"]), "the rarest is required past the budget"
    assert split(["c"], df, 10) == ([], [])


def test_split_ties_at_the_cap_prefer_longer_words() -> None:
    df = {"war": 11, "ceasefire": 11, "talks": 11}.__getitem__  # all counted up to a cap of 11
    assert split(["war", "talks", "ceasefire"], df, 10) == (["ceasefire"], ["talks", "war"])


def test_match_expression_quotes_every_word() -> None:
    assert match_expression(["near", 'a"b', "or"]) == '"near" OR "a""b" OR "or"'
    assert match_expression(["x"], ["y", "z"]) == '("x") AND ("x" OR "y" OR "z")'


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """Chunks in which 'harbour' is common and 'odessa', 'grain' and 'ukraine' are rare."""
    store = Store(Layout(tmp_path_factory.mktemp("kw")).store)
    texts = [f"The {'harbour' if n < 12 else 'market'} was quiet on day {n}." for n in range(30)]
    texts += ["Grain ships left the harbour of Odessa.", "What is it? It is what it is."]
    texts += ["Ukraine sent grain by the harbour road.", "Ukraine sent grain by the river."]
    with store.transaction():
        for n, text in enumerate(texts):
            article = Article(id=f"a{n}", title=f"Report {n}", text=text)
            rowid = store.put_article(article, "2024-01-01T00:00:00+00:00")
            chunk = Chunk(0, 0, len(text), ((0, len(text)),), len(text) // 5)
            store.add_chunks(rowid, article, [chunk], np.ones((1, 2), np.float32))
        search = LocalBackend(store, store.path.parent)
        search.upsert(list(store.entries(2)))  # the keyword rows: the local backend's
        search.commit()
    yield store
    store.close()


def article_ids(store: Store, hits: list[tuple[int, float]]) -> list[str]:
    chunks = store.chunks([cid for cid, _ in hits])
    return [chunks[cid].article_id for cid, _ in hits]


def test_a_stopword_only_question_still_finds(store: Store) -> None:
    assert article_ids(store, KeywordSearch(store.connection).search("what is it", 5))[0] == "a31"


def test_the_budget_requires_the_rare_words(store: Store) -> None:
    assert len(KeywordSearch(store.connection).search("odessa harbour", 50)) == 14, (
        "within the budget: any word finds"
    )
    assert article_ids(
        store, KeywordSearch(store.connection).search("odessa harbour", 50, budget=1)
    ) == ["a30"]
    assert KeywordSearch(store.connection).search("harbour", 50, budget=1), (
        "one word whatever its count"
    )
    assert KeywordSearch(store.connection).search("zebra harbour", 50, budget=1), (
        "a word in no chunk does not count"
    )
    assert KeywordSearch(store.connection).search("zebra okapi", 50) == []


def test_common_words_still_rank_where_the_rare_ones_are(store: Store) -> None:
    """Both chunks hold the rare word; the one that also holds the common word wins."""
    assert article_ids(
        store, KeywordSearch(store.connection).search("ukraine harbour", 50, budget=2)
    ) == [
        "a32",
        "a33",
    ]
