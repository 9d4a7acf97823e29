"""The exported model run by OpenVINO: same vectors, sentence vectors and word-pieces as
sentence-transformers, and exports that are broken, partial, stale or for another model are
never used."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from index.embedder import Embedder, resolve_model
from index.export_cache import FORMAT, ExportMeta, cache_root, fingerprint, model_folder
from index.openvino_embedder import ExportedEmbedder, open_export
from index.settings import DEFAULT_MODEL
from tests.conftest import DEMO_DIR

pytestmark = pytest.mark.slow

QUESTIONS = [
    "Why won't South Korea arm Ukraine?",
    "What did the Panthers defense do in the 2015 season?",
    "x",
    "  Ünïcödé, café — naïve résumé ＡＢＣ 東京 😀  ",
    "",
]


def demo_texts() -> list[str]:
    """Real article text: the demo's lines, and the whole article (past 256 word-pieces)."""
    text = next(DEMO_DIR.glob("*.txt")).read_text()
    return [*(line for line in text.splitlines() if line.strip()), text]


@pytest.fixture(scope="session")
def exported(private_cache: Path) -> Path:
    """The session cache with the bundled model exported (as `qa ingest` would leave it)."""
    from index.model_export import ensure_export

    path = ensure_export(DEFAULT_MODEL)
    assert path is not None and path.parent == cache_root()
    return path


@pytest.fixture(scope="session")
def openvino(exported: Path) -> ExportedEmbedder:
    embedder = open_export(DEFAULT_MODEL)
    assert embedder is not None
    return embedder


@pytest.fixture(scope="session")
def float32_embedder() -> Embedder:
    from index.st_embedder import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(DEFAULT_MODEL, dtype="float32")


