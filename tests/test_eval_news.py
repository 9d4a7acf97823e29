"""`qa eval` on a news set: articles and questions as JSON Lines, gold articles by id, each
question asked as of the day it was asked."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from index.embedder import Embedder
from index.settings import Settings
from qa.eval_data import EvalFileError, load_news
from qa.eval_report import to_json, to_table
from qa.eval_run import EvalOptions, run_eval

ARTICLES = [
    {
        "id": "https://news.example/harbor-monday",
        "url": "https://news.example/harbor-monday",
        "title": "Harbor reopens",
        "published": "2023-01-03",
        "text": "The harbor reopened on Monday after the storm, port officials said. "
        "Ships waiting offshore began to dock in the afternoon.",
    },
    {
        "id": "https://news.example/harbor-friday",
        "url": "https://news.example/harbor-friday",
        "title": "Harbor reopens again",
        "published": "2023-01-20",
        "text": "The harbor reopened on Friday after a second storm, port officials said. "
        "Ships waiting offshore began to dock in the evening.",
    },
    {
        "id": "https://news.example/budget",
        "url": "https://news.example/budget",
        "title": "Council passes budget",
        "published": "2023-01-02",
        "text": "The city council passed its budget on Tuesday by nine votes to two.",
    },
]


def write(
    tmp_path: Path, questions: list[dict], articles: list[dict] = ARTICLES
) -> tuple[Path, Path]:
    a, q = tmp_path / "articles.jsonl", tmp_path / "questions.jsonl"
    a.write_text("".join(json.dumps(x) + "\n" for x in articles))
    q.write_text("".join(json.dumps(x) + "\n" for x in questions))
    return q, a


def test_a_news_set_is_read_with_its_gold_ids_and_dates(tmp_path: Path) -> None:
    q, a = write(
        tmp_path,
        [
            {"question": "When did the harbor reopen?", "answer": "Monday",
             "gold_ids": [ARTICLES[0]["id"]], "as_of": "2023/01/05"},
            {"id": "b", "question": "How did the council vote?", "answer": ["nine", "9"],
             "gold_ids": [ARTICLES[2]["id"]]},
        ],
    )  # fmt: skip
    es = load_news(q, a)
    assert es.version == "news" and len(es.articles) == 3
    first, second = es.questions
    assert first.gold_ids == (ARTICLES[0]["id"],) and first.as_of == "2023-01-05"
    assert first.answers == ("Monday",) and first.id == "1"
    assert second.id == "b" and second.answers == ("nine", "9") and second.as_of is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{broken", "questions.jsonl:2: invalid JSON"),
        ('{"question": "Q?", "answer": "A", "gold_ids": ["nowhere"]}', "'nowhere' is not in"),
        ('{"question": "Q?", "answer": 3, "gold_ids": ["x"]}', "'answer' must be"),
        ('{"question": "Q?", "answer": "A", "gold_ids": []}', "'gold_ids' must be"),
        (
            f'{{"question": "Q?", "answer": "A", "gold_ids": ["{ARTICLES[0]["id"]}"], '
            '"as_of": "soon"}',
            "'as_of' is not a date",
        ),
    ],
)
def test_a_bad_question_line_is_named(tmp_path: Path, line: str, message: str) -> None:
    good = {"question": "Q?", "answer": "Monday", "gold_ids": [ARTICLES[0]["id"]]}
    q, a = write(tmp_path, [good])
    q.write_text(q.read_text() + line + "\n")
    with pytest.raises(EvalFileError, match=message):
        load_news(q, a)


def test_a_bad_article_line_is_named(tmp_path: Path) -> None:
    q, a = write(tmp_path, [])
    a.write_text(a.read_text() + '{"title": "no text"}\n')
    with pytest.raises(EvalFileError, match=r"articles.jsonl:4: no 'text'"):
        load_news(q, a)


def test_questions_without_their_articles_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from qa.cli import main

    q, _ = write(tmp_path, [])
    assert main(["eval", str(q)]) == 2
    assert "name their articles with --articles" in capsys.readouterr().err


@pytest.mark.slow
def test_news_eval_asks_as_of_the_day_with_the_real_model(
    tmp_path: Path, real_factory: Callable[[str], Embedder]
) -> None:
    """Asked on 2023-01-05, the harbor question cannot see the article of 2023-01-20 (the
    archive as it stood), and "this week" is read from that day."""
    q, a = write(
        tmp_path,
        [
            {"question": "When did the harbor reopen this week?", "answer": "Monday",
             "gold_ids": [ARTICLES[0]["id"]], "as_of": "2023-01-05"},
            {"question": "How many council members voted for the budget?", "answer": "nine",
             "gold_ids": [ARTICLES[2]["id"]], "as_of": "2023-01-05"},
            # Only the article of 2023-01-20 answers this: not yet written on 2023-01-05.
            {"question": "When did the harbor reopen after the second storm?",
             "answer": "Friday", "gold_ids": [ARTICLES[1]["id"]], "as_of": "2023-01-05"},
        ],
    )  # fmt: skip
    es = load_news(q, a)
    settings = Settings.from_env({}, index_dir=tmp_path / "unused")
    report = run_eval(settings, es, real_factory, EvalOptions(), index_dir=tmp_path / "index")
    for outcome in report.outcomes[:2]:
        assert outcome.article_rank == 1 and outcome.rank == 1, outcome
        assert outcome.quote_hit, outcome
    future = report.outcomes[2]
    assert future.article_rank is None and future.quoted_title != ARTICLES[1]["title"]
    m = report.metrics
    assert dict(m.hit_at)[10].hits == 2 and dict(m.ans_at)[1].hits == 2
    assert m.quote_at_1.hits == 2
    data = json.loads(to_json(report))
    assert data["version"] == "news" and data["metrics"]["ans@5"] == pytest.approx(2 / 3)
    assert "(news)" in to_table(report) and "ans@5" in to_table(report)


@pytest.fixture
def news_index(tmp_path: Path, real_factory: Callable[[str], Embedder]) -> Path:
    from index.build import ingest
    from index.sources import read_paths

    _, a = write(tmp_path, [])
    settings = Settings.from_env({}, index_dir=tmp_path / "news-index")
    ingest(settings, read_paths([a], max_bytes=10**7), real_factory)
    return settings.index_dir


def test_as_of_hides_what_came_later_and_counts_phrases_from_it(
    news_index: Path, real_factory: Callable[[str], Embedder]
) -> None:
    from datetime import date

    from qa.engine import Engine

    engine = Engine(Settings.from_env({}, index_dir=news_index), real_factory)
    try:
        later = engine.ask("When did the harbor reopen after the second storm?", k=10)
        assert later.passages[0].article_id == ARTICLES[1]["id"]
        asked = engine.ask(
            "When did the harbor reopen after the second storm?", k=10, as_of=date(2023, 1, 5)
        )
        assert ARTICLES[1]["id"] not in {p.article_id for p in asked.passages}
        assert asked.applied.until == date(2023, 1, 5)
        # "last week" is the week before 2023-01-05, not before the machine's today
        week = engine.ask("harbor reopened last week", as_of=date(2023, 1, 12))
        assert week.applied.until is not None and week.applied.until <= date(2023, 1, 12)
        assert week.applied.since == date(2022, 12, 29)
    finally:
        engine.close()


def test_qa_ask_as_of_flag_and_json_batch_lines(
    news_index: Path,
    real_factory: Callable[[str], Embedder],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import io

    import index.models
    from qa.cli import main

    monkeypatch.setattr(index.models, "load_embedder", lambda _settings, **_kw: real_factory)
    question = "When did the harbor reopen after the second storm?"
    base = ["ask", "--index", str(news_index), "--json", "-k", "10"]
    assert main([*base, question, "--as-of", "2023-01-05"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["filters"]["until"] == "2023-01-05"
    assert ARTICLES[1]["id"] not in {p["article_id"] for p in answer["passages"]}

    lines = [
        json.dumps({"question": question, "as_of": "2023-01-05"}),
        question,  # a plain line: the whole archive
        '{"question": 3}',
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(base) == 1  # the third line is named, the others answered
    out, err = capsys.readouterr()
    first, second = (json.loads(x) for x in out.strip().split("\n"))
    assert first["filters"]["until"] == "2023-01-05" and second["filters"]["until"] is None
    assert second["passages"][0]["article_id"] == ARTICLES[1]["id"]
    assert 'line 3: a JSON line needs a "question" text' in err
