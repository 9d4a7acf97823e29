"""Search scopes (dates, source) applied inside the local backend's searches."""

from __future__ import annotations

import pytest

from index.build import ingest
from index.keyword_search import scope_sql
from index.reader import IndexReader
from index.records import Article, Scope
from index.settings import Settings
from tests.fakes import HashingEmbedder


def build(settings: Settings) -> IndexReader:
    articles = [
        Article(
            id=f"n{m}-{d}",
            title=f"Market report {m}/{d}",
            text=f"Wheat prices moved on day {d} of month {m}. Traders spoke of rain.",
            published=f"2023-{m:02d}-{d:02d}T10:00:00" if d % 5 else f"2023-{m:02d}-{d:02d}",
            source="ava" if d % 2 else "Pajhwok",
            url=f"https://news{d % 3}.example/{m}/{d}",
        )
        for m in (1, 2, 3)
        for d in range(1, 29, 3)
    ]
    articles.append(Article(id="undated", title="Undated", text="Wheat prices, undated."))
    ingest(settings, articles, lambda _m: HashingEmbedder())
    return IndexReader(settings.index_dir)


def article_ids(reader: IndexReader, chunk_ids: list[int]) -> set[str]:
    return {c.article_id for c in reader.chunks(chunk_ids).values()}


def ledger_ids(reader: IndexReader, scope: Scope) -> list[int]:
    """The scope's chunk ids by the ledger's own articles (an oracle for the backend)."""
    where, args = scope_sql(scope)
    rows = reader.store.connection.execute(
        f"SELECT c.id FROM chunks c JOIN articles a ON a.rowid = c.article WHERE {where}", args
    )
    return sorted(r[0] for r in rows)


def test_scope_by_dates_and_source(settings: Settings) -> None:
    reader = build(settings)
    search = reader.search
    everything = search.chunk_ids_in(Scope())
    assert len(everything) == reader.manifest.chunks
    feb = article_ids(reader, list(search.chunk_ids_in(Scope("2023-02-01", "2023-02-28"))))
    assert feb == {f"n2-{d}" for d in range(1, 29, 3)}
    assert "n2-25" in feb, "until is inclusive even when the article has a time of day"
    ava = article_ids(reader, list(search.chunk_ids_in(Scope(source="AVA"))))
    assert ava == {f"n{m}-{d}" for m in (1, 2, 3) for d in range(1, 29, 3) if d % 2}
    host = article_ids(reader, list(search.chunk_ids_in(Scope(source="news1.example"))))
    assert host and all(int(a.split("-")[1]) % 3 == 1 for a in host)
    assert "undated" not in article_ids(reader, list(search.chunk_ids_in(Scope("2000-01-01"))))
    reader.close()


def test_keyword_search_inside_a_scope_returns_k(settings: Settings) -> None:
    reader = build(settings)
    hits = reader.keyword("wheat prices rain", 5, Scope(since="2023-03-01", source="ava"))
    assert len(hits) == 5
    found = article_ids(reader, [m.id for m in hits])
    assert all(a.startswith("n3-") and int(a.split("-")[1]) % 2 for a in found)
    assert reader.keyword("wheat", 50, Scope(since="2030-01-01")) == []
    reader.close()


def test_the_backends_scopes_match_the_ledgers_articles(settings: Settings) -> None:
    """The backend cuts date scopes from an in-memory table of days and source scopes from
    its own entries: the same chunks as the ledger's articles give, bounds inclusive (a time
    of day on the until day counts), undated out."""
    reader = build(settings)
    for scope in (
        Scope(),
        Scope("2023-02-01", "2023-02-28"),
        Scope(since="2023-03-10"),
        Scope(until="2023-01-25"),
        Scope("2023-02-04", "2023-02-04"),
        Scope("2024-01-01"),
        Scope("2023-03-01", "2023-02-01"),
        Scope(since="2023-02-01", source="ava"),
    ):
        assert sorted(reader.search.chunk_ids_in(scope).tolist()) == ledger_ids(reader, scope)
    until = reader.search.chunk_ids_in(Scope(until="2023-01-25"))
    assert article_ids(reader, list(until)) >= {"n1-25"}
    reader.close()


def test_the_readers_ages_match_each_articles_date(settings: Settings) -> None:
    """The recency prior takes each candidate's age from the day table, not its text: the
    same days as the article's own date, NaN for the undated and for an unknown id."""
    from datetime import date

    import numpy as np

    from qa.recency import age_days

    reader = build(settings)
    chunks = reader.chunks(list(range(1, 200)))
    ids = [*chunks, 10_000]
    ages = reader.ages(ids, date(2023, 2, 15))
    for cid, age in zip(ids, ages, strict=True):
        want = age_days(chunks[cid].published, date(2023, 2, 15)) if cid in chunks else None
        assert (np.isnan(age) and want is None) or age == want, (cid, age, want)
    assert 0.0 in ages, "an article after the day asked is of age 0, as age_days has it"
    reader.close()


def test_a_day_that_is_not_a_date_is_left_out_of_the_table() -> None:
    from datetime import date

    import numpy as np

    from index.days import DayTable

    table = DayTable(np.array([3, 1, 2], dtype=np.int64), ["2023-02-01", "someday", "2023"])
    assert len(table) == 2
    assert table.between("2023-01-01", "2023-01-31").tolist() == [2]
    assert np.isnan(table.ages(np.array([1]), date(2023, 2, 1)))[0]
    assert table.ages(np.array([3, 2]), date(2023, 2, 1)).tolist() == [0.0, 31.0]


def test_keyword_search_in_a_scope_is_the_best_of_all_matches_inside_it(
    settings: Settings,
) -> None:
    """The backend filters a scope's keyword matches in memory: the same top k, in the same
    order and with the same scores, as the scope's share of every match."""
    reader = build(settings)
    text = "wheat prices rain traders"
    every = reader.keyword(text, 1000)
    for scope in (
        Scope("2023-02-01", "2023-02-28"),
        Scope(until="2023-01-25"),
        Scope(since="2023-01-02"),  # most of the index: only the best matches are read
        Scope(since="2023-03-01", source="ava"),
        Scope("2030-01-01"),
    ):
        inside = set(ledger_ids(reader, scope))
        for k in (1, 5, 50):
            want = [m for m in every if m.id in inside][:k]
            got = reader.keyword(text, k, scope)
            assert [m.id for m in got] == [m.id for m in want], (scope, k)
            assert [m.score for m in got] == pytest.approx([m.score for m in want])
    reader.close()


def test_a_wide_scope_reads_on_when_its_best_matches_are_outside(settings: Settings) -> None:
    """A scope said to hold most of the index reads only the best few matches first; when
    those hold fewer than k of the scope's, every match is read."""
    import numpy as np

    from index.keyword_search import KeywordSearch

    reader = build(settings)
    keywords = KeywordSearch(reader.store.connection)
    everything = keywords.search("wheat prices rain traders", 100)
    last = everything[-1][0]  # the worst match: never among the best few
    kept = keywords.search(
        "wheat prices rain traders", 3, keep=lambda ids: np.isin(ids, [last]), share=0.9
    )
    assert [c for c, _ in kept] == [last]
    reader.close()
