"""A new user's first run: the export never aborts the process, a partial one is cleaned up,
the slow first step is announced, and the ingest rate counts only the ingest's own work.

How often a first run aborted is measured by `python -m benchmarks.first_run` (fresh
processes on a busy CPU); these tests hold the properties that fix rests on.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import pytest

from index.embedder import Embedder
from index.settings import DEFAULT_MODEL, Settings
from tests.conftest import DEMO_DIR, ROOT
from tests.fakes import HashingEmbedder


def test_embedding_hands_openvino_no_python_callback(
    real_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Python callback runs on OpenVINO's worker threads; the last reference it drops there
    can free the compiled model on a thread its destructor joins ('Resource deadlock
    avoided', an abort). Embedding drives its requests from the calling thread instead."""
    import openvino as ov

    class NoCallbacks:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("an AsyncInferQueue runs Python callbacks on OpenVINO threads")

    monkeypatch.setattr(ov, "AsyncInferQueue", NoCallbacks)
    texts = [f"Sentence number {i} about the harbour." for i in range(40)]
    vectors, sentences = real_embedder.embed_with_sentences(texts, [[(0, len(t))] for t in texts])
    assert vectors.shape == (40, real_embedder.dimension)
    assert all(s is not None and s.shape == (1, real_embedder.dimension) for s in sentences)
    assert real_embedder.embed_batch(texts[:3]).shape == (3, real_embedder.dimension)


def test_an_export_embedder_is_freed_on_the_thread_that_drops_it(real_embedder: Embedder) -> None:
    from index.openvino_embedder import open_export

    freed_on: list[int] = []
    for throughput in (True, False, True):
        embedder = open_export(DEFAULT_MODEL, throughput=throughput)
        assert embedder is not None
        embedder.embed_batch([f"text {i}" for i in range(50)])
        weakref.finalize(embedder, lambda: freed_on.append(threading.get_ident()))
        del embedder
        gc.collect()
    assert freed_on == [threading.get_ident()] * 3


def test_partial_exports_of_dead_runs_are_removed_at_the_next_start(
    real_embedder: Embedder,
) -> None:
    from index.export_cache import cache_root
    from index.model_export import ensure_export

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], text=True,
                          capture_output=True, check=True)  # fmt: skip
    root = cache_root()
    crashed = root / f".abc.{int(dead.stdout)}.0011aabb.tmp"
    running = root / f".abc.{os.getpid()}.0022ccdd.tmp"
    ancient = root / f".abc.{os.getpid()}.0033eeff.tmp"
    not_ours = root / "notes.tmp"
    for folder in (crashed, running, ancient, not_ours):
        folder.mkdir()
        (folder / "model.bin").write_bytes(b"\0" * 1024)
    hours_ago = time.time() - 5 * 3600
    os.utime(ancient, (hours_ago, hours_ago))

    assert ensure_export(DEFAULT_MODEL) is not None  # the export itself is there already
    assert not crashed.exists() and not ancient.exists()
    assert running.exists() and not_ours.exists()  # a live export's, and not an export's
    for folder in (running, not_ours):
        (folder / "model.bin").unlink()
        folder.rmdir()


def test_ingest_rate_leaves_out_the_lock_wait_and_preparing_the_model(
    settings: Settings,
) -> None:
    """The summary's chunks/s divides by the ingest's own work, not by the seconds spent
    waiting for another writer or making the model's export."""
    from index.build import ingest
    from index.lock import write_lock
    from index.sources import read_paths

    hashing = HashingEmbedder()

    def slow_first_load(_model: str) -> Embedder:
        time.sleep(3.2)  # as making the export does, once
        return hashing

    settings.index_dir.mkdir(parents=True)
    holding, release = threading.Event(), threading.Event()

    def other_writer() -> None:
        with write_lock(settings.index_dir):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=other_writer)
    thread.start()
    holding.wait(10)
    threading.Timer(1.5, release.set).start()
    waits: list[str] = []
    report = ingest(
        settings, read_paths([DEMO_DIR], max_bytes=10**7), slow_first_load, on_wait=waits.append
    )
    thread.join()
    assert waits and "waiting for" in waits[0]
    assert report.added == 1 and report.chunks > 0
    assert report.waited >= 1.4 and report.prepared >= 3.1
    assert report.working <= report.seconds - 4.5
    rate = float(report.summary().split("(")[1].split(" chunks/s")[0])
    assert rate == pytest.approx(report.chunks / report.working, rel=0.05)
    assert "loading the model" in report.summary()
    assert "waiting for another writer" in report.summary()


@pytest.mark.slow
def test_first_qa_ingest_says_it_prepares_the_model(tmp_path: Path) -> None:
    """From an empty model cache: the message before the slow step, an export and no
    partial folder left, and a JSON summary whose working seconds leave the export out."""
    cache = tmp_path / "cache"
    proc = subprocess.run(
        [sys.executable, "-m", "qa", "ingest", str(DEMO_DIR), "--index", str(tmp_path / "idx"),
         "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=600, check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "XDG_CACHE_HOME": str(cache)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "preparing the model" in proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["added"] == 1 and summary["chunks"] > 0
    assert summary["prepared"] > summary["working"] > 0
    exports = list((cache / "newsqa" / "exports").iterdir())
    assert len(exports) == 1 and not exports[0].name.endswith(".tmp"), exports
