"""News-aware answers: filters inside retrieval, newer first, one quote per story, timelines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from index.build import ingest
from index.records import Article, StoredChunk
from index.settings import Settings
from qa.engine import Engine
from qa.filters import Filters
from qa.timeline import to_text
from tests.fakes import HashingEmbedder

TODAY = date(2023, 4, 10)


WORDS = [
    "rain",
    "drought",
    "imports",
    "exports",
    "fuel",
    "transport",
    "border",
    "customs",
    "currency",
    "harvest",
    "locusts",
    "frost",
    "storage",
    "mills",
    "bakeries",
    "flour",
    "convoys",
    "tariffs",
    "aid",
    "loans",
    "rumours",
    "hoarding",
    "demand",
    "supply",
    "inflation",
    "wages",
    "roads",
    "bridges",
    "floods",
    "snow",
]


def market(i: int, month: int, day: int) -> Article:
    """Distinct wording for each article, so that none is a near duplicate of another."""
    n = (i * 31 + month * 7 + day) % len(WORDS)
    a, b, c = WORDS[n], WORDS[(n + 5) % len(WORDS)], WORDS[(n + 11) % len(WORDS)]
    return Article(
        id=f"m{month}-{day}-{i}",
        title=f"Market report {month}/{day}",
        text=f"Wheat prices in Herat moved as traders spoke of {a} and {b}. "
        f"Merchants in the bazaar pointed to {c} this time.",
        published=f"2023-{month:02d}-{day:02d}",
        source="ava" if i % 2 else "pajhwok",
    )


DAM = {
    "dam-jan": ("2023-01-12", "Officials said the Kamal Khan dam would open in the spring."),
    "dam-mar": (
        "2023-03-20",
        "The Kamal Khan dam opened and officials said water would reach farms soon.",
    ),
    "dam-feb": ("2023-02-15", "Officials said the Kamal Khan dam opening was delayed by floods."),
}


def news_engine(folder: Path) -> Engine:
    """Market reports over three months, three dam stories, and a wire copy of one of them,
    indexed with the hashing embedder."""
    hashing = HashingEmbedder(dimension=256)
    settings = Settings.from_env({}, index_dir=folder)
    articles = [market(i, m, d) for i in range(3) for m in (1, 2, 3) for d in (3, 14, 25)]
    articles += [
        Article(
            id=k, title=f"Kamal Khan dam {d}", text=t, published=d, url=f"https://kabul.example/{k}"
        )
        for k, (d, t) in DAM.items()
    ]
    articles.append(
        Article(
            id="dam-feb-copy",
            title="Dam opening delayed",
            text=DAM["dam-feb"][1] + " Reporting by our correspondent.",
            published="2023-02-16",
            url="https://wire.example/dam",
            source="Wire Service",
        )
    )
    ingest(settings, articles, lambda _m: hashing)
    return Engine(settings, lambda _m: hashing)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = news_engine(tmp_path / "index")
    yield e
    e.close()


def test_filters_apply_inside_retrieval(engine: Engine) -> None:
    answer = engine.ask("wheat prices in Herat since:2023-02 until:2023-02", k=6, today=TODAY)
    assert answer.filters == "since 2023-02-01, until 2023-02-28"
    assert answer.question == "wheat prices in Herat"
    assert len(answer.passages) == 6, "k results when k exist"
    assert all(p.published and p.published.startswith("2023-02") for p in answer.passages)
    flagged = engine.ask("wheat prices", k=4, filters=Filters(source="ava"), today=TODAY)
    assert len(flagged.passages) == 4 and flagged.filters == "source ava"
    assert all(p.article_id.endswith("-1") for p in flagged.passages), flagged.passages
    nothing = engine.ask("wheat prices since:2024", today=TODAY)
    assert nothing.passages == () and nothing.abstained, "written syntax is a filter, always"
    history = engine.ask("What happened to wheat prices in Herat in 2015?", today=TODAY)
    assert history.passages and history.filters == "", "a phrase that finds nothing is words"
    assert history.question == "What happened to wheat prices in Herat in 2015?"
    assert history.widened == Filters(
        since=date(2015, 1, 1), until=date(2015, 12, 31), phrase="in 2015"
    )


def test_an_empty_phrase_scope_is_said(engine: Engine) -> None:
    """When 'this week' holds no article, the answer says so and comes from the whole
    archive, in text, JSON and the bot's reply alike."""
    from bot.render import answer_messages
    from qa.render import to_text

    later = date(2023, 9, 1)  # months after the newest article
    answer = engine.ask("What happened to wheat prices this week?", k=3, today=later)
    assert answer.passages and answer.filters == ""
    note = (
        "No article is dated this week (since 2023-08-25, until 2023-09-01), so the whole "
        "archive was searched."
    )
    assert answer.widened_note == note
    assert note in " ".join(to_text(answer, width=200).split())
    assert answer.to_dict()["widened"] == {
        "since": "2023-08-25",
        "until": "2023-09-01",
        "source": None,
        "recent": False,
        "phrase": "this week",
    }
    assert note in answer_messages(answer)[0].plain
    found = engine.ask("What happened to wheat prices last month?", k=3, today=TODAY)
    assert found.widened is None and found.widened_note == "" and found.filters


