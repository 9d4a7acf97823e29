"""Hybrid retrieval through the Engine: fusion, one slot per near-duplicate, k independence."""

from __future__ import annotations

from pathlib import Path

from index.build import ingest
from index.records import Article
from index.settings import Settings
from qa.abstain import AbstentionSettings
from qa.answer import Question
from qa.engine import Engine
from qa.retriever import RetrievalSettings, Retriever
from tests.fakes import HashingEmbedder, match_ids

STORY = (
    "Ukraine and Russia signed a grain deal in Istanbul on Friday.\n"
    "The deal lets ships leave Odessa through a safe corridor in the Black Sea.\n"
    "Turkey and the United Nations will inspect the ships."
)
ARTICLES = [
    Article(id="a", title="Grain deal signed", text=STORY),
    # The same story republished under a new headline with a line added: a near duplicate.
    Article(id="b", title="Deal on grain", text=STORY + "\nMarkets rose on the news."),
    Article(id="c", title="Chess", text="Mira Holt won the regional chess open in 2019."),
]


def engine(tmp_path: Path, **kw: object) -> Engine:
    e = HashingEmbedder()
    s = Settings.from_env({}, index_dir=tmp_path / "index")
    ingest(s, ARTICLES, lambda _m: e)
    return Engine(s, lambda _m: e, abstention=AbstentionSettings(min_support=0.0), **kw)  # type: ignore[arg-type]


def test_near_duplicates_take_one_slot(tmp_path: Path) -> None:
    eng = engine(tmp_path)
    answer = eng.ask("Where was the grain deal signed?", k=5)
    articles = [p.article_id for p in answer.passages]
    assert len(set(articles) & {"a", "b"}) == 1, articles
    assert "c" in articles, "the slot goes to the next distinct passage"
    for q in answer.quotes:
        stored = {a.id: a.text for a in ARTICLES}[q.article_id]
        assert stored[q.start : q.end] == q.text


def test_quotes_do_not_depend_on_k(tmp_path: Path) -> None:
    eng = engine(tmp_path)
    one = eng.ask("Who inspects the ships?", k=1)
    many = eng.ask("Who inspects the ships?", k=10)
    assert one.quotes == many.quotes
    assert len(one.passages) == 1
    assert many.passages[0] == one.passages[0]


def test_k_larger_than_the_index(tmp_path: Path) -> None:
    eng = engine(tmp_path)
    answer = eng.ask("chess", k=50)
    assert 1 <= len(answer.passages) <= 3


def test_keyword_weight_zero_is_dense_only(tmp_path: Path) -> None:
    eng = engine(tmp_path)
    e = HashingEmbedder()
    dense_only = Retriever(eng.reader, e, RetrievalSettings(keyword_weight=0.0))
    q = Question.parse("Mira Holt chess", 2)
    _, hits = dense_only.embed_and_search(q)
    ranked = match_ids(eng.reader.dense(e.embed_query(q.text), 2))
    assert [h.chunk.id for h in hits] == ranked


def test_abstained_answer_keeps_the_closest_passages(tmp_path: Path) -> None:
    e = HashingEmbedder()
    s = Settings.from_env({}, index_dir=tmp_path / "index")
    ingest(s, ARTICLES, lambda _m: e)
    eng = Engine(s, lambda _m: e, abstention=AbstentionSettings(min_support=99.0))
    answer = eng.ask("What did the volcano do?")
    assert answer.abstained and answer.quotes == ()
    assert answer.passages, "the closest passages are there for those who ask"
    assert answer.to_dict()["abstained"] is True


