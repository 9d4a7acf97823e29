"""The same text under two ids: stored once, the other id kept as an alias that `qa show`
finds, answers cite, and deletion, edits, rebuild and export carry along; with the real
model, FAISS and SQLite (the ordering cases of one run with the hashing embedder)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.render import answer_messages
from index.build import IngestReport, ingest, rebuild
from index.embedder import Embedder
from index.manifest import Layout
from index.reader import IndexReader
from index.records import Article
from index.settings import Settings
from index.sources import read_paths
from qa.cli import main
from qa.engine import Engine
from tests.conftest import DEMO_DIR, DEMO_QUESTION
from tests.fakes import HashingEmbedder

Run = Callable[..., tuple[int, str, str]]
Make = Callable[[str], Embedder]

OWNER_URL = "https://ava.example/264603"
MIRROR_URL = "https://mirror.example/nato-seoul"


def demo_text() -> str:
    (article,) = [a for a in read_paths([DEMO_DIR], max_bytes=10**7) if isinstance(a, Article)]
    return article.text


def owner(text: str) -> dict[str, Any]:
    return {
        "id": "ava-264603",
        "title": "NATO asked to strengthen South Korea",
        "text": text,
        "url": OWNER_URL,
        "published": "2023-01-30",
        "source": "ava",
    }


def mirror(text: str) -> dict[str, Any]:
    return {
        "id": "mirror-1",
        "title": "NATO chief in Seoul",
        "text": text,
        "url": MIRROR_URL,
        "published": "2023-01-31",
        "source": "mirror",
    }


def write_jsonl(path: Path, *records: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def add(settings: Settings, make: Make, *paths: Path) -> IngestReport:
    report = ingest(settings, read_paths(list(paths), max_bytes=10**7), make)
    assert report.failed == 0
    return report


def alias_rows(settings: Settings) -> list[tuple[str, str]]:
    """(alias id, its article's id) of every alias."""
    with sqlite3.connect(Layout(settings.index_dir).store) as db:
        return db.execute(
            "SELECT l.id, a.id FROM aliases l JOIN articles a ON a.rowid = l.article ORDER BY l.id"
        ).fetchall()


def generation(settings: Settings) -> int:
    reader = IndexReader(settings.index_dir)
    try:
        return reader.manifest.generation
    finally:
        reader.close()


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "feed.jsonl", owner(demo_text()), mirror(demo_text()))


@pytest.fixture
def archive(tmp_path: Path, feed: Path, real_factory: Make) -> Settings:
    """The demo article under two ids and URLs, in one JSON Lines file."""
    settings = Settings.from_env({}, index_dir=tmp_path / "index")
    report = add(settings, real_factory, feed)
    assert (report.added, report.duplicate, report.aliases) == (1, 1, 1)
    assert "1 duplicate (1 kept as an alias)" in report.summary()
    return settings


