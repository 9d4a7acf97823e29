"""Output a person reads: passages by rank, text wrapped to the terminal, counts with the
right noun, one wording for "also reported by", and the JSON filters object."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import render as bot_render
from qa import render
from qa.answer import Answer, Citation, Hit, Passage, Question, Quote
from qa.engine import Engine
from qa.filters import Filters
from qa.quotes import ranked_passages, score_sentences
from qa.timeline import Timeline
from qa.timeline import to_json as timeline_json
from qa.timeline import to_text as timeline_text
from tests.botapi_double import check_html
from tests.fakes import HashingEmbedder
from tests.test_news import TODAY, news_engine
from tests.test_quotes import chunk

LONG_URL = "https://news.example/" + "a-very-long-path-segment/" * 4 + "story.html"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = news_engine(tmp_path / "index")
    yield e
    e.close()


def cite(n: int) -> Citation:
    return Citation(f"copy{n}", f"Copy {n}", f"https://copy{n}.example/x", "2023-02-16", None)


def quote(text: str, others: int = 0) -> Quote:
    return Quote(
        text,
        "a0",
        "Dam opening delayed " * 3,
        LONG_URL,
        "2023-02-15",
        0,
        0,
        len(text),
        1.0,
        tuple(cite(n) for n in range(others)),
    )


# --- passages: shown by rank, the number beside each a rank ------------------------------


def test_passages_carry_their_rank_and_a_relevance_that_never_rises(engine: Engine) -> None:
    answer = engine.ask("Why was the Kamal Khan dam opening delayed?", k=6, today=TODAY)
    ranks = [p.rank for p in answer.passages]
    assert ranks == list(range(1, len(answer.passages) + 1)) and len(ranks) == 6
    relevance = [p.relevance for p in answer.passages]
    assert all(r is not None for r in relevance)
    assert relevance == sorted(relevance, reverse=True), relevance  # type: ignore[type-var]
    assert answer.passages[0].chunk_id == answer.quotes[0].chunk_id, "the best is read first"
    data = json.loads(render.to_json(answer))
    assert [p["rank"] for p in data["passages"]] == ranks
    assert [p["relevance"] for p in data["passages"]] == relevance
    assert all("score" in p for p in data["passages"]), "the old field stays"
    text = render.to_text(answer, width=88)
    heads = [line for line in text.splitlines() if line.startswith("[")]
    assert [h.split("]")[0] for h in heads] == [f"[{n}" for n in ranks]
    assert "score" not in text, "no opaque fused number beside a passage"


def test_ranked_passages_follow_the_best_sentence_not_the_fused_score() -> None:
    e = HashingEmbedder()
    fused_first = chunk(1, "a", "Ports reopened. Ships left on Monday.")
    answering = chunk(2, "b", "The grain deal was signed in Istanbul by Ukraine.")
    hits = [Hit(fused_first, 0.5, 0.1), Hit(answering, 0.4, 0.1)]
    q = Question.parse("Where was the grain deal signed?")
    scored = score_sentences(q, e.embed_query(q.text), hits, e)
    passages = ranked_passages(hits, scored, 2)
    assert [(p.chunk_id, p.rank) for p in passages] == [(2, 1), (1, 2)]
    assert [p.score for p in passages] == [0.4, 0.5], "score stays retrieval's"
    assert passages[0].relevance == round(scored[0].score, 6)
    assert passages[0].relevance > passages[1].relevance  # type: ignore[operator]
    assert ranked_passages(hits, [], 1)[0].relevance is None, "unscored: no relevance"


# --- text wraps to the terminal --------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("columns", "width"), [(60, 60), (300, 88), (12, 40)])
def test_text_width_follows_a_terminal_within_limits(
    monkeypatch: pytest.MonkeyPatch, columns: int, width: int
) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    assert render.text_width(Terminal()) == width
    assert render.text_width(io.StringIO()) == render.DEFAULT_WIDTH, "piped: fixed width"


def test_answer_and_timeline_text_wrap_to_the_width() -> None:
    sentence = "Officials said the Kamal Khan dam opening was delayed by floods again. " * 3
    q = quote(sentence.strip(), others=2)
    passage = Passage(0, "a0", q.title, LONG_URL, q.published, sentence * 2, 0.5, 1, 1.0)
    answer = Answer("Why was the dam delayed?", False, (q,), (passage,), "source wire")
    for width in (50, 72):
        for out in (
            render.to_text(answer, width=width),
            timeline_text(Timeline("the dam", "source wire", (q,)), width=width),
        ):
            for line in out.splitlines():
                # A URL is never broken: only a line of it alone may be longer.
                assert len(line) <= width or " " not in line.strip(), line
            assert LONG_URL in out


# --- counts with the right noun --------------------------------------------------------


def test_plural() -> None:
    from index.wording import plural

    assert plural(1, "article") == "1 article"
    assert plural(0, "article") == "0 articles"
    assert plural(3, "story", "stories") == "3 stories"
    assert plural(1204, "chunk") == "1,204 chunks"


def test_bot_sources_count_one_article_in_one_passage() -> None:
    message = bot_render.sources_message(1, 1, None, "2023-04-10T00:00:00", "m")
    assert "1 article in 1 passage\n" in message.plain


# --- "also reported by": one wording in ask, timeline and the bot ----------------------


@pytest.mark.parametrize(
    ("others", "head", "rest"),
    [(1, "Also reported by 1 other: ", ""), (5, "Also reported by 5 others: ", " and 2 more")],
)
def test_also_reported_reads_the_same_everywhere(others: int, head: str, rest: str) -> None:
    q = quote("Officials said the dam opening was delayed.", others)
    answer = Answer("q?", False, (q,), ())
    timeline = Timeline("dam", "", (q,))
    shown = [
        render.to_text(answer, width=1000),
        timeline_text(timeline, width=1000),
        check_html(bot_render.answer_messages(answer)[0].html).text,
        check_html(bot_render.timeline_message(timeline)[0].html).text,
    ]
    for out in shown:
        line = next(x for x in out.splitlines() if "eported by" in x)
        assert line.strip().startswith(head), line
        assert line.endswith(rest) and "Copy 0" in line and ("Copy 3" not in line), line


# --- the JSON filters object ------------------------------------------------------------


def test_json_filters_are_an_object_with_the_display_string_beside(engine: Engine) -> None:
    answer = engine.ask("What happened to wheat prices last month?", k=3, today=TODAY)
    data = json.loads(render.to_json(answer))
    assert data["filters"] == {
        "since": "2023-03-01",
        "until": "2023-03-31",
        "source": None,
        "recent": False,
        "phrase": "last month",
    }
    assert data["filters_text"] == "since 2023-03-01, until 2023-03-31" == answer.filters
    flagged = engine.ask("wheat prices", filters=Filters(source="ava"), today=TODAY).to_dict()
    assert flagged["filters"] == {
        "since": None, "until": None, "source": "ava", "recent": False, "phrase": None
    }  # fmt: skip
    assert flagged["filters_text"] == "source ava"
    none = engine.ask("wheat prices", today=TODAY).to_dict()
    assert none["filters"] == Filters().to_dict() and none["filters_text"] == ""
    t = json.loads(timeline_json(engine.timeline("Kamal Khan dam source:wire", today=TODAY)))
    assert t["filters"]["source"] == "wire" and t["filters"]["phrase"] == "source:wire"
    assert t["filters_text"] == "source wire"


def test_a_phrase_that_finds_nothing_is_no_filter_in_json(engine: Engine) -> None:
    history = engine.ask("What happened to wheat prices in Herat in 2015?", today=TODAY)
    assert history.to_dict()["filters"] == Filters().to_dict()


def test_quotes_past_k_still_name_their_other_outlets(engine: Engine) -> None:
    answer = engine.ask("Officials said the Kamal Khan dam", k=1, today=TODAY)
    assert len(answer.passages) == 1 and len(answer.quotes) > 1
    feb = [q for q in answer.quotes if q.article_id in {"dam-feb", "dam-feb-copy"}]
    assert feb and all(q.also_reported_by for q in feb), answer.quotes