def test_plain_phrase_filters(engine: Engine) -> None:
    answer = engine.ask("What happened to wheat prices last month?", k=3, today=TODAY)
    assert answer.filters == "since 2023-03-01, until 2023-03-31"
    assert all(p.published.startswith("2023-03") for p in answer.passages if p.published)


def test_newer_first_among_equals_and_recent() -> None:
    from qa.answer import Hit
    from qa.quotes import Sentence
    from qa.recency import RECENT_WEIGHT, by_date, gains

    def sentence(cid: int, published: str | None, score: float) -> Sentence:
        chunk = StoredChunk(
            cid, published or "undated", "t", None, published, None, "x", 0, 1, ((0, 1),)
        )
        return Sentence(Hit(chunk, 0.0, 0.0), 0, 0, 1, "x", 0.5, 0.5, score, score)

    old, new, undated = (
        sentence(1, "2023-01-01", 0.803),
        sentence(2, "2023-03-01", 0.801),
        sentence(3, None, 0.802),
    )
    assert [c.hit.chunk.published for c in by_date([old, undated, new], TODAY)] == [
        "2023-03-01",
        "2023-01-01",
        None,
    ], "equal answers: the newer first, undated last"
    better_old = sentence(4, "2023-01-01", 0.83)
    assert by_date([better_old, new], TODAY)[0] is better_old
    gained = gains([c.hit for c in (better_old, new, undated)], TODAY, RECENT_WEIGHT)
    assert gained[3] == 0.0 and gained[2] > gained[4] > 0, "undated gains nothing"
    assert new.score + gained[2] > better_old.score + gained[4], "--recent lifts the newer"
    assert gains([new.hit], TODAY, 0.0) == {}


def test_recent_moves_newer_articles_up(engine: Engine) -> None:
    question = "What did officials say about the Kamal Khan dam?"
    plain = [q.published for q in engine.ask(question, today=TODAY).quotes]
    recent = [q.published for q in engine.ask(question, recent=True, today=TODAY).quotes]
    assert "2023-03-20" in recent
    assert recent.index("2023-03-20") <= (
        plain.index("2023-03-20") if "2023-03-20" in plain else len(plain)
    )


def test_one_quote_per_story_with_other_outlets(engine: Engine) -> None:
    answer = engine.ask("Why was the Kamal Khan dam opening delayed?", today=TODAY)
    first = answer.quotes[0]
    assert first.article_id in {"dam-feb", "dam-feb-copy"}
    others = {c.article_id for c in first.also_reported_by}
    assert others == {"dam-feb", "dam-feb-copy"} - {first.article_id}
    assert not any(q.article_id in others for q in answer.quotes), "the story is quoted once"
    data = json.loads(json.dumps(answer.to_dict()))
    assert data["quotes"][0]["also_reported_by"][0]["url"]


def test_timeline_is_oldest_first_one_per_story(engine: Engine) -> None:
    timeline = engine.timeline("What did officials say about the Kamal Khan dam?", today=TODAY)
    ids = [q.article_id for q in timeline.entries]
    stories = [i.removesuffix("-copy") for i in ids]
    assert stories[:3] == ["dam-jan", "dam-feb", "dam-mar"], ids
    assert len(set(stories)) == len(stories), "one entry per story"
    lines = [line for line in to_text(timeline).splitlines() if line[:4].isdigit()]
    assert [line[:10] for line in lines][:3] == ["2023-01-12", "2023-02-15", "2023-03-20"] or [
        line[:10] for line in lines
    ][:3] == ["2023-01-12", "2023-02-16", "2023-03-20"]
    dated = [q.published for q in timeline.entries if q.published]
    assert dated == sorted(dated)
