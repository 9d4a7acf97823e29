"""`qa doctor`: each part of an index corrupted on purpose, found, and repaired from the store."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from index.build import ingest
from index.doctor import check, repair, stored_format
from index.errors import IndexMismatch
from index.manifest import FORMAT_VERSION, Layout
from index.reader import IndexReader
from index.records import Article
from index.settings import Settings
from index.writer import IndexWriter
from qa.cli import main
from tests.fakes import HashingEmbedder, match_ids


@pytest.fixture
def index(settings: Settings) -> Path:
    articles = [
        Article(
            id=f"a{i}",
            title=f"Story {i}",
            text=f"River {i} flooded the valley. Farmers in district {i} lost crops. "
            f"Officials promised aid on day {i}.",
        )
        for i in range(12)
    ]
    ingest(settings, articles, lambda _m: HashingEmbedder())
    assert check(settings.index_dir) == []
    return settings.index_dir


def db(folder: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(folder / "store.sqlite3", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = OFF")
    return conn


def current_vectors(folder: Path) -> Path:
    return Layout(folder).vectors(json.loads((folder / "manifest.json").read_text())["generation"])


def top_ids(folder: Path) -> list[int]:
    reader = IndexReader(folder)
    q = HashingEmbedder().embed_query("farmers lost crops in district 3")
    ids = match_ids(reader.dense(q, 5)) + match_ids(reader.keyword("river", 5))
    reader.close()
    return ids


def delete_vectors(folder: Path) -> None:
    current_vectors(folder).unlink()


def garble_vectors(folder: Path) -> None:
    current_vectors(folder).write_bytes(b"not a faiss file at all")


def short_vectors(folder: Path) -> None:
    from index.vectors import VectorIndex

    reader = IndexReader(folder)
    ids, vecs = reader.store.vectors(reader.manifest.dimension)
    reader.close()
    VectorIndex.build(ids[:-3], vecs[:-3], vecs.shape[1]).save(current_vectors(folder))


def wrong_counts(folder: Path) -> None:
    with db(folder) as conn:
        (raw,) = conn.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()
        m = json.loads(raw)
        m["chunks"] += 5
        conn.execute("UPDATE meta SET value = ? WHERE key = 'manifest'", (json.dumps(m),))


def orphan_chunk(folder: Path) -> None:
    with db(folder) as conn:
        conn.execute("DELETE FROM articles WHERE id = 'a3'")


def lost_keywords(folder: Path) -> None:
    with db(folder) as conn:
        conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('delete-all')")


def stray_files(folder: Path) -> None:
    (folder / "vectors-000099.faiss.tmp").write_bytes(b"half")
    (folder / "manifest.json").write_text("{}")


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing vector file": (delete_vectors, "is missing"),
    "garbage vector file": (garble_vectors, "unreadable"),
    "vector count": (short_vectors, "vectors for"),
    "manifest counts": (wrong_counts, "the manifest counts"),
    "orphaned chunks": (orphan_chunk, "belong to no article"),
    "keyword index": (lost_keywords, "keyword index has 0 rows"),
    "stray files": (stray_files, "stray file"),
}


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_corruption_is_found_and_repaired(index: Path, name: str) -> None:
    corrupt, symptom = CORRUPTIONS[name]
    before = top_ids(index)
    corrupt(index)
    problems = check(index)
    assert any(symptom in p.what for p in problems), problems
    assert all(p.repairable for p in problems)
    assert repair(index) == []
    if name != "orphaned chunks":  # that one rightly loses a3's chunks
        assert top_ids(index) == before, "repaired from the stored vectors, same results"
    reader = IndexReader(index)
    assert reader.keyword("officials promised aid", 3), "keyword search works again"
    reader.close()


def test_orphaned_chunks_are_gone_after_repair(index: Path) -> None:
    orphan_chunk(index)
    repair(index)
    reader = IndexReader(index)
    found = reader.chunks(match_ids(reader.keyword("river 3", 50)))
    assert all(c.article_id != "a3" for c in found.values())
    assert reader.manifest.articles == 11
    reader.close()


def test_repair_does_not_embed(index: Path) -> None:
    """Repair takes no embedder at all: vectors come from the store, bit for bit (as the
    flat index holds them, in float16)."""
    reader = IndexReader(index)
    ids, vecs = reader.store.vectors(reader.manifest.dimension)
    reader.close()
    delete_vectors(index)
    repair(index)
    reader = IndexReader(index)
    assert reader.manifest.search == "flat"
    held = vecs.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(reader.vectors_of(list(ids)), held)
    reader.close()


def test_unreadable_store_is_reported_not_repaired(index: Path) -> None:
    store = index / "store.sqlite3"
    for extra in ("-wal", "-shm"):
        Path(f"{store}{extra}").unlink(missing_ok=True)
    store.write_bytes(b"garbage" * 1000)
    problems = check(index)
    assert problems and not problems[0].repairable and "unreadable" in problems[0].what


def test_doctor_command(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--index", str(index)]) == 0
    assert f"healthy, format {FORMAT_VERSION}" in capsys.readouterr().out
    delete_vectors(index)
    assert main(["doctor", "--index", str(index)]) == 1
    assert "error: the vector file" in capsys.readouterr().out
    assert main(["doctor", "--repair", "--index", str(index)]) == 0
    assert "repaired" in capsys.readouterr().out
    assert main(["doctor", "--index", str(index)]) == 0


def test_repair_keeps_the_search_kind(settings: Settings) -> None:
    """An index built for HNSW search is repaired as HNSW, not quietly turned back into flat."""
    from index.vectors import VectorIndex

    articles = [
        Article(id=f"h{i}", title=f"H {i}", text=f"Dam {i} burst at dawn.") for i in range(5)
    ]
    ingest(settings, articles, lambda _m: HashingEmbedder(), search="hnsw")
    folder = settings.index_dir
    assert VectorIndex.load(current_vectors(folder)).kind == "hnsw"
    delete_vectors(folder)
    assert repair(folder) == []
    assert VectorIndex.load(current_vectors(folder)).kind == "hnsw"


def test_no_index_is_the_same_message_as_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`qa doctor` where there is no index: exit 2 and "run qa ingest", as `qa ask` says."""
    missing = tmp_path / "none"
    assert main(["doctor", "--index", str(missing)]) == 2
    doctor = capsys.readouterr().err
    assert main(["stats", "--index", str(missing)]) == 2
    assert doctor == capsys.readouterr().err
    assert doctor.startswith(f"error: no index in {missing}; run `qa ingest PATH")
    assert "not repairable" not in doctor


