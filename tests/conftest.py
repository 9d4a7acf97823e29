"""Shared fixtures: the real bundled model loaded once, indexes built in tmp_path."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no test may reach a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from index.embedder import Embedder
from index.settings import Settings
from tests.fakes import HashingEmbedder

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "examples" / "demo"
DEMO_QUESTION = "Why won't South Korea arm Ukraine?"
DEMO_ANSWER_START = "Despite this, South Korean President Yoon Seok-yul"


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A per-user cache of this session's own (XDG_CACHE_HOME): model exports go there."""
    folder = tmp_path_factory.mktemp("user-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(folder))
        yield folder


@pytest.fixture(scope="session")
def real_embedder(private_cache: Path) -> Embedder:
    """The bundled all-MiniLM-L6-v2 as `qa ingest` embeds with it (its export, run by
    OpenVINO in bfloat16 where that is fast), made and loaded once per test session."""
    from index.models import load_embedder
    from index.openvino_embedder import ExportedEmbedder
    from index.settings import DEFAULT_MODEL

    embedder = load_embedder(Settings.from_env({}), writing=True)(DEFAULT_MODEL)
    assert isinstance(embedder, ExportedEmbedder), "the bundled model has an export"
    return embedder


@pytest.fixture(scope="session")
def torch_embedder() -> Embedder:
    """The bundled model through sentence-transformers (torch): the fallback for models that
    cannot be exported, and the reference the export is checked against."""
    from index.settings import DEFAULT_MODEL
    from index.st_embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(DEFAULT_MODEL)


@pytest.fixture
def real_factory(real_embedder: Embedder) -> Callable[[str], Embedder]:
    """An embedder factory handing out the shared real model (for the default model name)."""

    def make(model: str) -> Embedder:
        assert model == real_embedder.name, f"tests only have the bundled model, not {model}"
        return real_embedder

    return make


@pytest.fixture
def hashing() -> HashingEmbedder:
    return HashingEmbedder()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, index_dir=tmp_path / "index")


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory: pytest.TempPathFactory, real_embedder: Embedder) -> Path:
    """An index of the bundled demo corpus built with the real model; copy before writing."""
    from index.build import ingest
    from index.sources import read_paths

    folder = tmp_path_factory.mktemp("demo") / "index"
    s = Settings.from_env({}, index_dir=folder)
    report = ingest(s, read_paths([DEMO_DIR], max_bytes=10**7), lambda _m: real_embedder)
    assert report.added == 1 and report.failed == 0
    return folder


@pytest.fixture
def demo_copy(demo_index: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the demo index."""
    target = tmp_path / "demo-index"
    shutil.copytree(demo_index, target, ignore=shutil.ignore_patterns(".lock"))
    return target


@pytest.fixture
def hashing_demo_engine(tmp_path: Path) -> Iterator[object]:
    """An Engine over the demo corpus indexed with the hashing embedder (fast, not the model)."""
    from index.build import ingest
    from index.sources import read_paths
    from qa.engine import Engine

    hashing = HashingEmbedder()
    s = Settings.from_env({}, index_dir=tmp_path / "hashing-index")
    ingest(s, read_paths([DEMO_DIR], max_bytes=10**7), lambda _m: hashing)
    e = Engine(s, make_embedder=lambda _m: hashing)
    yield e
    e.close()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No TELEGRAM_* or QA_* variables, and a working folder without a .env file."""
    for var in list(os.environ):
        if var.startswith(("TELEGRAM_", "QA_")):
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    return tmp_path
