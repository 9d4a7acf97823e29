"""`--backend milvus` end to end, on Milvus Lite 2.5.1 (the Milvus engine in this process):
ingest, ask, delete, rebuild and repair through the `qa` command, and the bot answering
from Milvus over HTTP against the Bot API double. Skipped without the milvus extra."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from index.embedder import Embedder
from index.settings import Settings
from qa.cli import main
from tests.botapi_double import BotAPIDouble, ask, bot, strict
from tests.conftest import DEMO_ANSWER_START, DEMO_DIR, DEMO_QUESTION
from tests.test_manage import record, write_jsonl

pytest.importorskip("pymilvus", reason='the Milvus extra: pip install -e ".[milvus]"')

Run = Callable[..., tuple[int, str]]


@pytest.fixture
def milvus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, real_factory: Any) -> Settings:
    """An index folder whose searches run on a Milvus Lite file beside it."""
    monkeypatch.setattr("index.models.load_embedder", lambda _settings, **_kw: real_factory)
    for var in ("QA_BACKEND", "QA_MILVUS_URI", "QA_MILVUS_COLLECTION", "QA_MILVUS_INDEX"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("QA_BACKEND", "milvus")
    monkeypatch.setenv("QA_MILVUS_URI", str(tmp_path / "lite.db"))
    return Settings.from_env(
        {"QA_BACKEND": "milvus", "QA_MILVUS_URI": str(tmp_path / "lite.db")},
        index_dir=tmp_path / "index",
    )


@pytest.fixture
def qa(capsys: pytest.CaptureFixture[str], milvus: Settings) -> Run:
    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        status = main([*args, "--index", str(milvus.index_dir)])
        return status, capsys.readouterr().out

    return run


def answer(qa: Run, question: str) -> dict[str, Any]:
    status, out = qa("ask", question, "--json")
    assert status == 0, out
    return dict(json.loads(out))


def quoted(answer: dict[str, Any]) -> bool:
    """Whether the demo answer's sentence is among the quotes (two passages of the demo
    article tie in the fused ranking; Milvus may order the tie either way)."""
    return any(DEMO_ANSWER_START in q["text"] for q in answer["quotes"])


def test_ingest_ask_delete_rebuild_and_repair_through_milvus(
    qa: Run, milvus: Settings, tmp_path: Path
) -> None:
    feed = write_jsonl(tmp_path / "feed.jsonl", [record(i) for i in range(6)])
    assert qa("ingest", str(DEMO_DIR), str(feed))[0] == 0
    assert (Path(str(milvus.milvus_uri))).exists(), "the searches' data lives in Milvus"
    first = answer(qa, DEMO_QUESTION)
    assert quoted(first)
    assert answer(qa, "Dispatch 3 river")["passages"][0]["article_id"] == "r3"

    status, out = qa("doctor", "--json")
    assert status == 0 and json.loads(out)["healthy"], out

    assert qa("delete", "r3", "--yes")[0] == 0
    assert all(p["article_id"] != "r3" for p in answer(qa, "Dispatch 3 river")["passages"])

    assert qa("rebuild")[0] == 0  # a new collection, made live at once
    assert quoted(answer(qa, DEMO_QUESTION))
    assert qa("stats")[0] == 0
    status, out = qa("timeline", "South Korea weapons", "--json")
    assert status == 0 and json.loads(out)["entries"], out

    # Milvus lost everything (a new server, a dropped collection): refilled from the ledger.
    from pymilvus import MilvusClient

    server = MilvusClient(str(milvus.milvus_uri))
    for name in server.list_collections():
        server.drop_collection(name)
    server.close()
    status, out = qa("doctor", "--json")
    assert status == 1 and not json.loads(out)["healthy"], out
    status, out = qa("doctor", "--repair", "--json")
    assert status == 0 and json.loads(out)["problems"] == [], out
    assert quoted(answer(qa, DEMO_QUESTION))


@pytest.fixture
def milvus_engine(milvus: Settings, real_embedder: Embedder) -> Iterator[Any]:
    from index.build import ingest
    from index.sources import read_paths
    from qa.engine import Engine

    ingest(milvus, read_paths([DEMO_DIR], max_bytes=10**7), lambda _m: real_embedder)
    engine = Engine(milvus, lambda _m: real_embedder)
    yield engine
    engine.close()


def test_the_bot_answers_from_milvus(milvus_engine: Any) -> None:
    with BotAPIDouble() as double, bot(double, milvus_engine):
        [reply] = ask(double, DEMO_QUESTION)
    text = strict(reply)
    assert DEMO_ANSWER_START in text and "NATO asked to strengthen South Korea" in text


def test_milvus_fuses_dense_and_keyword_as_the_retriever_does(tmp_path: Path) -> None:
    """Hybrid search inside Milvus (RRFRanker) gives the scores of qa.retriever's own
    reciprocal-rank fusion of the two searches, inside a scope too."""
    from index.backend import Entry
    from index.milvus_backend import MilvusBackend
    from index.records import Scope
    from tests.fakes import HashingEmbedder

    hashing = HashingEmbedder()
    texts = [
        f"Report {i}: {' '.join(w for w in WORDS if zlib.crc32(f'{i}{w}'.encode()) % 3)}"
        for i in range(120)
    ]
    backend = MilvusBackend(str(tmp_path / "hybrid.db"), index_type="FLAT")
    try:
        backend.upsert(
            [
                Entry(i + 1, hashing.embed_query(t), t, f"a{i}", f"2023-01-{1 + i % 28:02d}")
                for i, t in enumerate(texts)
            ]
        )
        backend.commit()
        for question in ("wheat prices in Herat", "border trucks reopened", "flood roads"):
            vector = hashing.embed_query(question)
            for scope in (None, Scope(since="2023-01-10")):
                dense = backend.dense(vector, 20, scope)
                words = backend.keyword(question, 20, scope)
                want: dict[int, float] = {}
                for ranking in (dense, words):
                    for rank, m in enumerate(ranking):
                        want[m.id] = want.get(m.id, 0.0) + 1 / (10 + rank + 1)
                got = {m.id: m.score for m in backend.hybrid(vector, question, 20, scope, 10)}
                assert got.keys() == want.keys(), (question, scope)
                assert all(abs(got[i] - want[i]) < 1e-6 for i in got)
    finally:
        backend.close()


WORDS = [
    "wheat",
    "prices",
    "rose",
    "Herat",
    "border",
    "trucks",
    "reopened",
    "flood",
    "damaged",
    "roads",
    "bridges",
    "talks",
]


def test_an_unreachable_server_is_one_line_naming_it(
    qa: Run, milvus: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert qa("ingest", str(DEMO_DIR))[0] == 0
    monkeypatch.setenv("QA_MILVUS_URI", "http://127.0.0.1:9")  # nothing listens there
    capsys.readouterr()
    status = main(["ask", DEMO_QUESTION, "--index", str(milvus.index_dir)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: Milvus at http://127.0.0.1:9 (QA_MILVUS_URI): ")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("where", ["before the ledger's commit", "after the ledger's commit"])
def test_a_write_killed_midway_leaves_milvus_level_with_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The ledger commits first, then Milvus's marker. Killed before the ledger's commit,
    the next writer undoes Milvus's pending rows (deletions too); killed between the two, it
    commits them. Either way the answers and `qa doctor` agree with the ledger."""
    from index.build import ingest
    from index.doctor import check
    from index.milvus_backend import MilvusBackend
    from index.records import Article
    from index.writer import IndexWriter
    from qa.engine import Engine
    from tests.fakes import HashingEmbedder

    hashing = HashingEmbedder()
    settings = Settings.from_env(
        {"QA_BACKEND": "milvus", "QA_MILVUS_URI": str(tmp_path / "lite.db")},
        index_dir=tmp_path / "index",
    )

    def article(n: int, text: str = "") -> Article:
        return Article(id=f"a{n}", title=f"Story {n}", text=text or f"Harbour {n} reopened.")

    ingest(settings, [article(1), article(2)], lambda _m: hashing)

    class Killed(BaseException):
        pass

    def killed(*_args: Any, **_kw: Any) -> None:
        raise Killed

    if where == "before the ledger's commit":
        monkeypatch.setattr(IndexWriter, "_next_manifest", killed)  # inside the transaction
        monkeypatch.setattr(MilvusBackend, "discard", lambda self: None)  # no time to undo
    else:
        monkeypatch.setattr(MilvusBackend, "commit", killed)
    with pytest.raises(Killed):  # a new article, and a changed one (its old row retired)
        ingest(settings, [article(3), article(2, "Harbour 2 closed again.")], lambda _m: hashing)
    monkeypatch.undo()

    IndexWriter(settings, lambda _m: hashing).close()  # the next writer finishes or undoes
    assert check(settings.index_dir, settings) == []
    ingest(settings, [article(4)], lambda _m: hashing)  # a commit: what was pending goes live
    assert check(settings.index_dir, settings) == []
    engine = Engine(settings, lambda _m: hashing)
    try:
        found = {p.article_id for p in engine.ask("Harbour 3 reopened", k=5).passages}
        text = {p.text for p in engine.ask("Harbour 2", k=5).passages if p.article_id == "a2"}
    finally:
        engine.close()
    if where == "before the ledger's commit":
        assert found == {"a1", "a2", "a4"} and text == {"Harbour 2 reopened."}
    else:
        assert found == {"a1", "a2", "a3", "a4"} and text == {"Harbour 2 closed again."}