def test_keyword_search_on_its_thread_gives_what_one_thread_would(tmp_path: Path) -> None:
    """embed_and_search runs keyword search beside embedding and dense search: the same
    vector, and the same fused passages, as embedding first and searching after; an
    embedding that fails still fails, with the keyword search finished, not left running."""
    import threading

    import numpy as np
    import pytest

    eng = engine(tmp_path)
    question = Question.parse("Which ships does Turkey inspect?", k=3)
    seen: list[str] = []
    real_keyword = eng.reader.keyword

    def keyword(*args: object) -> list[tuple[int, float]]:
        seen.append(threading.current_thread().name)
        out = real_keyword(*args)  # type: ignore[arg-type]
        seen.append("done")
        return out

    eng.reader.keyword = keyword  # type: ignore[method-assign]
    query, hits = eng.retriever.embed_and_search(question)
    assert seen and seen[0].startswith("keyword") and seen[0] != threading.current_thread().name
    assert np.allclose(query, eng.embedder.embed_query(question.text))
    _, alone = eng.retriever.embed_and_search(
        question, query=eng.embedder.embed_query(question.text)
    )
    assert [h.chunk.id for h in hits] == [h.chunk.id for h in alone] and hits

    def broken(_text: str) -> np.ndarray:
        raise RuntimeError("the model failed")

    eng.retriever.embedder.embed_query = broken  # type: ignore[method-assign]
    calls = len(seen)
    with pytest.raises(RuntimeError, match="the model failed"):
        eng.retriever.embed_and_search(question)
    assert len(seen) == calls + 2 and seen[-1] == "done"  # finished before the error came out
    eng.close()


def _hit(cid: int, article: str, text: str) -> object:
    from qa.answer import Hit
    from tests.test_quotes import chunk

    return Hit(chunk=chunk(cid, article, text), score=1.0 / cid, cosine=0.5)


def test_one_slot_an_article_unless_too_few_match() -> None:
    """An article's best passage is shown; its others follow every other article's."""
    from qa.quotes import order_passages, ranked_passages

    hits = [
        _hit(1, "a", "The harbor reopened on Monday after the storm."),
        _hit(2, "a", "Ships waiting offshore began to dock in the afternoon."),
        _hit(3, "b", "The council passed the budget on Tuesday."),
        _hit(4, "c", "A new bridge opens next spring, the mayor said."),
    ]
    ids = lambda hs: [h.chunk.id for h in hs]  # noqa: E731
    assert ids(order_passages(hits, [])) == [1, 2, 3, 4]  # type: ignore[arg-type]
    assert ids(order_passages(hits, [], per_article=1)) == [1, 3, 4, 2]  # type: ignore[arg-type]
    shown = ranked_passages(hits, [], 3, per_article=1)  # type: ignore[arg-type]
    assert [p.chunk_id for p in shown] == [1, 3, 4] and [p.rank for p in shown] == [1, 2, 3]
    # Fewer articles than k: the second passage of "a" is shown last.
    assert [p.chunk_id for p in ranked_passages(hits, [], 5, per_article=1)] == [1, 3, 4, 2]  # type: ignore[arg-type]


def test_recency_prior_favours_the_newer_of_two_reports(tmp_path: Path) -> None:
    """The older report matches the question's words better; a recency prior counted from
    the day asked puts the newer first, and no prior leaves the order to the match."""
    from datetime import date

    older = Article(
        id="old", title="Harbor storm", published="2023-01-02",
        text="The harbor closed during the storm and the harbor cranes stopped, the port said.",
    )  # fmt: skip
    newer = Article(
        id="new", title="Port update", published="2023-01-19",
        text="The port reopened its docks on Thursday after repairs, officials said.",
    )  # fmt: skip
    e = HashingEmbedder()
    s = Settings.from_env({}, index_dir=tmp_path / "index")
    ingest(s, [older, newer], lambda _m: e)
    question = Question.parse("What happened at the harbor port?", k=2)
    plain = Engine(s, lambda _m: e, retrieval=RetrievalSettings(recency_weight=0.0))
    prior = Engine(s, lambda _m: e, retrieval=RetrievalSettings(recency_weight=1.0))
    try:
        today = date(2023, 1, 20)
        first = plain.retriever.embed_and_search(question, today=today)[1]
        assert [h.chunk.article_id for h in first] == ["old", "new"]
        favoured = prior.retriever.embed_and_search(question, today=today)[1]
        assert [h.chunk.article_id for h in favoured] == ["new", "old"]
        assert prior.retriever.embed_and_search(question)[1] == first  # no day: no prior
        # The default prior is on, and Engine.ask(prior=False) (qa ask --no-recency) is off
        by_default = Engine(s, lambda _m: e)
        try:
            assert by_default.retriever.settings.recency_weight > 0
            off = by_default.ask(question.text, k=2, today=today, prior=False)
            assert [p.article_id for p in off.passages] == ["old", "new"]
        finally:
            by_default.close()
    finally:
        plain.close()
        prior.close()