@pytest.fixture
def qa(capsys: pytest.CaptureFixture[str]) -> Run:
    """`qa ARGS...` in this process: (exit status, standard output, standard error)."""

    def run(settings: Settings, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main([*args, "--index", str(settings.index_dir)])
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_show_finds_the_article_by_either_id_or_url(archive: Settings, qa: Run) -> None:
    for asked in ("ava-264603", "mirror-1", OWNER_URL, MIRROR_URL):
        status, out, _ = qa(archive, "show", asked)
        head = out.split("\n\n", 1)[0]
        assert status == 0 and head.splitlines()[0].split() == ["id", "ava-264603"], asked
        assert f"also published as  mirror-1, {MIRROR_URL}" in head

    status, out, _ = qa(archive, "show", "mirror-1", "--json")
    shown = json.loads(out)
    assert shown["id"] == "ava-264603" and shown["text"] == demo_text()
    assert shown["aliases"] == [
        {
            "id": "mirror-1",
            "title": "NATO chief in Seoul",
            "published": "2023-01-31",
            "source": "mirror",
            "url": MIRROR_URL,
            "path": shown["path"],  # the same JSON Lines file
        }
    ]


def test_answers_cite_the_alias(archive: Settings, qa: Run) -> None:
    status, out, _ = qa(archive, "ask", DEMO_QUESTION, "--json")
    quotes = json.loads(out)["quotes"]
    assert status == 0 and quotes
    for q in quotes:
        assert q["article_id"] == "ava-264603"
        assert q["also_reported_by"] == [
            {
                "article_id": "mirror-1",
                "title": "NATO chief in Seoul",
                "url": MIRROR_URL,
                "published": "2023-01-31",
                "source": "mirror",
            }
        ]
    status, out, _ = qa(archive, "ask", DEMO_QUESTION)
    cited = " ".join(out.split())
    assert f"Also reported by 1 other: NATO chief in Seoul, 2023-01-31, {MIRROR_URL}" in cited

    engine = Engine(archive)
    try:
        messages = answer_messages(engine.ask(DEMO_QUESTION))
    finally:
        engine.close()
    assert "Also reported by 1 other: " in messages[0].plain and MIRROR_URL in messages[0].html


def test_ingesting_again_changes_nothing(archive: Settings, feed: Path, real_factory: Make) -> None:
    before = generation(archive)
    report = add(archive, real_factory, feed)
    assert (report.added, report.unchanged, report.duplicate, report.chunks) == (0, 1, 1, 0)
    assert alias_rows(archive) == [("mirror-1", "ava-264603")]
    assert generation(archive) == before


def test_deleting_an_alias_names_its_article_and_deletes_nothing(
    archive: Settings, qa: Run
) -> None:
    status, _, err = qa(archive, "delete", "mirror-1")
    assert status == 1 and "error: mirror-1 is an alias of ava-264603" in err
    assert alias_rows(archive) == [("mirror-1", "ava-264603")]


def test_deleting_the_article_deletes_its_alias(archive: Settings, qa: Run) -> None:
    status, out, _ = qa(archive, "delete", "ava-264603")
    assert status == 0 and "deleted 1 article" in out
    assert alias_rows(archive) == []
    status, _, err = qa(archive, "show", MIRROR_URL)
    assert status == 2 and "no article with the id" in err


def test_an_edited_article_loses_its_alias(
    archive: Settings, tmp_path: Path, real_factory: Make, qa: Run
) -> None:
    edited = owner(demo_text() + "\n\nA correction was added to the article.")
    report = add(archive, real_factory, write_jsonl(tmp_path / "edit.jsonl", edited))
    assert report.updated == 1 and alias_rows(archive) == []
    status, _, _ = qa(archive, "show", "mirror-1")
    assert status == 2
    # The copy no longer matches anything stored: ingested again, it is an article of its own.
    report = add(archive, real_factory, write_jsonl(tmp_path / "m.jsonl", mirror(demo_text())))
    assert (report.added, report.duplicate) == (1, 0)


def test_rebuild_and_export_keep_aliases(
    archive: Settings, tmp_path: Path, real_factory: Make, qa: Run
) -> None:
    report = rebuild(archive, real_factory)
    assert report.updated == 1 and alias_rows(archive) == [("mirror-1", "ava-264603")]

    out_file = tmp_path / "export.jsonl"
    status, _, _ = qa(archive, "export", "-o", str(out_file))
    lines = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert status == 0 and [r["id"] for r in lines] == ["ava-264603", "mirror-1"]
    assert lines[1] == {**mirror(demo_text()), "lang": None}

    copy = Settings.from_env({}, index_dir=tmp_path / "copy")
    report = add(copy, real_factory, out_file)
    assert (report.added, report.aliases) == (1, 1)
    assert alias_rows(copy) == [("mirror-1", "ava-264603")]


def test_a_store_from_before_the_table_is_upgraded_and_opens(
    archive: Settings, feed: Path, real_factory: Make, qa: Run
) -> None:
    """A store written before aliases were kept (format 1, no table): the first command
    upgrades it (index.migrate) and every command works on it."""
    with sqlite3.connect(Layout(archive.index_dir).store) as db:
        db.execute("DROP TABLE aliases")
        (row,) = db.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()
        db.execute(
            "UPDATE meta SET value = ? WHERE key = 'manifest'",
            (json.dumps({**json.loads(row), "format": 1}),),
        )
    status, out, _ = qa(archive, "show", OWNER_URL, "--json")
    assert status == 0 and json.loads(out)["aliases"] == []
    assert qa(archive, "show", "mirror-1")[0] == 2
    status, out, _ = qa(archive, "ask", DEMO_QUESTION, "--json")
    assert status == 0 and all(q["also_reported_by"] == [] for q in json.loads(out)["quotes"])
    status, _, _ = qa(archive, "export", "-o", str(archive.index_dir.parent / "old.jsonl"))
    assert status == 0
    # A writer adds the table, and ingesting the copy again keeps it as an alias.
    report = add(archive, real_factory, feed)
    assert (report.unchanged, report.aliases) == (1, 1)
    assert alias_rows(archive) == [("mirror-1", "ava-264603")]


# -- the order of one run (logic around the store: the hashing embedder) ---------------------


def text(n: int) -> str:
    return f"Report {n}. The harbour of town {n} was closed for {n} days after the storm."


def test_a_stored_id_whose_text_is_now_another_articles_becomes_its_alias(
    settings: Settings, hashing: HashingEmbedder
) -> None:
    def make(_model: str) -> Embedder:
        return hashing

    ingest(settings, [Article("a", "A", text(1)), Article("x", "X", text(2))], make)
    report = ingest(settings, [Article("x", "X", text(1))], make)
    assert (report.duplicate, report.aliases) == (1, 1)
    assert alias_rows(settings) == [("x", "a")]
    with sqlite3.connect(Layout(settings.index_dir).store) as db:
        assert [r[0] for r in db.execute("SELECT id FROM articles")] == ["a"]
    # And back: given a text of its own, the alias is an article again.
    report = ingest(settings, [Article("x", "X", text(3))], make)
    assert report.added == 1 and alias_rows(settings) == []


def test_a_copy_of_a_text_its_article_leaves_in_the_same_run_is_stored(
    settings: Settings, hashing: HashingEmbedder
) -> None:
    def make(_model: str) -> Embedder:
        return hashing

    ingest(settings, [Article("a", "A", text(1))], make)
    report = ingest(settings, [Article("a", "A", text(2)), Article("b", "B", text(1))], make)
    assert (report.updated, report.added, report.duplicate) == (1, 1, 0)
    assert alias_rows(settings) == []
