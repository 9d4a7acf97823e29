"""Keyword search takes any user text: FTS5 syntax in a question is searched, never parsed."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.build import ingest
from index.keyword_search import KeywordSearch
from index.reader import IndexReader
from index.records import Article
from index.settings import Settings
from qa.answer import EmptyQuestion, Question
from qa.retriever import Retriever
from tests.fakes import HashingEmbedder

ARTICLES = [
    Article(id="a", title="Ports", text="The port of Odessa reopened for grain ships."),
    Article(id="b", title="Talks", text='He said "NEAR peace AND war" was a column: title*.'),
    Article(id="c", title="علی", text="كتاب‌های علي در تهران چاپ شد؟ بله."),
]

# Pieces of FTS5 query syntax, mixed into arbitrary text below.
SYNTAX = [
    '"', "'", "*", "^", ":", "(", ")", "{", "}", "[", "]", "-", "+", ",", ".", "\\", "NEAR",
    "NEAR(", "AND", "OR", "NOT", "body:", "chunks_fts:", "rank", "bm25(", "\x00", "\u200c",
    "\ufeff", "ـ", "\u0301", "٪", "؟", "،", "_", "__", "*OR*", "NEAR/3",
]  # fmt: skip


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> IndexReader:
    folder = tmp_path_factory.mktemp("fts") / "index"
    embedder = HashingEmbedder()
    ingest(Settings.from_env({}, index_dir=folder), ARTICLES, lambda _m: embedder)
    return IndexReader(folder)


user_text = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.sampled_from(SYNTAX), st.text(max_size=8)), max_size=30).map(" ".join),
    st.lists(st.sampled_from(SYNTAX), max_size=12).map("".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=user_text)
def test_keyword_search_never_raises(reader: IndexReader, text: str) -> None:
    hits = reader.keyword(text, 5)
    assert all(isinstance(m.id, int) and isinstance(m.score, float) for m in hits)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=user_text)
def test_keyword_search_under_a_tight_budget_never_raises(reader: IndexReader, text: str) -> None:
    """Choosing the rarest words runs a MATCH per word: each must be as safe as the query."""
    hits = KeywordSearch(reader.store.connection).search(text, 5, budget=1)
    assert all(isinstance(cid, int) and isinstance(score, float) for cid, score in hits)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=user_text)
def test_retrieval_never_raises(reader: IndexReader, text: str) -> None:
    try:
        question = Question.parse(text, 3)
    except EmptyQuestion:
        return
    _, hits = Retriever(reader, HashingEmbedder()).embed_and_search(question)
    assert len(hits) <= 3


@pytest.mark.parametrize(
    "text",
    ['NEAR("peace" war)', "peace AND", "title: peace*", "AND AND", "body:column", "-war ^said"],
)
def test_syntax_is_searched_as_words(reader: IndexReader, text: str) -> None:
    """Each of these holds a word of article b; the operators around it are words too."""
    hits = reader.keyword(text, 3)
    assert "b" in {c.article_id for c in reader.chunks([m.id for m in hits]).values()}


@pytest.mark.parametrize("text", ['"""', "OR OR OR", "*", "NOT", "NEAR/3"])
def test_bare_operators_do_not_raise(reader: IndexReader, text: str) -> None:
    reader.keyword(text, 3)


def test_persian_variants_meet(reader: IndexReader) -> None:
    """Arabic yeh/kaf and a zero-width non-joiner fold to what the Persian text holds."""
    for query in ("علی", "علي", "کتاب", "كتاب", "کتاب\u200cهای"):
        hits = reader.keyword(query, 3)
        articles = {c.article_id for c in reader.chunks([m.id for m in hits]).values()}
        assert "c" in articles, query


def test_empty_and_punctuation_only_queries_find_nothing(reader: IndexReader) -> None:
    for text in ("", "   ", '"', "***", "؟،", "\u200c"):
        assert reader.keyword(text, 5) == []


def test_keyword_k_zero(reader: IndexReader) -> None:
    assert reader.keyword("port", 0) == []
