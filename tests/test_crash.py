"""Crash safety: `ingest`, `rebuild` and `delete` killed with SIGKILL at random moments.

After every kill the index opens, passes the consistency check, answers, and holds exactly
the articles from before or after the interrupted write, never a mix.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from index.build import ingest
from index.doctor import check
from index.manage import delete
from index.reader import IndexReader
from index.settings import Settings
from index.sources import read_paths
from qa.engine import Engine
from tests.conftest import DEMO_DIR, DEMO_QUESTION, ROOT
from tests.fakes import HashingEmbedder

TRIALS = 36  # per command; seeded


def corpus(path: Path, start: int, n: int, *, changed: range = range(0)) -> Path:
    with path.open("w") as f:
        for i in range(start, start + n):
            extra = " This report was revised later." if i in changed else ""
            text = " ".join(
                f"Dispatch {i} sentence {j} tells of river {i % 17} and market {j}."
                for j in range(12)
            )
            f.write(
                json.dumps({"id": f"r{i}", "title": f"Dispatch {i}", "text": text + extra}) + "\n"
            )
    return path


def state(folder: Path) -> tuple[dict[str, str], int, int]:
    """(article id -> hash of its text and title, chunk size, chunk count), as committed."""
    reader = IndexReader(folder)
    try:
        articles = {a.id: a.text_hash + a.title for a in reader.store.articles()}
        return articles, reader.manifest.chunk_tokens, reader.store.counts()[1]
    finally:
        reader.close()


def healthy(folder: Path) -> None:
    severe = [p for p in check(folder) if p.severe]
    assert severe == [], severe
    engine = Engine(Settings.from_env({}, index_dir=folder), lambda _m: HashingEmbedder())
    try:
        answer = engine.ask(DEMO_QUESTION)
        assert any(p.article_id == "story:264603" for p in answer.passages)
    finally:
        engine.close()


def driver(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crash_driver", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def timed_run(*args: str) -> float:
    started = time.perf_counter()
    proc = driver(*args)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    return time.perf_counter() - started


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash") / "base"
    settings = Settings.from_env({}, index_dir=folder)
    items = [
        *read_paths([DEMO_DIR], max_bytes=10**7),
        *read_paths([corpus(folder.parent / "a.jsonl", 0, 150)], max_bytes=10**7),
    ]
    ingest(settings, items, lambda _m: HashingEmbedder())
    return folder


def kill_trials(base: Path, tmp_path: Path, args: list[str], seed: int) -> dict[str, int]:
    """Run the write to completion once (its duration and end state), then kill it TRIALS
    times at seeded random moments; returns how many kills left 'before' and 'after'."""
    before = state(base)
    done = tmp_path / "done"
    shutil.copytree(base, done)
    duration = timed_run(*[str(done) if a == "INDEX" else a for a in args])
    after = state(done)
    rng = random.Random(seed)
    outcomes = {"before": 0, "after": 0}
    for trial in range(TRIALS):
        folder = tmp_path / f"trial{trial}"
        shutil.copytree(base, folder)
        proc = driver(*[str(folder) if a == "INDEX" else a for a in args])
        time.sleep(rng.uniform(0.0, duration * 1.05))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
        now = state(folder)
        assert now in (before, after), f"trial {trial}: a mix of before and after"
        outcomes["before" if now == before else "after"] += 1
        healthy(folder)
        shutil.rmtree(folder)
    return outcomes


def test_ingest_survives_sigkill(base: Path, tmp_path: Path) -> None:
    new = corpus(tmp_path / "b.jsonl", 140, 160, changed=range(140, 150))
    outcomes = kill_trials(base, tmp_path, ["ingest", "INDEX", str(new)], seed=2)
    print(f"ingest kills: {outcomes}")
    assert sum(outcomes.values()) == TRIALS


def test_rebuild_survives_sigkill(base: Path, tmp_path: Path) -> None:
    outcomes = kill_trials(base, tmp_path, ["rebuild", "INDEX", "48"], seed=3)
    print(f"rebuild kills: {outcomes}")
    assert sum(outcomes.values()) == TRIALS


def test_delete_survives_sigkill(base: Path, tmp_path: Path) -> None:
    ids = [f"r{i}" for i in range(0, 150, 2)]  # half the dispatches; the demo article stays
    outcomes = kill_trials(base, tmp_path, ["delete", "INDEX", *ids], seed=4)
    print(f"delete kills: {outcomes}")
    assert sum(outcomes.values()) == TRIALS


@pytest.mark.parametrize(
    ("step", "outcome"),
    [
        ("index.store:Store.delete_article", "before"),  # inside the transaction
        ("index.vectors:VectorIndex.save", "before"),  # next FAISS file written, no commit
        ("index.manifest:Manifest.write_mirror", "after"),  # committed, not yet tidied
    ],
)
def test_delete_killed_at_each_step(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str, outcome: str
) -> None:
    folder = tmp_path / "index"
    shutil.copytree(base, folder)
    before = state(folder)
    monkeypatch.setenv("CRASH_AFTER", step)
    proc = driver("delete", str(folder), "r1", "r3")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err.decode()
    articles, tokens, chunks = before
    after = ({k: v for k, v in articles.items() if k not in ("r1", "r3")}, tokens, chunks - 2)
    assert state(folder) == (before if outcome == "before" else after)
    healthy(folder)
    stray = any("stray file" in p.what for p in check(folder))
    assert stray == (step != "index.store:Store.delete_article"), "killed where it was meant"
    # The next write removes what the killed one left (a FAISS file of no generation).
    delete(Settings.from_env({}, index_dir=folder), ["r5"])
    assert check(folder) == []
