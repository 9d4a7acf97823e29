"""Quote selection: evidence scoring, one slot per sentence, distinct stories, exact offsets."""

from __future__ import annotations

import itertools

import numpy as np

from index.records import StoredChunk
from index.sentences import split_sentences
from qa.abstain import AbstentionSettings, decide
from qa.answer import Hit, Question, Quote
from qa.quotes import (
    QuoteSettings,
    SentenceVectors,
    content_terms,
    order_passages,
    pick_quotes,
    score_sentences,
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


def select_quotes(
    question: Question,
    query: np.ndarray,
    hits: list[Hit],
    vectors: HashingEmbedder,
    settings: QuoteSettings | None = None,
) -> list[Quote]:
    """What the engine does: score every sentence, then pick the quotes."""
    return pick_quotes(score_sentences(question, query, hits, vectors, settings), settings)


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
    apart = QuoteSettings(keep_ratio=0, join_ratio=2.0)  # adjacent sentences are not joined
    quotes = select_quotes(q, e.embed_query(q.text), hits_of(a, b), e, apart)
    assert len(quotes) == 3
    assert quotes[1].article_id == "b", "the second slot goes to the other story"
    two = select_quotes(
        q,
        e.embed_query(q.text),
        hits_of(a, b),
        e,
        QuoteSettings(keep_ratio=0, max_quotes=2, join_ratio=2.0),
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


def test_an_article_keeps_the_passage_whose_sentence_answers_best() -> None:
    """One slot an article: its passage holding the best sentence, not its first retrieved."""
    e = HashingEmbedder()
    weak = chunk(1, "a", "Nothing here about it.")
    strong = chunk(2, "a", "Other news came. The grain deal was signed in Istanbul.")
    other = chunk(3, "b", "Talks on grain went on.")
    hits = hits_of(weak, strong, other)
    q = Question.parse("Where was the grain deal signed?")
    scored = score_sentences(q, e.embed_query(q.text), hits, e)
    assert [h.chunk.id for h in order_passages(hits, scored, per_article=1)] == [2, 3, 1]


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
    assert len(cache) == 2
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


def test_adjacent_sentences_that_answer_together_are_one_quote() -> None:
    e = HashingEmbedder()
    text = (
        "Weather was mild. The grain deal was signed in Istanbul. "
        "The Istanbul grain deal covers Odesa."
        "\nThe grain deal was praised in Istanbul."
    )
    a = chunk(1, "a", text)
    q = Question.parse("grain deal Istanbul")
    quotes = select_quotes(q, e.embed_query(q.text), hits_of(a), e, QuoteSettings(keep_ratio=0))
    first = quotes[0]
    assert first.text == text[first.start : first.end], "joined quotes keep exact offsets"
    assert "\n" not in first.text, "a quote never crosses a paragraph break"
    assert first.text.count("grain deal") == 2, first.text
    assert not first.text.startswith("Weather"), "a weak neighbour stays out"
    alone = select_quotes(q, e.embed_query(q.text), hits_of(a), e, QuoteSettings(join_ratio=2.0))
    assert alone[0].text.count(".") == 1, "with joining off, a quote is one sentence"


def test_a_sentence_holding_what_the_question_asks_for_goes_first() -> None:
    e = HashingEmbedder()
    text = "Doctor Who has appeared on stage. Trevor Martin played Doctor Who on stage."
    q = Question.parse("Who played Doctor Who on stage?")
    plain = QuoteSettings(type_weight=0.0, join_ratio=2.0)
    typed = QuoteSettings(type_weight=1.0, join_ratio=2.0)
    hits = hits_of(chunk(1, "a", text))
    assert select_quotes(q, e.embed_query(q.text), hits, e, typed)[0].text.startswith("Trevor")
    baseline = select_quotes(q, e.embed_query(q.text), hits, e, plain)[0]
    assert baseline.score < select_quotes(q, e.embed_query(q.text), hits, e, typed)[0].score


def test_stored_sentence_vectors_are_used_without_embedding() -> None:
    e = HashingEmbedder()
    text = "Ports reopened. The grain deal was signed in Istanbul."
    c = chunk(1, "a", text)
    rows = e.embed_batch([c.sentence_text(s, t) for s, t in c.sentences])
    vectors = SentenceVectors(e, size=0, stored=lambda ids: {1: rows} if 1 in ids else {})
    q = Question.parse("Where was the grain deal signed?")
    calls = e.embedded
    scored = score_sentences(q, e.embed_query(q.text), hits_of(c), vectors)
    assert e.embedded == calls + 1, "only the question was embedded"
    assert scored[0].text == "The grain deal was signed in Istanbul."


def test_a_sentence_that_is_a_question_is_not_the_answer() -> None:
    """A newsletter prints the week's quiz question word for word; the answer is elsewhere."""
    from qa.quotes import is_question

    e = HashingEmbedder()
    quiz = chunk(1, "letter", "Which team signed Damar Hamlin? Find out on page two.")
    story = chunk(2, "story", "Damar Hamlin plays safety for the Buffalo Bills team.")
    q = Question.parse("Which team does Damar Hamlin play for?")
    hits = hits_of(quiz, story)
    scored = score_sentences(q, e.embed_query(q.text), hits, e)
    assert scored[0].text == "Damar Hamlin plays safety for the Buffalo Bills team."
    plain = score_sentences(q, e.embed_query(q.text), hits, e, QuoteSettings(question_penalty=0))
    assert is_question(plain[0].text), "without the penalty the restated question wins"
    assert is_question("He asked: \u201cWho won?\u201d") and is_question(
        "\u0686\u0647 \u06a9\u0633\u06cc\u061f"
    )
    assert not is_question("The Bills won.")