def test_an_index_is_searched_by_its_own_backend_and_moved_by_repair(
    qa: Run, milvus: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An index written locally is not searched through Milvus by mistake (an empty answer
    would look like none): the message says how to move it, `qa doctor --repair --backend
    milvus` moves it without embedding, and then the local backend is the wrong one."""
    monkeypatch.setenv("QA_BACKEND", "local")
    assert qa("ingest", str(DEMO_DIR))[0] == 0
    monkeypatch.setenv("QA_BACKEND", "milvus")
    capsys.readouterr()
    assert main(["ask", DEMO_QUESTION, "--index", str(milvus.index_dir)]) == 2
    err = capsys.readouterr().err
    assert "searched by its local backend, not milvus" in err
    assert f"qa doctor --repair --backend milvus --index {milvus.index_dir}" in err
    status, out = qa("doctor", "--repair")
    assert status == 0 and "healthy" in out, out
    assert quoted(answer(qa, DEMO_QUESTION))
    assert main(["ask", DEMO_QUESTION, "--index", str(milvus.index_dir), "--backend", "local"]) == 2
    assert "searched by its milvus backend, not local" in capsys.readouterr().err


def test_an_index_is_opened_with_its_own_backend_when_none_is_named(
    qa: Run, milvus: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --backend or QA_BACKEND, a command follows the index's manifest: asking a
    Milvus index answers from Milvus, and `qa doctor --repair` repairs it there instead of
    moving it to the local backend."""
    assert qa("ingest", str(DEMO_DIR))[0] == 0
    monkeypatch.delenv("QA_BACKEND")
    assert quoted(answer(qa, DEMO_QUESTION))
    assert qa("doctor", "--repair")[0] == 0
    manifest = json.loads((milvus.index_dir / "manifest.json").read_text())
    assert manifest["backend"] == "milvus" and manifest["search"] == "milvus"


def test_qa_eval_through_milvus_scores_as_locally(
    milvus: Settings,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`qa eval --backend milvus` (its own index folder, the Milvus Lite file inside): the
    same figures as the local backend's on a small SQuAD file."""
    from tests.test_eval import TINY, squad

    monkeypatch.delenv("QA_MILVUS_URI")  # each folder holds its own file
    path = str(squad(tmp_path, TINY))
    figures = {}
    for backend in ("local", "milvus"):
        capsys.readouterr()
        folder = str(tmp_path / backend)
        status = main(["eval", path, "--json", "--backend", backend, "--index", folder])
        out = capsys.readouterr().out
        assert status == 0, out
        figures[backend] = json.loads(out)["metrics"]
    for name in ("hit@1", "hit@5", "quote@1", "false_abstention"):
        assert figures["milvus"][name] == figures["local"][name], name