def users_files(folder: Path) -> None:
    (folder / "notes.txt").write_text("my notes about this archive\n")
    (folder / "backup").mkdir()
    (folder / "backup" / "store.sqlite3.bak").write_bytes(b"a copy")


def test_repair_never_deletes_a_users_file(index: Path) -> None:
    users_files(index)
    (index / "vectors-000099.faiss").write_bytes(b"an old generation")  # the index's own
    problems = check(index)
    unknown = [p for p in problems if p.unknown]
    assert {p.unknown for p in unknown} == {"notes.txt", "backup"}
    assert all(not p.severe and "qa doctor --move-unknown" in p.what for p in unknown)
    assert any("stray file vectors-000099.faiss" in p.what for p in problems)
    left = repair(index)
    assert (index / "notes.txt").read_text() == "my notes about this archive\n"
    assert (index / "backup" / "store.sqlite3.bak").exists()
    assert not (index / "vectors-000099.faiss").exists(), "derived files may go"
    assert {p.unknown for p in left} == {"notes.txt", "backup"}
    assert not any(p.severe for p in left)


def test_unknown_files_are_moved_aside_only_when_asked(
    index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    users_files(index)
    assert main(["doctor", "--repair", "--index", str(index)]) == 0
    out = capsys.readouterr().out
    assert "unknown file notes.txt" in out and "unknown folder backup" in out
    assert (index / "notes.txt").exists()
    assert main(["doctor", "--move-unknown", "--index", str(index)]) == 0
    out = capsys.readouterr().out
    assert "moved notes.txt to unknown-files/notes.txt" in out and "healthy" in out
    assert (index / "unknown-files" / "notes.txt").read_text() == "my notes about this archive\n"
    assert (index / "unknown-files" / "backup" / "store.sqlite3.bak").exists()
    assert check(index) == []
    (index / "notes.txt").write_text("newer notes\n")  # the same name again: nothing overwritten
    assert main(["doctor", "--move-unknown", "--index", str(index)]) == 0
    assert (index / "unknown-files" / "notes.txt").read_text() == "my notes about this archive\n"
    assert (index / "unknown-files" / "notes.txt.1").read_text() == "newer notes\n"


def test_doctor_json(index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json", "--index", str(index)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "index": str(index),
        "format": FORMAT_VERSION,
        "format_read": FORMAT_VERSION,
        "healthy": True,
        "found": [],
        "repaired": False,
        "moved": [],
        "problems": [],
        "unknown_files": [],
    }
    delete_vectors(index)
    (index / "notes.txt").write_text("mine")
    assert main(["doctor", "--json", "--index", str(index)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["healthy"] and report["unknown_files"] == ["notes.txt"]
    assert any(p["severe"] and "is missing" in p["what"] for p in report["problems"])
    assert main(["doctor", "--json", "--repair", "--index", str(index)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["repaired"] and [p["severe"] for p in report["problems"]] == [False]


def as_format_1(folder: Path) -> None:
    """Turn an index into what the previous version wrote: no search entries of its own."""
    with db(folder) as conn:
        conn.execute("DROP TABLE search_entries")
        conn.execute("DELETE FROM meta WHERE key = 'search'")
        manifest = json.loads(
            conn.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()[0]
        )
        manifest["format"] = 1
        conn.execute("UPDATE meta SET value = ? WHERE key = 'manifest'", (json.dumps(manifest),))


def test_an_older_format_is_upgraded_in_place_with_the_same_answers(
    index: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One place migrates (index.migrate), keyed by FORMAT_VERSION: `qa doctor` reports an
    older format, and the first reader (or writer, or --repair) upgrades it, under the write
    lock; searches give what they gave before."""
    before = top_ids(index)
    as_format_1(index)
    assert stored_format(index) == 1
    assert main(["doctor", "--index", str(index)]) == 0
    out = capsys.readouterr().out
    assert "format 1, written by an older version" in out
    assert f"format 1 (this version reads {FORMAT_VERSION})" in out
    assert top_ids(index) == before, "a reader upgrades it and answers the same"
    assert stored_format(index) == FORMAT_VERSION and check(index) == []
    as_format_1(index)
    assert main(["doctor", "--repair", "--index", str(index)]) == 0
    assert stored_format(index) == FORMAT_VERSION and check(index) == []
    assert top_ids(index) == before


def test_a_newer_format_is_refused_not_touched(index: Path) -> None:
    with db(index) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'manifest'").fetchone()[0]
        manifest = json.loads(row)
        manifest["format"] = FORMAT_VERSION + 1
        conn.execute("UPDATE meta SET value = ? WHERE key = 'manifest'", (json.dumps(manifest),))
    problems = check(index)
    assert [p.repairable for p in problems] == [False] and "newer" in problems[0].what
    with pytest.raises(IndexMismatch, match="newer than this version"):
        IndexWriter(Settings.from_env({}, index_dir=index), lambda _m: HashingEmbedder()).close()
