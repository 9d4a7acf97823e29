"""Quote selection: evidence scoring, one slot per sentence, distinct stories, exact offsets."""

from __future__ import annotations

import itertools

import numpy as np

from index.records import StoredChunk
from index.sentences import split_sentences
from qa.abstain import AbstentionSettings, decide
from qa.answer import Hit, Question
from qa.quotes import (
    QuoteSettings,
    SentenceVectors,
    content_terms,
    order_passages,
    pick_quotes,
    score_sentences,
    select_quotes,
)
from tests.fakes import HashingEmbedder


def chunk(cid: int, article: str, text: str, story: int | None = None) -> StoredChunk:
    return StoredChunk(
        id=cid,
        article_id=article,
        title=article,
        url=None,
        published=None,
        source=None,
        text=text,
        start=0,
        end=len(text),
        sentences=tuple(split_sentences(text, "en")),
        story=story,
    )


def hits_of(*chunks: StoredChunk) -> list[Hit]:
    return [Hit(chunk=c, score=1.0 / (n + 1), cosine=0.5) for n, c in enumerate(chunks)]


def test_content_terms_drop_stopwords_and_stem() -> None:
    assert content_terms("What was invented in the 1900s?") == {"inven", "1900s"}
    assert content_terms("Who invented it") & content_terms("the invention")


def test_best_sentence_is_the_one_with_the_rare_words() -> None:
    e = HashingEmbedder()
    text = "Ports reopened. The grain deal was signed in Istanbul by Ukraine. Ships left."
    hits = hits_of(chunk(1, "a", text))
    q = Question.parse("Where was the grain deal signed?")
    scored = score_sentences(q, e.embed_query(q.text), hits, e)
    assert scored[0].text == "The grain deal was signed in Istanbul by Ukraine."
    assert all(a.score >= b.score for a, b in itertools.pairwise(scored))
    for s in scored:
        assert text[s.start : s.end] == s.text


def test_same_sentence_in_two_passages_competes_once() -> None:
    e = HashingEmbedder()
    shared = "The grain deal was signed in Istanbul."
    hits = hits_of(chunk(1, "a", shared + " More."), chunk(2, "b", shared))
    q = Question.parse("Where was the grain deal signed?")
    scored = score_sentences(q, e.embed_query(q.text), hits, e)
    assert [s.text for s in scored].count(shared) == 1


def test_later_quotes_prefer_other_stories() -> None:
    e = HashingEmbedder()
    a = chunk(
        1, "a", "Grain deal signed in Istanbul. Grain deal talks in Istanbul went on.", story=1
    )
    b = chunk(2, "b", "A grain deal for Istanbul was welcomed.", story=2)
    q = Question.parse("grain deal Istanbul")
    quotes = select_quotes(q, e.embed_query(q.text), hits_of(a, b), e, QuoteSettings(keep_ratio=0))
    assert len(quotes) == 3
    assert quotes[1].article_id == "b", "the second slot goes to the other story"
    two = select_quotes(
        q, e.embed_query(q.text), hits_of(a, b), e, QuoteSettings(keep_ratio=0, max_quotes=2)
    )
    assert {x.article_id for x in two} == {"a", "b"}


def test_passages_are_ordered_by_their_best_sentence() -> None:
    e = HashingEmbedder()
    weak = chunk(1, "a", "Nothing here about it.")
    strong = chunk(2, "b", "The grain deal was signed in Istanbul.")
    other = chunk(3, "c", "Unscored passage.")
    hits = hits_of(weak, strong, other)
    q = Question.parse("Where was the grain deal signed?")
    scored = score_sentences(q, e.embed_query(q.text), hits, e, QuoteSettings(passages=2))
    assert [h.chunk.id for h in order_passages(hits, scored)] == [2, 1, 3]


def test_sentence_cache_gives_the_same_vectors_and_stays_bounded() -> None:
    e = HashingEmbedder()
    cache = SentenceVectors(e, size=2)
    first = cache(["one two", "three four"])
    assert np.allclose(first, e.embed_batch(["one two", "three four"]))
    calls = e.embedded
    again = cache(["one two", "three four"])
    assert e.embedded == calls, "cached sentences are not embedded again"
    assert np.allclose(first, again)
    cache(["five six"])
    assert len(cache._cache) == 2
    assert cache([]).shape == (0, e.dimension)
    assert np.allclose(SentenceVectors(e, size=0)(["one two"]), first[:1])


def test_no_sentences_means_abstain() -> None:
    assert decide([]).abstained
    e = HashingEmbedder()
    hits = hits_of(chunk(1, "a", "The grain deal was signed in Istanbul."))
    q = Question.parse("grain deal Istanbul")
    scored = score_sentences(q, e.embed_query(q.text), hits, e)
    assert not decide(scored, AbstentionSettings(min_support=0.0)).abstained
    assert decide(scored, AbstentionSettings(min_support=99.0)).abstained
    assert pick_quotes([]) == []
