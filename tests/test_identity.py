"""One file is one article, however its path is typed, and an edit always replaces the old text.

Ids of files are `file:` and the absolute path (index.sources.file_id); an index made when ids
were relative to the folder typed, and an archive folder moved elsewhere, carry on under the
new ids (index.identity).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from index.build import IngestReport, ingest
from index.embedder import Embedder
from index.records import Article
from index.settings import Settings
from index.sources import file_id, locate, read_paths
from index.store import Store
from tests.fakes import HashingEmbedder

HARBOR = "Harbor report\n\nThe harbor handled {n} containers on Monday. Cranes worked all night.\n"
MB = 10**7


def add(settings: Settings, factory: Callable[[str], Embedder], *paths: Path) -> IngestReport:
    return ingest(settings, read_paths(list(paths), max_bytes=MB), factory)


def stored_ids(settings: Settings) -> dict[str, str]:
    store = Store(settings.index_dir / "store.sqlite3", readonly=True)
    try:
        return {a.id: a.text for a in store.articles()}
    finally:
        store.close()


def test_a_file_has_one_id_however_its_path_is_typed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbor.txt").write_text(HARBOR.format(n=120))
    (tmp_path / "link").symlink_to(corpus)
    expected = f"file:{(corpus / 'harbor.txt').resolve().as_posix()}"
    monkeypatch.chdir(tmp_path)
    spellings = [
        corpus,
        Path("corpus"),
        Path("corpus/harbor.txt"),
        Path("./corpus/../corpus/harbor.txt"),
        Path("link"),
        corpus / "harbor.txt",
    ]
    for spelling in spellings:
        ((_, ident),) = list(locate([spelling]))  # type: ignore[misc]
        assert ident == expected, spelling
    monkeypatch.chdir(corpus)
    assert file_id(Path("harbor.txt")) == expected


def test_an_edit_ingested_by_another_spelling_replaces_the_old_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_factory: Callable[[str], Embedder]
) -> None:
    """The issue's steps: ingest a folder by its absolute path, edit a file, ingest the file by
    a relative path: one article, updated, and the old figure is never quoted again."""
    from qa.engine import Engine

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbor.txt").write_text(HARBOR.format(n=120))
    settings = Settings.from_env({}, index_dir=tmp_path / "index")
    assert add(settings, real_factory, corpus).added == 1

    (corpus / "harbor.txt").write_text(HARBOR.format(n=180))
    monkeypatch.chdir(tmp_path)
    report = add(settings, real_factory, Path("corpus/harbor.txt"))
    assert (report.added, report.updated) == (0, 1)
    assert list(stored_ids(settings).values()) == [HARBOR.format(n=180).split("\n", 2)[2].strip()]

    engine = Engine(settings, make_embedder=real_factory)
    try:
        answer = engine.ask("How many containers did the harbor handle?")
    finally:
        engine.close()
    assert not answer.abstained and "180 containers" in answer.quotes[0].text
    shown = " ".join([q.text for q in answer.quotes] + [p.text for p in answer.passages])
    assert "120" not in shown


def legacy_article(article_id: str, path: str, n: int) -> Article:
    """An article as the version before absolute ids stored it."""
    text = HARBOR.format(n=n).split("\n", 2)[2].strip()
    return Article(id=article_id, title="Harbor report", text=text, path=path)


def test_an_index_of_an_older_version_is_renamed_at_the_next_ingest(tmp_path: Path) -> None:
    """Relative ids, and the same file stored twice under two of them (the old bug): the next
    ingest of the file leaves one article under the absolute id, with the file's text."""
    hashing = HashingEmbedder()
    settings = Settings.from_env({}, index_dir=tmp_path / "index")
    old = [
        legacy_article("file:corpus/harbor.txt", "/elsewhere/corpus/harbor.txt", 120),
        legacy_article("file:harbor.txt", "corpus/harbor.txt", 180),
        legacy_article("file:other.txt", "other.txt", 7),
    ]
    ingest(settings, old, lambda _m: hashing)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "harbor.txt").write_text(HARBOR.format(n=180))

    report = add(settings, lambda _m: hashing, corpus)
    assert (report.added, report.updated, report.renamed, report.duplicate) == (0, 0, 1, 0)
    assert report.chunks == 0  # nothing embedded again: the text was stored already
    ids = stored_ids(settings)
    assert set(ids) == {file_id(corpus / "harbor.txt"), "file:other.txt"}
    assert "180 containers" in ids[file_id(corpus / "harbor.txt")]

    (corpus / "harbor.txt").write_text(HARBOR.format(n=240))  # and it goes on being one
    report = add(settings, lambda _m: hashing, corpus / "harbor.txt")
    assert (report.added, report.updated) == (0, 1)
    assert "240 containers" in stored_ids(settings)[file_id(corpus / "harbor.txt")]


def test_an_older_id_with_older_text_is_updated(tmp_path: Path) -> None:
    hashing = HashingEmbedder()
    settings = Settings.from_env({}, index_dir=tmp_path / "index")
    ingest(settings, [legacy_article("file:harbor.txt", "harbor.txt", 120)], lambda _m: hashing)
    (tmp_path / "harbor.txt").write_text(HARBOR.format(n=180))
    report = add(settings, lambda _m: hashing, tmp_path / "harbor.txt")
    assert (report.added, report.updated, report.renamed) == (0, 1, 0)
    assert list(stored_ids(settings)) == [file_id(tmp_path / "harbor.txt")]


def test_a_moved_archive_folder_is_renamed_not_embedded_again(tmp_path: Path) -> None:
    hashing = HashingEmbedder()
    settings = Settings.from_env({}, index_dir=tmp_path / "index")
    before = tmp_path / "a" / "news"
    before.mkdir(parents=True)
    for n in range(3):
        (before / f"{n}.txt").write_text(HARBOR.format(n=n))
    (before / "feed.jsonl").write_text('{"text": "A record without id or url."}\n')
    assert add(settings, lambda _m: hashing, before).added == 4

    after = tmp_path / "b" / "news"
    after.parent.mkdir()
    shutil.move(before, after)
    report = add(settings, lambda _m: hashing, after)
    assert (report.added, report.renamed, report.duplicate, report.chunks) == (0, 4, 0, 0)
    expected = {file_id(after / f"{n}.txt") for n in range(3)}
    assert set(stored_ids(settings)) == expected | {f"{file_id(after / 'feed.jsonl')}#1"}


def test_a_copy_of_a_file_that_still_exists_stays_a_duplicate(tmp_path: Path) -> None:
    hashing = HashingEmbedder()
    settings = Settings.from_env({}, index_dir=tmp_path / "index")
    (tmp_path / "a.txt").write_text(HARBOR.format(n=1))
    shutil.copy(tmp_path / "a.txt", tmp_path / "b.txt")
    report = add(settings, lambda _m: hashing, tmp_path / "a.txt", tmp_path / "b.txt")
    assert (report.added, report.duplicate, report.renamed) == (1, 1, 0)
    assert list(stored_ids(settings)) == [file_id(tmp_path / "a.txt")]
