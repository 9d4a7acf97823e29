"""Readers while writers write, and two writers serialised by the lock."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from index.build import ingest
from index.lock import write_lock
from index.settings import Settings
from index.sources import read_paths
from qa.engine import Engine
from tests.conftest import DEMO_DIR
from tests.fakes import HashingEmbedder
from tests.test_crash import corpus, driver, state


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    settings = Settings.from_env({}, index_dir=tmp_path / "index")
    ingest(settings, read_paths([DEMO_DIR], max_bytes=10**7), lambda _m: HashingEmbedder())
    return settings.index_dir


def findable(engine: Engine, i: int) -> bool:
    answer = engine.ask(f"dispatch {i}", k=5)
    return any(p.article_id == f"r{i}" for p in answer.passages)


def test_reader_answers_throughout_several_ingests(folder: Path, tmp_path: Path) -> None:
    batches = [corpus(tmp_path / f"b{n}.jsonl", n * 100, 100) for n in range(3)]
    engine = Engine(Settings.from_env({}, index_dir=folder), lambda _m: HashingEmbedder())
    asked, generations = 0, {engine.reader.manifest.generation}
    for batch in batches:
        proc = driver("ingest", str(folder), str(batch))
        while proc.poll() is None:
            answer = engine.ask("Why won't South Korea arm Ukraine?")
            assert answer.passages, "every question gets an answer mid-ingest"
            asked += 1
            generation = engine.reader.manifest.generation
            if generation not in generations:
                generations.add(generation)
                # What a commit made visible is findable at once.
                ids = {a for a in state(folder)[0] if a.startswith("r")}
                newest = max(int(a[1:]) for a in ids)
                assert findable(engine, newest)
        assert proc.returncode == 0, proc.stderr.read().decode() if proc.stderr else ""
        last = int(batch.stem[1:]) * 100 + 99
        assert findable(engine, last), "findable as soon as the ingest has committed"
    assert len(state(folder)[0]) == 301
    assert asked > 0
    print(f"{asked} questions answered during 3 ingests, {len(generations)} generations seen")
    engine.close()


def test_second_writer_waits_for_the_lock(folder: Path, tmp_path: Path) -> None:
    batch = corpus(tmp_path / "late.jsonl", 500, 20)
    before = state(folder)
    with write_lock(folder):
        proc = driver("ingest", str(folder), str(batch))
        assert proc.stderr is not None
        line = proc.stderr.readline().decode()
        assert "waiting for pid" in line and "to finish writing" in line
        time.sleep(0.5)
        assert proc.poll() is None, "it waits rather than interleaving"
        assert state(folder) == before
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert len(state(folder)[0]) == len(before[0]) + 20


@pytest.mark.parametrize("backend", ["local", "milvus"])
def test_questions_are_answered_at_once_with_the_answers_of_one_at_a_time(
    folder: Path, tmp_path: Path, backend: str
) -> None:
    """No lock is held around a question: two questions reach the model together (each
    waits at a barrier for the other, which a lock around `ask` would make wait forever),
    and questions asked from eight threads at once get what they get one at a time."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    if backend == "milvus":
        pytest.importorskip("pymilvus", reason='the Milvus extra: pip install -e ".[milvus]"')
    settings = Settings.from_env(
        {"QA_BACKEND": backend, "QA_MILVUS_URI": str(tmp_path / "lite.db")}, index_dir=folder
    )
    hashing = HashingEmbedder()
    if backend == "milvus":  # the same ledger, its searches refilled into Milvus Lite
        from index.doctor import repair

        assert repair(folder, settings=settings) == []
    engine = Engine(settings, lambda _m: hashing)
    try:
        questions = [f"Why won't South Korea arm Ukraine? {i}" for i in range(4)]
        questions += ["What did NATO ask of South Korea?", "Which countries changed policies?"]
        alone = {q: engine.ask(q) for q in questions}
        together = threading.Barrier(2, timeout=10)
        real_embed = hashing.embed_query

        def meet(text: str) -> object:
            together.wait()  # BrokenBarrierError if the other question cannot get here
            return real_embed(text)

        hashing.embed_query = meet  # type: ignore[method-assign]
        with ThreadPoolExecutor(2) as pool:
            pair = list(pool.map(engine.ask, questions[:2]))
        hashing.embed_query = real_embed  # type: ignore[method-assign]
        assert pair == [alone[q] for q in questions[:2]]
        with ThreadPoolExecutor(8) as pool:
            asked = questions * 8
            assert list(pool.map(engine.ask, asked)) == [alone[q] for q in asked]
    finally:
        engine.close()
