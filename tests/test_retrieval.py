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
from tests.fakes import HashingEmbedder

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
    hits = dense_only.search(q)
    ranked = [cid for cid, _ in eng.reader.dense(e.embed_query(q.text), 2)]
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
