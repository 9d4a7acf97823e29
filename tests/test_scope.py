"""Search scopes (dates, source) applied inside the store's queries."""

from __future__ import annotations

import pytest

from index.build import ingest
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


def test_scope_by_dates_and_source(settings: Settings) -> None:
    reader = build(settings)
    everything = reader.store.chunk_ids_in(Scope())
    assert len(everything) == reader.manifest.chunks
    feb = article_ids(reader, list(reader.store.chunk_ids_in(Scope("2023-02-01", "2023-02-28"))))
    assert feb == {f"n2-{d}" for d in range(1, 29, 3)}
    assert "n2-25" in feb, "until is inclusive even when the article has a time of day"
    ava = article_ids(reader, list(reader.store.chunk_ids_in(Scope(source="AVA"))))
    assert ava == {f"n{m}-{d}" for m in (1, 2, 3) for d in range(1, 29, 3) if d % 2}
    host = article_ids(reader, list(reader.store.chunk_ids_in(Scope(source="news1.example"))))
    assert host and all(int(a.split("-")[1]) % 3 == 1 for a in host)
    assert "undated" not in article_ids(
        reader, list(reader.store.chunk_ids_in(Scope("2000-01-01")))
    )
    reader.close()


def test_keyword_search_inside_a_scope_returns_k(settings: Settings) -> None:
    reader = build(settings)
    hits = reader.store.keywords.search(
        "wheat prices rain", 5, Scope(since="2023-03-01", source="ava")
    )
    assert len(hits) == 5
    found = article_ids(reader, [cid for cid, _ in hits])
    assert all(a.startswith("n3-") and int(a.split("-")[1]) % 2 for a in found)
    assert reader.store.keywords.search("wheat", 50, Scope(since="2030-01-01")) == []
    reader.close()


def test_the_readers_date_table_matches_the_store(settings: Settings) -> None:
    """The reader cuts date scopes from an in-memory table of days: the same chunks as the
    store's query, bounds inclusive (a time of day on the until day counts), undated out."""
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
        mine = sorted(reader.chunk_ids_in(scope).tolist())
        theirs = sorted(reader.store.chunk_ids_in(scope).tolist())
        assert mine == theirs, scope
    assert article_ids(reader, list(reader.chunk_ids_in(Scope(until="2023-01-25")))) >= {"n1-25"}
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


def test_keyword_search_among_a_scopes_ids_matches_the_join(settings: Settings) -> None:
    """The reader filters a scope's keyword matches in memory: the same top k, in the same
    order, as the store's join of each match to its article."""
    reader = build(settings)
    for scope in (
        Scope("2023-02-01", "2023-02-28"),
        Scope(until="2023-01-25"),
        Scope(since="2023-01-02"),  # most of the index: only the best matches are read
        Scope(since="2023-03-01", source="ava"),
        Scope("2030-01-01"),
    ):
        for k in (1, 5, 50):
            joined = reader.store.keywords.search("wheat prices rain traders", k, scope)
            filtered = reader.keyword("wheat prices rain traders", k, scope)
            assert [c for c, _ in filtered] == [c for c, _ in joined], (scope, k)
            assert [s for _, s in filtered] == pytest.approx([s for _, s in joined])
    reader.close()


def test_a_wide_scope_reads_on_when_its_best_matches_are_outside(settings: Settings) -> None:
    """A scope said to hold most of the index reads only the best few matches first; when
    those hold fewer than k of the scope's, every match is read."""
    import numpy as np

    reader = build(settings)
    everything = reader.store.keywords.search("wheat prices rain traders", 100)
    last = everything[-1][0]  # the worst match: never among the best few
    kept = reader.store.keywords.search(
        "wheat prices rain traders", 3, keep=lambda ids: np.isin(ids, [last]), share=0.9
    )
    assert [c for c, _ in kept] == [last]
    reader.close()
