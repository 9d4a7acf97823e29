"""Managing an archive: `qa list`, `show`, `delete`, `prune` and `export`, on real SQLite and
FAISS (vectors from the hashing embedder: none of these commands loads a model)."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.texts import APOLOGY
from index.build import ingest
from index.doctor import check
from index.lock import write_lock
from index.manage import delete
from index.manifest import Layout
from index.reader import IndexReader
from index.records import ArticleRow
from index.settings import Settings
from index.sources import read_paths
from index.vectors import VectorIndex
from qa.cli import main
from qa.engine import Engine
from qa.listing import table
from tests.botapi_double import BotAPIDouble, ask, bot
from tests.conftest import DEMO_DIR, DEMO_QUESTION, ROOT
from tests.fakes import HashingEmbedder, match_ids, stored_stories

Run = Callable[..., tuple[int, str, str]]


def record(i: int, **fields: Any) -> dict[str, Any]:
    text = " ".join(
        f"Dispatch {i} sentence {j} tells of river {i % 7} and market {j}." for j in range(6)
    )
    return {"id": f"r{i}", "title": f"Dispatch {i}", "text": text, **fields}


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def build(folder: Path, *paths: Path) -> Settings:
    settings = Settings.from_env({}, index_dir=folder)
    embedder = HashingEmbedder()
    report = ingest(settings, read_paths(list(paths), max_bytes=10**7), lambda _m: embedder)
    assert report.failed == 0
    return settings


@pytest.fixture
def archive(tmp_path: Path) -> Settings:
    """Twelve dated records from two sources in a JSON Lines file, and the demo article."""
    records = [
        record(i, published=f"2023-{i % 12 + 1:02d}-15", source="ava" if i % 2 else "irna")
        for i in range(12)
    ]
    return build(tmp_path / "index", DEMO_DIR, write_jsonl(tmp_path / "feed.jsonl", records))


@pytest.fixture
def qa(capsys: pytest.CaptureFixture[str]) -> Run:
    """`qa ARGS...` in this process: (exit status, standard output, standard error)."""

    def run(settings: Settings, *args: str, stdin: str | None = None, tty: bool = False) -> Any:
        capsys.readouterr()
        with pytest.MonkeyPatch.context() as mp:
            if stdin is not None:
                mp.setattr("sys.stdin", Terminal(stdin, tty))
            status = main([*args, "--index", str(settings.index_dir)])
        out, err = capsys.readouterr()
        return status, out, err

    return run


class Terminal(io.StringIO):
    def __init__(self, text: str, tty: bool) -> None:
        super().__init__(text)
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def stored_ids(settings: Settings) -> set[str]:
    with sqlite3.connect(Layout(settings.index_dir).store) as db:
        return {r[0] for r in db.execute("SELECT id FROM articles")}


# -- list and show ------------------------------------------------------------------------


def test_list_newest_first_with_filters_limit_and_json(archive: Settings, qa: Run) -> None:
    status, out, err = qa(archive, "list")
    lines = out.splitlines()
    assert status == 0 and lines[0].split() == ["DATE", "CHUNKS", "SOURCE", "ID", "TITLE"]
    dates = [line.split()[0] for line in lines[1:]]
    assert len(dates) == 13 and dates == sorted(dates, reverse=True)
    assert "NATO asked to strengthen South Korea" in out and err == ""

    status, out, err = qa(archive, "list", "--source", "ava", "--since", "2023-03", "-n", "2")
    rows = [line.split() for line in out.splitlines()[1:]]
    assert [r[3] for r in rows] == ["r11", "r9"] and {r[2] for r in rows} == {"ava"}
    assert "2 of 5 articles shown" in err and "--all" in err

    status, out, _ = qa(archive, "list", "--json", "--until", "2023-02")
    articles = [json.loads(line) for line in out.splitlines()]
    assert [a["id"] for a in articles] == ["r1", "story:264603", "r0"]
    assert set(articles[0]) == {"id", "title", "published", "source", "url", "path", "chunks"}
    assert articles[1]["chunks"] == 3 and articles[0]["published"] == "2023-02-15"


def test_list_says_when_nothing_matches_and_refuses_a_zero_limit(
    archive: Settings, qa: Run
) -> None:
    status, out, err = qa(archive, "list", "--source", "nowhere")
    assert (status, out) == (0, "")
    assert "no article in" in err and "matches source nowhere (it holds 13 articles)" in err
    status, _, err = qa(archive, "list", "-n", "0")
    assert status == 2 and "-n must be at least 1" in err


def test_list_of_a_missing_index_is_one_line(tmp_path: Path, qa: Run) -> None:
    status, _, err = qa(Settings.from_env({}, index_dir=tmp_path / "none"), "list")
    assert status == 2 and err.startswith("error: no index in") and "qa ingest" in err
    assert not (tmp_path / "none").exists()


def test_table_fits_the_terminal_and_keeps_file_names() -> None:
    rows = [
        ArticleRow(
            id=f"file:/home/someone/archives/agency/2023/long-folder-name/story-{i}.txt",
            title="A headline that goes on and on about the harbour and the storm " * 2,
            published="2023-01-30T13:46:00",
            source="Afghan Voice Agency",
            url=None,
            path=None,
            chunks=i * 100,
        )
        for i in (1, 2)
    ]
    lines = table(rows, 80)
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[1].startswith("2023-01-30     100  Afghan Voice Agency  …")
    assert "…" in lines[1] and "story-1.txt" in lines[1] and lines[1].endswith("…")
    assert table(rows, None)[1].endswith("the storm")  # piped: nothing cut


def test_show_text_json_paths_and_close_ids(archive: Settings, qa: Run, tmp_path: Path) -> None:
    status, out, _ = qa(archive, "show", "r3")
    head, text = out.split("\n\n", 1)
    assert status == 0 and text.rstrip("\n") == record(3)["text"]
    assert "published  2023-04-15" in head and "source     ava" in head

    status, out, _ = qa(archive, "show", "r3", "--json")
    shown = json.loads(out)
    assert shown["text"] == record(3)["text"]
    assert shown["path"] == (tmp_path / "feed.jsonl").resolve().as_posix()
    assert (shown["chunks"], shown["same_story"]) == (1, [])

    status, _, err = qa(archive, "show", "r33")
    assert status == 2 and err.strip() == (
        "error: no article with the id r33; did you mean r3? (`qa list` shows the ids)"
    )


def test_show_finds_a_file_by_its_path(tmp_path: Path, qa: Run, monkeypatch: Any) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "harbor.txt").write_text("Harbor closed\n\nThe harbor was closed for 3 days.\n")
    settings = build(tmp_path / "index", notes)
    monkeypatch.chdir(notes)
    status, out, _ = qa(settings, "show", "harbor.txt")
    assert status == 0 and "The harbor was closed for 3 days." in out


# -- delete -------------------------------------------------------------------------------


def test_delete_by_ids_counts_and_names_unknown_ids(archive: Settings, qa: Run) -> None:
    status, out, err = qa(archive, "delete", "r1", "r2", "r77")
    assert status == 1
    assert out.splitlines()[-1] == f"deleted 2 articles (2 chunks) from {archive.index_dir}"
    assert "error: no article with the id r77; did you mean r7?" in err
    assert stored_ids(archive) & {"r1", "r2"} == set()

    status, out, _ = qa(archive, "delete", "r4")
    assert status == 0 and out.splitlines()[-1].startswith("deleted 1 article (1 chunk) from")


def test_delete_by_path_and_a_folder_given_as_an_id(tmp_path: Path, qa: Run) -> None:
    wrong = tmp_path / "wrong"
    (wrong / "deep").mkdir(parents=True)
    for n, folder in enumerate((wrong, wrong / "deep", tmp_path)):
        (folder / f"n{n}.txt").write_text(f"Note {n}\n\nThe note {n} of the folder.\n")
    (tmp_path / "wrongly.txt").write_text("Kept\n\nA file whose name starts like the folder.\n")
    settings = build(tmp_path / "index", wrong, tmp_path / "n2.txt", tmp_path / "wrongly.txt")
    status, _, err = qa(settings, "delete", str(wrong))
    assert status == 1 and f"use --path {wrong}" in err
    status, out, _ = qa(settings, "delete", "--path", str(wrong))
    assert status == 0 and "deleted 2 articles" in out
    assert {i.rsplit("/", 1)[1] for i in stored_ids(settings)} == {"n2.txt", "wrongly.txt"}


def test_delete_by_filters_combined(archive: Settings, qa: Run) -> None:
    status, out, _ = qa(archive, "delete", "--source", "irna", "--until", "2023-04", "--json")
    result = json.loads(out)
    assert status == 0 and result["count"] == 2 and not result["dry_run"]
    assert sorted(a["id"] for a in result["articles"]) == ["r0", "r2"]
    assert len(stored_ids(archive)) == 11 and "r4" in stored_ids(archive)


def test_delete_needs_ids_or_filters_not_both(archive: Settings, qa: Run) -> None:
    status, _, err = qa(archive, "delete")
    assert status == 2 and "name the articles to delete" in err
    status, _, err = qa(archive, "delete", "r1", "--source", "ava")
    assert status == 2 and "not both" in err
    assert len(stored_ids(archive)) == 13


def test_many_deletions_need_a_confirmation(archive: Settings, qa: Run) -> None:
    irna = ["--source", "irna"]  # six articles
    status, out, err = qa(archive, "delete", *irna, stdin="")
    assert status == 2 and "add --yes" in err and out == ""
    status, out, err = qa(archive, "delete", *irna, stdin="n\n", tty=True)
    assert status == 1 and f"Delete 6 articles from {archive.index_dir}? [y/N]" in err
    assert "nothing deleted" in err and len(stored_ids(archive)) == 13
    status, out, err = qa(archive, "delete", *irna, "--dry-run", stdin="")
    assert status == 0 and "would delete 6 articles (6 chunks)" in out
    assert len(stored_ids(archive)) == 13
    status, out, _ = qa(archive, "delete", *irna, stdin="y\n", tty=True)
    assert status == 0 and out.strip() == f"deleted 6 articles (6 chunks) from {archive.index_dir}"
    status, out, _ = qa(archive, "delete", "--source", "ava", "--yes", stdin="")
    assert status == 0 and "deleted 6 articles" in out
    assert stored_ids(archive) == {"story:264603"}


def test_a_deletion_is_one_new_generation_without_the_vectors(archive: Settings) -> None:
    layout = Layout(archive.index_dir)
    before = IndexReader(archive.index_dir)
    generation, demo_chunks = before.manifest.generation, before.store.counts()[1] - 12
    before.close()
    result = delete(archive, ["story:264603", "r5"])
    assert (result.articles, result.chunks) == (2, demo_chunks + 1)
    reader = IndexReader(archive.index_dir)
    try:
        m = reader.manifest
        assert (m.generation, m.articles, m.chunks) == (generation + 1, 11, 11)
        assert [p.name for p in layout.all_vector_files()] == [layout.vectors(m.generation).name]
        ids, _ = reader.store.vectors(m.dimension)
        held = VectorIndex.load(layout.vectors(m.generation)).ids()
        assert sorted(held.tolist()) == sorted(ids.tolist())
        # The keyword rows went with the exact text they were made of.
        assert reader.keyword("Stoltenberg NATO Seoul", 5) == []
        assert reader.keyword("Dispatch 5 sentence", 20) != []
    finally:
        reader.close()
    assert [p for p in check(archive.index_dir) if p.severe] == []
    assert json.loads(layout.manifest.read_text())["generation"] == generation + 1


def test_deleting_everything_leaves_an_empty_index_that_takes_new_articles(
    archive: Settings, qa: Run, tmp_path: Path
) -> None:
    status, out, _ = qa(archive, "delete", "--since", "1900", "--yes")
    assert status == 0 and "deleted 13 articles (15 chunks)" in out
    status, out, err = qa(archive, "list")
    assert (status, out) == (0, "") and "no articles in" in err
    engine = Engine(archive, lambda _m: HashingEmbedder())
    try:
        assert engine.ask("Dispatch 3 river").passages == ()
        build(archive.index_dir, write_jsonl(tmp_path / "new.jsonl", [record(40)]))
        assert engine.ask("Dispatch 40 river").passages[0].article_id == "r40"
    finally:
        engine.close()
    assert check(archive.index_dir) == []


def test_removing_from_an_hnsw_graph_never_returns_the_removed(archive: Settings) -> None:
    """HNSW cannot delete a node: the removed ones are tombstones that search skips."""
    from index.writer import IndexWriter

    hashing = HashingEmbedder()
    writer = IndexWriter(archive, lambda _m: hashing, search="hnsw")
    try:
        for article_id in ("r3", "r5"):  # the first makes the graph, the second a tombstone
            gone = writer.store.find_article(article_id)
            assert gone is not None
            writer.remove([gone.rowid])
        assert writer.manifest.search == "hnsw" and writer.search.count() == 13
    finally:
        writer.close()
    reader = IndexReader(archive.index_dir)
    try:
        query = hashing.embed_query("Dispatch 3 sentence 1 tells of river 3 and market 1.")
        found = match_ids(reader.dense(query, 20))
        chunks = reader.store.chunks(found)
        assert len(found) == 13 and set(found) == set(chunks), "no removed chunk comes back"
        assert {c.article_id for c in chunks.values()} == stored_ids(archive)
    finally:
        reader.close()


def test_delete_waits_for_the_write_lock(archive: Settings) -> None:
    said: list[str] = []
    done = threading.Event()
    with write_lock(archive.index_dir):
        worker = threading.Thread(
            target=lambda: (delete(archive, ["r1"], on_wait=said.append), done.set())
        )
        worker.start()
        time.sleep(0.5)
        assert not done.is_set() and "r1" in stored_ids(archive)
    worker.join(30)
    assert done.is_set() and "r1" not in stored_ids(archive)
    assert len(said) == 1 and "waiting for" in said[0]


def test_a_story_keeps_together_when_its_first_article_goes(tmp_path: Path) -> None:
    body = " ".join(
        f"The harbor of Velmora stayed closed on day {j} while crews cleared wreckage {j}."
        for j in range(10)
    )
    records = [
        {"id": "first", "title": "Velmora harbor closed", "text": body},
        {"id": "copy", "title": "Harbor still shut", "text": body + " Ferries wait offshore."},
        {"id": "other", "title": "Velmora port closed", "text": "Update. " + body},
    ]
    settings = build(tmp_path / "index", write_jsonl(tmp_path / "a.jsonl", records))
    assert len(set(stored_stories(settings.index_dir).values())) == 1, "one story to begin with"

    delete(settings, ["first"])
    with sqlite3.connect(Layout(settings.index_dir).store) as db:
        rows = dict(db.execute("SELECT id, rowid FROM articles"))
        story = dict(db.execute("SELECT id, story FROM articles"))
    assert story == {"copy": rows["copy"], "other": rows["copy"]}

    engine = Engine(settings, lambda _m: HashingEmbedder())
    try:
        answer = engine.ask("Why did the harbor of Velmora stay closed?")
        quoted = answer.quotes[0]
        also = {c.article_id for c in quoted.also_reported_by}
        assert {quoted.article_id, *also} == {"copy", "other"}
    finally:
        engine.close()


def test_an_open_engine_stops_quoting_a_deleted_article(
    demo_copy: Path, tmp_path: Path, real_factory: Any, qa: Run
) -> None:
    """The real model: an Engine opened before the delete, asked again after it."""
    settings = Settings.from_env({}, index_dir=demo_copy)
    extra = write_jsonl(tmp_path / "more.jsonl", [record(1), record(2)])
    ingest(settings, read_paths([extra], max_bytes=10**7), real_factory)
    engine = Engine(settings, real_factory)
    try:
        before = engine.ask(DEMO_QUESTION)
        assert before.quotes[0].article_id == "story:264603"
        status, _, _ = qa(settings, "delete", "story:264603")
        assert status == 0
        after = engine.ask(DEMO_QUESTION)
        cited = {q.article_id for q in after.quotes} | {p.article_id for p in after.passages}
        assert cited and "story:264603" not in cited
    finally:
        engine.close()


@pytest.mark.slow
def test_a_running_bot_stops_quoting_a_deleted_article(tmp_path: Path) -> None:
    """The bot answers from an Engine opened before `qa delete` runs in another process."""
    harbor = " ".join(
        f"The harbor of Velmora stayed closed for twelve days, report {j} said." for j in range(4)
    )
    records = [{"id": "velmora", "title": "Velmora harbor closed", "text": harbor}, record(1)]
    settings = build(tmp_path / "index", DEMO_DIR, write_jsonl(tmp_path / "a.jsonl", records))
    engine = Engine(settings, lambda _m: HashingEmbedder())
    question = "How long did the harbor of Velmora stay closed?"
    try:
        with BotAPIDouble() as double, bot(double, engine, rate_limit=0):
            before = " ".join(s.visible for s in ask(double, question))
            assert "Velmora harbor closed" in before
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "qa",
                    "delete",
                    "velmora",
                    "--index",
                    str(tmp_path / "index"),
                ],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert done.returncode == 0, done.stderr
            after = " ".join(s.visible for s in ask(double, question))
            assert "Velmora" not in after and after != APOLOGY
    finally:
        engine.close()


# -- prune --------------------------------------------------------------------------------


def test_prune_removes_articles_of_files_that_are_gone(tmp_path: Path, qa: Run) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    for name in ("keep", "gone"):
        (notes / f"{name}.txt").write_text(f"{name} title\n\nThe {name} file says {name}.\n")
    feed = write_jsonl(tmp_path / "feed.jsonl", [record(i) for i in range(3)])
    settings = build(tmp_path / "index", notes, feed)
    (notes / "gone.txt").unlink()
    feed.unlink()

    status, out, _ = qa(settings, "prune", "--dry-run")
    assert status == 0 and "would prune 4 articles (4 chunks)" in out
    assert len(stored_ids(settings)) == 5
    status, out, _ = qa(settings, "prune", "--json")
    result = json.loads(out)
    assert status == 0 and result["count"] == 4
    gone = {(notes / "gone.txt").resolve().as_posix(), feed.resolve().as_posix()}
    assert {a["path"] for a in result["articles"]} == gone
    assert stored_ids(settings) == {f"file:{(notes / 'keep.txt').resolve().as_posix()}"}
    status, out, _ = qa(settings, "prune")
    assert out.strip() == f"pruned 0 articles (0 chunks) from {settings.index_dir}"


def test_prune_keeps_pages_and_what_it_cannot_check(tmp_path: Path, qa: Run) -> None:
    feed = write_jsonl(tmp_path / "feed.jsonl", [record(i) for i in range(9)])
    settings = build(tmp_path / "index", feed)
    feed.unlink()
    with sqlite3.connect(Layout(settings.index_dir).store) as db:
        db.execute("UPDATE articles SET path = NULL WHERE id = 'r0'")  # a web page
        db.execute("UPDATE articles SET path = 'https://example.com/a' WHERE id = 'r1'")
        db.execute("UPDATE articles SET path = 'old/feed.jsonl' WHERE id = 'r2'")  # relative
    status, _, err = qa(settings, "prune", stdin="")
    assert status == 2 and "not going to prune 6 articles" in err and "--yes" in err
    status, out, err = qa(settings, "prune", "--yes")
    assert status == 0 and "pruned 6 articles" in out
    assert "could not check old/feed.jsonl; its articles are kept" in err
    assert stored_ids(settings) == {"r0", "r1", "r2"}


# -- export -------------------------------------------------------------------------------


def test_export_round_trip(tmp_path: Path, qa: Run) -> None:
    tricky = 'Line one.\nA separator\u2028inside, and a next-line\x85mark. «نقل قول» "quoted".'
    records = [
        record(1, published="2023-01-30T13:46:00+03:30", source="ava", url="https://a.example/1"),
        record(2, published="2023-02-01"),
        {"id": "r3", "title": "Tricky", "text": tricky, "lang": "fa"},
    ]
    settings = build(tmp_path / "index", DEMO_DIR, write_jsonl(tmp_path / "in.jsonl", records))
    out_file = tmp_path / "export.jsonl"
    status, out, _ = qa(settings, "export", "-o", str(out_file))
    assert status == 0 and out.strip().startswith("exported 4 articles from")
    assert len(out_file.read_text().splitlines()) == 4

    copy = build(tmp_path / "copy", out_file)
    fields = "id, title, text, published, source, url, lang"
    with (
        sqlite3.connect(Layout(settings.index_dir).store) as a,
        sqlite3.connect(Layout(copy.index_dir).store) as b,
    ):
        original = a.execute(f"SELECT {fields} FROM articles ORDER BY id").fetchall()
        restored = b.execute(f"SELECT {fields} FROM articles ORDER BY id").fetchall()
    assert restored == original and len(original) == 4

    status, out, err = qa(settings, "export", "--source", "ava")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["r1"]
    assert "exported 1 article from" in err and "standard output" in err


def test_export_replaces_a_file_whole_or_not_at_all(tmp_path: Path, qa: Run) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("previous export\n")
    status, _, err = qa(
        Settings.from_env({}, index_dir=tmp_path / "none"), "export", "-o", str(target)
    )
    assert status == 2 and "no index in" in err and target.read_text() == "previous export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]
