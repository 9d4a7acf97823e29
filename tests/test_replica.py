"""A bot replica with only QA_MILVUS_URI: no index folder, every answer read from Milvus
(index.replica), the same answers as the ingest host's, following its writes: new articles,
deletions, a rebuild, a story met later, an alias, a moved file. On Milvus Lite 2.5.1, the
real model and the Bot API double. Skipped without the milvus extra."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from index.embedder import Embedder
from index.errors import ConfigError
from index.settings import Settings
from qa.cli import main
from tests.botapi_double import BotAPIDouble, ask, bot, strict
from tests.conftest import DEMO_ANSWER_START, DEMO_DIR, DEMO_QUESTION, ROOT
from tests.test_manage import record, write_jsonl

pytest.importorskip("pymilvus", reason='the Milvus extra: pip install -e ".[milvus]"')

Run = Callable[..., tuple[int, str]]
QUESTIONS = [
    DEMO_QUESTION,
    "Dispatch 1 river market",  # its text was also read as "mirror-1": an alias
    "Dispatch 2 sentence 3 river",  # "copy-2" republished it: a story of two
    "Dispatch 4 river since:2023-05-01",
    "How many containers did the harbor handle on Monday?",  # a file that moves
]
HARBOR = "Harbor report\n\nThe harbor handled 180 containers on Monday. Cranes worked all night.\n"


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_factory: Any) -> Path:
    """QA_BACKEND=milvus on a Milvus Lite file; the ingest host's folder is `index`, the
    replica's `replica` (which stays empty)."""
    monkeypatch.setattr("index.models.load_embedder", lambda _settings, **_kw: real_factory)
    for var in ("QA_MILVUS_COLLECTION", "QA_MILVUS_INDEX", "QA_MILVUS_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("QA_BACKEND", "milvus")
    monkeypatch.setenv("QA_MILVUS_URI", str(tmp_path / "lite.db"))
    return tmp_path


@pytest.fixture
def qa(capsys: pytest.CaptureFixture[str], place: Path) -> Callable[..., tuple[int, str, str]]:
    def run(folder: str, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main([*args, "--index", str(place / folder)])
        out, err = capsys.readouterr()
        return status, out, err

    return run


def answers(qa: Callable[..., tuple[int, str, str]], folder: str) -> list[dict[str, Any]]:
    out = []
    for question in QUESTIONS:
        status, text, err = qa(folder, "ask", question, "--json")
        assert status == 0, err
        out.append(json.loads(text))
    return out


def archive(place: Path) -> list[Path]:
    """The demo article (in a folder that moves later), six dated dispatches, a copy of one
    under another id (an alias), and a republished one with a line added (a story)."""
    demo = place / "a" / "demo"
    shutil.copytree(DEMO_DIR, demo)
    (demo / "harbor.txt").write_text(HARBOR)  # no id of its own: named by its path
    dated = [record(i, published=f"2023-{i + 1:02d}-15", source="ava") for i in range(6)]
    feed = write_jsonl(place / "feed.jsonl", dated)
    later = [
        {**record(1), "id": "mirror-1", "title": "Dispatch 1, mirrored", "url": "https://m/1"},
        {
            **record(2),
            "id": "copy-2",
            "title": "Dispatch 2, republished",
            "text": record(2)["text"] + " A line the republisher added about the weather.",
            "published": "2023-03-20",
        },
    ]
    return [demo, feed, write_jsonl(place / "later.jsonl", later)]


def test_a_replica_with_only_the_uri_answers_as_the_ingest_host_does(
    qa: Callable[..., tuple[int, str, str]], place: Path
) -> None:
    demo, feed, later = archive(place)
    assert qa("index", "ingest", str(demo), str(feed))[0] == 0
    assert qa("index", "ingest", str(later))[0] == 0  # the alias and the story come later
    host = answers(qa, "index")
    assert host == answers(qa, "replica")
    assert not (place / "replica").exists(), "a replica writes no index folder"

    # What the later ingest changed of earlier articles reached their rows in Milvus.
    [_, alias, story, *_] = host
    mirrored = [c["article_id"] for q in alias["quotes"] for c in q["also_reported_by"]]
    assert "mirror-1" in mirrored, alias["quotes"]
    republished = [c["article_id"] for q in story["quotes"] for c in q["also_reported_by"]]
    assert {"r2", "copy-2"} & set(republished), story["quotes"]

    # The demo folder moves: its article is renamed, not embedded again; the replica cites
    # the new id.
    shutil.move(place / "a", place / "b")
    assert qa("index", "ingest", str(place / "b" / "demo"))[0] == 0
    moved = answers(qa, "replica")
    assert moved == answers(qa, "index")
    assert moved[-1]["quotes"][0]["article_id"] == f"file:{place / 'b' / 'demo' / 'harbor.txt'}"

    assert qa("index", "delete", "r4", "--yes")[0] == 0
    assert qa("index", "rebuild")[0] == 0
    after = answers(qa, "replica")
    assert after == answers(qa, "index")
    assert all(p["article_id"] != "r4" for a in after for p in a["passages"])

    # Each rebuild fills a new collection; the ones before the last two are dropped, by
    # whichever process commits next.
    assert qa("index", "rebuild")[0] == 0
    assert answers(qa, "replica") == answers(qa, "index")
    from pymilvus import MilvusClient

    server = MilvusClient(str(place / "lite.db"))
    data = [c for c in server.list_collections() if c != "newsqa_live"]
    server.close()
    assert len(data) == 2, data

    status, out, _ = qa("replica", "timeline", "Dispatch river", "--json")
    assert status == 0 and json.loads(out)["entries"]
    status, out, _ = qa("replica", "stats", "--json")
    stats = json.loads(out)
    assert status == 0 and stats["articles"] == 8 and "lite.db" in stats["index"], stats


def test_a_replica_refuses_to_write_and_says_what_needs_the_ledger(
    qa: Callable[..., tuple[int, str, str]], place: Path
) -> None:
    assert qa("index", "ingest", str(DEMO_DIR))[0] == 0
    # `qa ingest` from another folder would write rows whose ids collide with the host's.
    status, _, err = qa("replica", "ingest", str(DEMO_DIR))
    assert status != 0 and "written from another index folder" in err, err
    status, out, _ = qa("index", "doctor", "--json")
    assert status == 0 and json.loads(out)["healthy"], out

    from qa.engine import Engine

    settings = Settings.from_env(
        {"QA_BACKEND": "milvus", "QA_MILVUS_URI": str(place / "lite.db")},
        index_dir=place / "nowhere",
    )
    engine = Engine(settings)
    try:
        with pytest.raises(ConfigError, match="needs the ledger"):
            list(engine.reader.articles())
    finally:
        engine.close()


def test_a_replica_of_an_empty_milvus_says_where_to_ingest(
    qa: Callable[..., tuple[int, str, str]],
) -> None:
    status, _, err = qa("replica", "ask", DEMO_QUESTION)
    assert status != 0 and "holds no index" in err and "qa ingest" in err, err


@pytest.fixture
def replica_engine(place: Path, real_embedder: Embedder) -> Iterator[Any]:
    from index.build import ingest
    from index.sources import read_paths
    from qa.engine import Engine

    env = {"QA_BACKEND": "milvus", "QA_MILVUS_URI": str(place / "lite.db")}
    host = Settings.from_env(env, index_dir=place / "index")
    ingest(host, read_paths([DEMO_DIR], max_bytes=10**7), lambda _m: real_embedder)
    engine = Engine(Settings.from_env(env, index_dir=place / "replica"), lambda _m: real_embedder)
    yield engine
    engine.close()


def test_the_bot_answers_from_a_replica(replica_engine: Any, place: Path) -> None:
    assert not (place / "replica").exists()
    with BotAPIDouble() as double, bot(double, replica_engine):
        [reply] = ask(double, DEMO_QUESTION)
    text = strict(reply)
    assert DEMO_ANSWER_START in text and "NATO asked to strengthen South Korea" in text


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """Milvus over TCP, as a server is addressed (`http://host:port`): the Milvus Lite
    engine started as a gRPC server on a free port of 127.0.0.1, its own process, which
    any number of processes reach at once (a Lite file is one process's)."""
    with warnings.catch_warnings():  # milvus-lite 2.5 imports pkg_resources
        warnings.simplefilter("ignore")
        from milvus_lite.server import Server

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = Server(str(tmp_path / "served.db"), address=f"127.0.0.1:{port}")
    assert engine.init() and engine.start(), "the Milvus Lite server did not start"
    uri = f"http://127.0.0.1:{port}"
    from pymilvus import MilvusClient

    deadline = time.monotonic() + 60
    while True:  # listening once a client gets an answer
        try:
            MilvusClient(uri, timeout=2).close()
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    yield uri
    engine.stop()


def ingest_elsewhere(uri: str, folder: Path, *paths: Path) -> None:
    """`qa ingest` in another process: the ingest host."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env |= {
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
        "QA_BACKEND": "milvus",
        "QA_MILVUS_URI": uri,
        "QA_MILVUS_INDEX": "FLAT",  # Lite's engine keeps raw vectors readable under FLAT
    }
    command = [sys.executable, "-m", "qa", "ingest", *map(str, paths), "--index", str(folder)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr


def test_replicas_follow_an_ingest_host_in_another_process_over_tcp(
    server: str, tmp_path: Path, real_embedder: Embedder
) -> None:
    """The deployment's shape on one machine: the ingest host writes from its own process,
    two replicas in this one answer from the same server with no index folder, and both
    follow the host's next write while they stay open."""
    from qa.engine import Engine

    host = tmp_path / "host"
    ingest_elsewhere(server, host, DEMO_DIR)
    env = {"QA_BACKEND": "milvus", "QA_MILVUS_URI": server}
    replicas = [
        Engine(Settings.from_env(env, index_dir=tmp_path / f"replica{n}"), lambda _m: real_embedder)
        for n in range(2)
    ]
    try:
        for replica in replicas:
            assert any(DEMO_ANSWER_START in q.text for q in replica.ask(DEMO_QUESTION).quotes)
        feed = write_jsonl(tmp_path / "feed.jsonl", [record(i) for i in range(4)])
        ingest_elsewhere(server, host, feed)
        for replica in replicas:
            answer = replica.ask("Dispatch 3 river")
            assert answer.passages[0].article_id == "r3", answer.passages
            assert replica.stats().articles == 5
    finally:
        for replica in replicas:
            replica.close()
    assert not any((tmp_path / f"replica{n}").exists() for n in range(2))


def test_a_row_past_milvus_limits_still_reads_back() -> None:
    """An article read under thousands of ids, a chunk of hundreds of sentences: the row's
    JSON and base64 fit a VARCHAR and parse; what cannot fit is left out whole."""
    import numpy as np

    from index import int8
    from index.backend import Entry, Payload
    from index.milvus_backend import _row
    from index.milvus_collections import MAX_TEXT
    from index.records import StoredAlias

    aliases = tuple(
        StoredAlias(f"copy-{n}", "A title " * 10, f"https://e.example/{n}", "2023-01-01", "x")
        for n in range(2000)
    )
    many = np.ones((200, 384), dtype=np.float32)  # 200 sentences: ~103 kB as base64
    payload = Payload("T", "text", 0, 4, ((0, 4),), 7, int8.pack(many), aliases)
    row = _row(Entry(1, many[0], "T\ntext", "a", payload=payload), 1)
    kept = json.loads(row["aliases"])
    assert 0 < len(kept) < 2000 and kept[0][0] == "copy-0"
    assert len(row["aliases"].encode()) <= MAX_TEXT
    assert row["sentvec"] == ""  # embedded when quoted instead
    assert json.loads(row["layout"]) == {"start": 0, "end": 4, "sentences": [[0, 4]]}
