"""Hostile questions through the whole answer path: never an exception, always an answer or
a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.build import ingest
from index.settings import Settings
from index.sources import read_paths
from qa.answer import MAX_QUESTION_CHARS, EmptyQuestion, Question
from qa.engine import Engine
from tests.conftest import DEMO_DIR
from tests.fakes import HashingEmbedder

NASTY = [
    "NEAR(ukraine korea, 2)",
    "title:korea",
    "korea*",
    '"unbalanced',
    "AND OR NOT",
    "'; DROP TABLE articles; --",
    "1 OR 1=1",
    "^korea",
    "korea -ukraine",
    "(((",
    "))",
    "{col1 col2}: x",
    "\x00\x01\x1b[31m",
    "\u202e\u200f\u200c\ufeff",
    "🤖" * 50,
    "ي ك ی ک",
    "%s %d {0} {}",
    "\\",
    "*",
    "-",
    ":",
    '"',
    "NEAR",
    "a" * 5000,
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    folder = tmp_path_factory.mktemp("hostile") / "index"
    s = Settings.from_env({}, index_dir=folder)
    ingest(s, read_paths([DEMO_DIR], max_bytes=10**7), lambda _m: HashingEmbedder())
    e = Engine(s, lambda _m: HashingEmbedder())
    yield e
    e.close()


def answered(engine: Engine, text: str) -> None:
    try:
        answer = engine.ask(text)
    except EmptyQuestion as e:
        assert "empty" in str(e)
        return
    assert len(answer.question) <= MAX_QUESTION_CHARS
    for q in answer.quotes:
        assert q.text and q.start < q.end


@pytest.mark.parametrize("text", NASTY)
def test_fts_and_sql_looking_questions(engine: Engine, text: str) -> None:
    answered(engine, text)


def test_overlong_question_is_cut(engine: Engine) -> None:
    text = "Why won't South Korea arm Ukraine? " * 3000  # over 100,000 characters
    assert len(text) > 100_000
    assert Question.parse(text).truncated
    answer = engine.ask(text)
    assert len(answer.question) == MAX_QUESTION_CHARS
    assert answer.passages


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
    | st.lists(st.sampled_from([*NASTY, "korea", "ukraine", "NATO"]), max_size=8).map(" ".join)
)
def test_any_unicode_question(engine: Engine, text: str) -> None:
    answered(engine, text)


def test_no_sql_is_built_from_user_text() -> None:
    """Every execute() takes a literal or a string built only from '?' placeholders."""
    import ast

    root = Path(__file__).resolve().parent.parent
    for path in [*root.glob("index/*.py"), *root.glob("qa/**/*.py"), *root.glob("bot/**/*.py")]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"execute", "executemany", "executescript"}
            ):
                continue
            sql = node.args[0] if node.args else None
            if isinstance(sql, ast.JoinedStr):
                names = {n.id for n in ast.walk(sql) if isinstance(n, ast.Name)}
                assert names <= {"marks", "where", "CHUNK_COLUMNS"}, f"{path.name}:{node.lineno}"
            else:
                assert isinstance(sql, ast.Constant | ast.Name), f"{path.name}:{node.lineno}"


def test_qa_and_bot_reach_the_index_only_through_its_reader() -> None:
    """qa/ and bot/ import no SQLite or FAISS module and never reach past the reader into
    its store: what they need of an index is a public method of index.reader."""
    import ast

    root = Path(__file__).resolve().parent.parent
    forbidden = {
        "sqlite3",
        "faiss",
        "index.store",
        "index.vectors",
        "index.schema",
        "index.local_backend",
        "index.keyword_search",
        "index.days",
        "index.catalog",
        "index.migrate",
    }
    for path in [*root.glob("qa/**/*.py"), *root.glob("bot/**/*.py")]:
        where = path.relative_to(root)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names = {node.module or ""}
            else:
                names = set()
            assert not names & forbidden, f"{where}:{node.lineno} imports {names & forbidden}"
            reached = {"store", "search", "_db", "_vectors", "connection"}
            if isinstance(node, ast.Attribute) and node.attr in reached:
                inner = node.value
                owner = inner.attr if isinstance(inner, ast.Attribute) else getattr(inner, "id", "")
                assert owner != "reader", f"{where}:{node.lineno} reaches into the reader"
