"""Inputs people actually have: front matter, date lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.reading import read_paths
from index.records import Article, ReadFailure

MB = 10**6


def read(*paths: Path) -> tuple[list[Article], list[ReadFailure]]:
    items = list(read_paths(list(paths), max_bytes=MB))
    return (
        [i for i in items if isinstance(i, Article)],
        [i for i in items if isinstance(i, ReadFailure)],
    )


def one(path: Path) -> Article:
    articles, failures = read(path)
    assert failures == [] and len(articles) == 1, failures
    return articles[0]


def failure(path: Path) -> ReadFailure:
    articles, failures = read(path)
    assert articles == [] and len(failures) == 1, articles
    return failures[0]


# --- front matter ------------------------------------------------------------------------------

FRONT = """---
title: "Harbor reopens: ships return"
date: 2026-11-20
source: Port Gazette
url: https://gazette.example/harbor
tags: [port, weather]
---

# Harbor reopens: ships return

The harbor reopened on Friday after the storm.
Ships queued at the mouth of the bay.
"""


def test_front_matter_is_metadata_not_text(tmp_path: Path) -> None:
    (tmp_path / "harbor.md").write_text(FRONT)
    article = one(tmp_path / "harbor.md")
    assert article.title == "Harbor reopens: ships return"
    assert article.published == "2026-11-20"
    assert article.source == "Port Gazette"
    assert article.url == "https://gazette.example/harbor"
    assert article.id == "https://gazette.example/harbor"  # as a JSON record with a url
    # Neither the front matter nor the heading that repeats the title is text.
    assert article.text == (
        "The harbor reopened on Friday after the storm.\nShips queued at the mouth of the bay."
    )


def test_front_matter_in_a_text_file_with_id_lang_and_published(tmp_path: Path) -> None:
    (tmp_path / "note.txt").write_text(
        "---\nid: gazette-118\npublished: 'November 21, 2026 08:15'\nlang: en\n"
        "author: Sam\n---\nStorm warning lifted\nThe warning was lifted at dawn.\n"
    )
    article = one(tmp_path / "note.txt")
    assert article.id == "gazette-118"
    assert article.title == "Storm warning lifted"
    assert article.published == "2026-11-21T08:15:00"
    assert article.lang == "en"
    assert article.text == "The warning was lifted at dawn."


def test_front_matter_without_a_title_takes_the_first_line(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("---\nsource: Gazette\n---\n\nTitle here\n\nBody here.\n")
    article = one(tmp_path / "a.md")
    assert (article.title, article.text, article.source) == ("Title here", "Body here.", "Gazette")


@pytest.mark.parametrize(
    ("content", "where", "words"),
    [
        ("---\ntitle: [unclosed\ndate: x\n---\nBody.\n", ":3", "invalid front matter"),
        ("---\ntitle: T\n\nBody without a closing line.\n", ":1", "never closed"),
        ("---\ntitle: T\ndate: someday\n---\nBody.\n", ":3", "'date' is not a date"),
        ("---\ntitle:\n  - a\n  - b\n---\nBody.\n", ":2", "'title' must be text"),
        ("---\n- a list\n---\nBody.\n", ":2", "key: value"),
        ("---\ntitle: T\n---\n", "", "no text under the title"),
    ],
)
def test_bad_front_matter_names_file_and_line(
    tmp_path: Path, content: str, where: str, words: str
) -> None:
    path = tmp_path / "bad.md"
    path.write_text(content)
    fail = failure(path)
    assert fail.where == f"{path}{where}"
    assert words in fail.reason


def test_title_is_never_a_rule_line(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("***\n\nHarbor reopens\n==============\n\nShips returned.\n")
    article = one(tmp_path / "a.md")
    assert (article.title, article.text) == ("Harbor reopens", "Ships returned.")


# --- a date line under the title ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "iso"),
    [
        ("Published on 2026-11-20", "2026-11-20"),
        ("November 20, 2026", "2026-11-20"),
        ("20 November 2026", "2026-11-20"),
        ("2026-11-20", "2026-11-20"),
        ("*Published: Friday, November 20, 2026 at 10:30*", "2026-11-20T10:30:00"),
        ("Updated: 21 November 2026", "2026-11-21"),
        ("Posted on Nov. 20, 2026\nUpdated: Nov. 21, 2026", "2026-11-20"),
    ],
)
def test_date_line_under_the_title_is_the_date(tmp_path: Path, line: str, iso: str) -> None:
    (tmp_path / "a.txt").write_text(f"Harbor reopens\n{line}\n\nShips returned on Friday.\n")
    article = one(tmp_path / "a.txt")
    assert article.title == "Harbor reopens"
    assert article.published == iso
    assert article.text == "Ships returned on Friday."


@pytest.mark.parametrize(
    "first",
    [
        "On November 20, 2026 the harbor reopened.",
        "November 20, 2026 was the day the harbor reopened.",
        "Published in May 2026, the report found rust.",
        "May 2026",  # no day: a month is not a publish date
    ],
)
def test_a_first_sentence_holding_a_date_stays_text(tmp_path: Path, first: str) -> None:
    (tmp_path / "a.txt").write_text(f"Harbor reopens\n{first}\nShips returned.\n")
    article = one(tmp_path / "a.txt")
    assert article.published is None
    assert article.text == f"{first}\nShips returned."


def test_exact_dates() -> None:
    from index.dates import exact_iso

    assert exact_iso("November 20, 2026") == "2026-11-20"
    assert exact_iso("20 November 2026 10:30") == "2026-11-20T10:30:00"
    for not_a_date in ("May 2026", "2026", "the 5 boats", "On November 20, 2026 it rained", ""):
        assert exact_iso(not_a_date) is None