@pytest.fixture
def cache_copy(exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the exported cache, to break; the export folder in it."""
    root = tmp_path / "cache" / "newsqa" / "exports"
    shutil.copytree(exported, root / exported.name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert cache_root() == root
    return root / exported.name


def test_vectors_equal_sentence_transformers(
    openvino: ExportedEmbedder, float32_embedder: Embedder, real_embedder: Embedder
) -> None:
    texts = [*QUESTIONS, *demo_texts()]
    got, want = openvino.embed_batch(texts), float32_embedder.embed_batch(texts)
    assert got.shape == want.shape == (len(texts), 384) and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert (got * want).sum(axis=1).min() > 0.9999
    # The index holds what ingest wrote (bfloat16 where fast): a float32 query still matches.
    assert (got * real_embedder.embed_batch(texts)).sum(axis=1).min() > 0.999
    assert np.allclose(openvino.embed_query(QUESTIONS[0]), got[0], atol=1e-5)


def test_batches_and_order_do_not_change_vectors(
    openvino: ExportedEmbedder, exported: Path
) -> None:
    texts = demo_texts()[:7]
    whole = openvino.embed_batch(texts)
    meta = ExportMeta.from_json((exported / "meta.json").read_text())
    small = ExportedEmbedder(openvino.name, exported, meta, batch_size=2)
    assert np.allclose(small.embed_batch(texts[::-1])[::-1], whole, atol=1e-5)
    assert np.allclose(np.stack([openvino.embed_query(t) for t in texts]), whole, atol=1e-5)
    assert openvino.embed_batch([]).shape == (0, 384)


def test_token_spans_and_sizes_agree(openvino: ExportedEmbedder, torch_embedder: Embedder) -> None:
    texts = [*QUESTIONS, *demo_texts()]
    assert openvino.token_spans(texts) == torch_embedder.token_spans(texts)
    assert openvino.token_spans([]) == []
    assert (openvino.name, openvino.dimension, openvino.max_tokens) == (
        torch_embedder.name,
        torch_embedder.dimension,
        torch_embedder.max_tokens,
    )


def test_meta_records_the_model_modules(exported: Path) -> None:
    meta = ExportMeta.from_json((exported / "meta.json").read_text())
    folder = Path(resolve_model(DEFAULT_MODEL)).resolve()
    assert meta.supported and meta.format == FORMAT and meta.folder == str(folder)
    assert (meta.dimension, meta.max_seq_length) == (384, 256)
    assert set(meta.input_names) == {"input_ids", "attention_mask", "token_type_ids"}
    assert dict(meta.sizes)["model.bin"] > 80_000_000
    assert not list(cache_root().glob(".*.tmp"))  # the temporary folder was renamed in


def test_truncated_weights_are_discarded(
    cache_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = cache_copy / "model.bin"
    with data.open("r+b") as f:
        f.truncate(data.stat().st_size // 2)
    with caplog.at_level(logging.WARNING):
        assert open_export(DEFAULT_MODEL) is None
    assert "model.bin has" in caplog.text and not cache_copy.exists()


def test_wrong_weights_of_the_right_size_are_discarded(
    cache_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Weights changed in place (a bit rot, a bad copy): the graph loads, the canary fails."""
    data = cache_copy / "model.bin"
    weights = bytearray(data.read_bytes())
    data.unlink()  # the copy's files are hard links to the session's export
    # The largest float32 constant the graph names (the word-piece embeddings), not the
    # small integer constants between the matrices, which would stop it from loading at all.
    consts = re.findall(
        r'element_type="f32"[^>]*?offset="(\d+)" size="(\d+)"',
        (cache_copy / "model.xml").read_text(),
    )
    offset, size = max(((int(o), int(n)) for o, n in consts), key=lambda c: c[1])
    noise = np.random.default_rng(0).normal(0, 0.5, size // 4).astype(np.float32)
    weights[offset : offset + size] = noise.tobytes()
    data.write_bytes(bytes(weights))
    with caplog.at_level(logging.WARNING):
        assert open_export(DEFAULT_MODEL) is None
    assert "disagree" in caplog.text and not cache_copy.exists()


def test_garbage_graph_is_discarded(cache_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    graph = cache_copy / "model.xml"
    size = graph.stat().st_size
    graph.write_bytes(b"<not a model/>" * (size // 14) + b" " * (size % 14))
    with caplog.at_level(logging.WARNING):
        assert open_export(DEFAULT_MODEL) is None
    assert "does not load" in caplog.text and not cache_copy.exists()


def test_half_written_export_is_not_used(cache_copy: Path) -> None:
    """Without meta.json (written last) a folder is not an export; temporary folders neither."""
    (cache_copy / "meta.json").unlink()
    assert open_export(DEFAULT_MODEL) is None
    tmp = cache_copy.parent / f".{cache_copy.name}.123.ab.tmp"
    cache_copy.rename(tmp)
    assert open_export(DEFAULT_MODEL) is None


def test_export_for_another_model_or_format_is_discarded(
    cache_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    meta = json.loads((cache_copy / "meta.json").read_text())
    for change in ({"key": "0" * 32}, {"format": FORMAT + 1}):
        shutil.copytree(cache_copy, cache_copy.with_suffix(".keep"))
        (cache_copy / "meta.json").write_text(json.dumps({**meta, **change}))
        with caplog.at_level(logging.WARNING):
            assert open_export(DEFAULT_MODEL) is None
        assert "another model or format" in caplog.text and not cache_copy.exists()
        cache_copy.with_suffix(".keep").rename(cache_copy)
    assert open_export(DEFAULT_MODEL) is not None


def test_unreadable_meta_is_discarded(cache_copy: Path, caplog: pytest.LogCaptureFixture) -> None:
    (cache_copy / "meta.json").write_text('{"format": 1, "key": ')
    with caplog.at_level(logging.WARNING):
        assert open_export(DEFAULT_MODEL) is None
    assert "unreadable" in caplog.text and not cache_copy.exists()


def test_fingerprint_follows_every_file(tmp_path: Path) -> None:
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    first = fingerprint(tmp_path)
    assert fingerprint(tmp_path) == first
    st = (tmp_path / "model.safetensors").stat()
    os.utime(tmp_path / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    second = fingerprint(tmp_path)
    (tmp_path / "1_Pooling" / "config.json").write_text('{"a": 1}')
    third = fingerprint(tmp_path)
    assert len({first, second, third}) == 3
    assert model_folder(str(tmp_path)) == tmp_path.resolve()
    assert model_folder("no-such/model-anywhere") is None  # not in the Hugging Face cache


def linked_model(tmp_path: Path, config: dict[str, object] | None = None) -> Path:
    """A copy of the bundled model folder made of symlinks, with its own fingerprint."""
    source = Path(resolve_model(DEFAULT_MODEL))
    folder = tmp_path / "model"
    shutil.copytree(source, folder, copy_function=os.symlink)
    if config is not None:
        target = folder / "config_sentence_transformers.json"
        target.unlink()
        target.write_text(json.dumps(config))
    return folder


def test_model_with_a_prompt_is_not_exported_and_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from index.model_export import ensure_export
    from index.models import load_embedder
    from index.settings import Settings
    from index.st_embedder import SentenceTransformerEmbedder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = linked_model(
        tmp_path, {"prompts": {"query": "query: "}, "default_prompt_name": "query"}
    )
    with caplog.at_level(logging.INFO):
        assert ensure_export(str(folder)) is None
    assert "prefixes texts with the prompt 'query: '" in caplog.text
    meta = ExportMeta.from_json((cache_root() / fingerprint(folder) / "meta.json").read_text())
    assert not meta.supported and not (cache_root() / fingerprint(folder) / "model.xml").exists()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        made = load_embedder(Settings.from_env({}, index_dir=tmp_path))(str(folder))
    assert isinstance(made, SentenceTransformerEmbedder)
    assert "cannot be exported" in caplog.text and "sentence-transformers (torch)" in caplog.text


def test_export_that_disagrees_is_discarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A graph whose vectors differ from sentence-transformers' is never installed."""
    from index.model_export import ensure_export

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = linked_model(tmp_path)
    real_embed = ExportedEmbedder.embed_batch

    def skewed(self: ExportedEmbedder, *args: Any, **kw: Any) -> np.ndarray:
        vectors = real_embed(self, *args, **kw)
        vectors[:, :20] += 0.05  # a small, systematic error
        return vectors

    monkeypatch.setattr(ExportedEmbedder, "embed_batch", skewed)
    with caplog.at_level(logging.WARNING):
        assert ensure_export(str(folder)) is None
    assert "disagree with sentence-transformers" in caplog.text
    key = fingerprint(folder)
    assert sorted(p.name for p in cache_root().iterdir()) == [key]
    assert sorted(p.name for p in (cache_root() / key).iterdir()) == ["meta.json"]
    assert open_export(str(folder)) is None  # the marker: not tried again


def test_stale_export_of_a_changed_model_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exported: Path
) -> None:
    """A model folder that changed has a new key; its old export is removed at the next one."""
    from index.model_export import remove_partial, remove_stale

    root = tmp_path / "cache" / "newsqa" / "exports"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    shutil.copytree(exported, root / ("0" * 32), copy_function=os.link)
    (root / ".dead.1.ff.tmp").mkdir()
    os.utime(root / ".dead.1.ff.tmp", (0, 0))
    assert open_export(DEFAULT_MODEL) is None  # the folder has another name than the key
    shutil.copytree(exported, root / exported.name, copy_function=os.link)
    meta = ExportMeta.from_json((exported / "meta.json").read_text())
    remove_stale(root, Path(meta.folder), exported.name)
    remove_partial(root)  # and the temporary folder of a run long gone
    assert [p.name for p in root.iterdir()] == [exported.name]
    assert open_export(DEFAULT_MODEL) is not None


def test_engine_answers_through_the_export(
    exported: Path, demo_index: Path, real_factory: Callable[[str], Embedder]
) -> None:
    from index.settings import Settings
    from qa.engine import Engine
    from tests.conftest import DEMO_ANSWER_START, DEMO_QUESTION

    engine = Engine(Settings.from_env({}, index_dir=demo_index))
    reference = Engine(Settings.from_env({}, index_dir=demo_index), real_factory)
    try:
        assert isinstance(engine.embedder, ExportedEmbedder)
        answer, want = engine.ask(DEMO_QUESTION), reference.ask(DEMO_QUESTION)
        assert DEMO_ANSWER_START in " ".join(answer.quotes[0].text.split())
        assert [q.text for q in answer.quotes] == [q.text for q in want.quotes]
        assert [p.chunk_id for p in answer.passages] == [p.chunk_id for p in want.passages]
    finally:
        engine.close()
        reference.close()
